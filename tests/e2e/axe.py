"""axe-core accessibility checks in a Playwright page.

The axe engine is the ``axe.min.js`` shipped by the PyPI package axe-playwright-python. The site sends
``Content-Security-Policy: script-src 'self'``, so an inline ``<script>`` added with ``page.add_script_tag``
is refused by the browser; ``page.evaluate`` runs through the DevTools protocol, which CSP does not
govern, so the engine is defined that way instead (and the CSP of the page under test stays intact).
"""
from __future__ import annotations

import pathlib
from functools import lru_cache

import axe_playwright_python

BLOCKING_IMPACTS = ("serious", "critical")


@lru_cache(maxsize=1)
def axe_source() -> str:
    path = pathlib.Path(axe_playwright_python.__file__).with_name("axe.min.js")
    return path.read_text(encoding="utf-8")


def inject_axe(page) -> None:
    """Define ``window.axe`` in the page, unless it is already there."""
    if page.evaluate("typeof window.axe !== 'undefined'"):
        return
    try:
        page.add_script_tag(content=axe_source())
    except Exception:  # noqa: BLE001 - a refused inline script may surface as an error; fall back below
        pass
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # CSP (script-src 'self') blocked the inline script: evaluate is not subject to CSP.
        page.evaluate(axe_source())
    assert page.evaluate("typeof window.axe !== 'undefined'"), "could not load axe-core into the page"


def run_axe(page) -> list[dict]:
    """Every axe violation of the current page (id, impact, help, helpUrl, nodes)."""
    inject_axe(page)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return results["violations"]


def format_violation(violation: dict) -> str:
    nodes = violation.get("nodes") or []
    target = nodes[0]["target"][0] if nodes and nodes[0].get("target") else "?"
    html = (nodes[0].get("html") or "").strip() if nodes else ""
    more = f" (+{len(nodes) - 1} more)" if len(nodes) > 1 else ""
    return (f"- {violation['id']} [{violation.get('impact')}]: {violation.get('help')}\n"
            f"    first target: {target}{more}\n    html: {html[:200]}")


def assert_no_serious_violations(page, context: str) -> None:
    """Fail, listing every serious or critical axe violation of the page as it is now."""
    violations = run_axe(page)
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        details = "\n".join(format_violation(v) for v in blocking)
        raise AssertionError(
            f"{len(blocking)} serious/critical accessibility violation(s) on {context} ({page.url}):\n{details}")
