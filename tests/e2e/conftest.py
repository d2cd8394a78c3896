"""Browser fixtures: Debian's Chromium driven by Playwright against a live server of the test app."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from lms.services.content import sync_tree
from tests.conftest import IN_CI

CHROMIUM = os.environ.get("LMS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Not under test-results/: pytest-playwright empties that folder at the start of every run.
SCREENSHOTS = Path(os.environ.get("LMS_SCREENSHOT_DIR", "test-screenshots"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch the system Chromium: the machines here cannot download Playwright's browser."""
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set LMS_CHROMIUM)"
        if IN_CI:
            pytest.fail(f"browser tests are required in CI: {message}")
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


# The repository's own demo content, as `make run` serves it.
REPO_CONTENT = Path(__file__).resolve().parents[2] / "content"


@pytest.fixture
def live_server(app):
    """The test app served over HTTP on a free loopback port, in a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def screenshot(request):
    """``screenshot(page, name)`` saves a full-page PNG under test-screenshots/ (LMS_SCREENSHOT_DIR)."""
    database = request.node.callspec.params.get("database_url", "db") if hasattr(request.node, "callspec") else "db"

    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{database}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def demo_site(app, live_server):
    """The live server with the repository's demo content synced."""
    result = sync_tree(REPO_CONTENT)
    assert result.errors == [], result.errors
    return live_server
