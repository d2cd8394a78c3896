"""axe-core accessibility checks in a Playwright page.

The axe engine is the ``axe.min.js`` shipped by the PyPI package axe-playwright-python. The site sends
``Content-Security-Policy: script-src 'self'``, so an inline ``<script>`` added with ``page.add_script_tag``
is refused by the browser; ``page.evaluate`` runs through the DevTools protocol, which CSP does not
govern, so the engine is defined that way instead: no ``bypass_csp`` context is needed, and the pages
are checked under their real policy.
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
    """Define ``window.axe`` in the page, unless it is already there.

    ``page.add_script_tag(content=...)`` is refused here: Chromium reports "Executing inline script
    violates the following Content Security Policy directive 'script-src 'self''" and Playwright
    raises. ``page.evaluate`` is not subject to CSP, so the page keeps its real policy.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    assert page.evaluate("typeof window.axe?.run === 'function'"), "could not load axe-core into the page"


def run_axe(page) -> list[dict]:
    """Every axe violation of the current page (id, impact, help, helpUrl, nodes)."""
    inject_axe(page)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return results["violations"]


def format_violation(violation: dict) -> str:
    nodes = violation.get("nodes") or []
    target = nodes[0]["target"][0] if nodes and nodes[0].get("target") else "?"
    html = (nodes[0].get("html") or "").strip() if nodes else ""
    summary = " ".join((nodes[0].get("failureSummary") or "").split()) if nodes else ""
    more = f" (+{len(nodes) - 1} more)" if len(nodes) > 1 else ""
    return (f"- {violation['id']} [{violation.get('impact')}]: {violation.get('help')}\n"
            f"    first target: {target}{more}\n    html: {html[:200]}\n    why: {summary[:300]}")


def assert_no_serious_violations(page, context: str) -> None:
    """Fail, listing every serious or critical axe violation of the page as it is now."""
    violations = run_axe(page)
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        details = "\n".join(format_violation(v) for v in blocking)
        raise AssertionError(
            f"{len(blocking)} serious/critical accessibility violation(s) on {context} ({page.url}):\n{details}")
