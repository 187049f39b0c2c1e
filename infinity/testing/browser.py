"""Browser tests: Playwright for Python driving Debian's Chromium against `live_server`.

Fixtures: `browser` (one headless Chromium per test module), `page` (a fresh context per test)
and `admin_page` (logged in to the admin as the `superuser` fixture). No browser is ever
downloaded: Chromium comes from the system (`apt-get install chromium`, which `.ci/run`
does) or from `INFINITY_CHROMIUM`. Without one, browser tests are skipped and the run's
summary says so plainly.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Flags this machine's closed network needs (no background fetches, no sign-in, no QUIC).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
SKIP_REASON = "browser tests skipped: no Chromium found (apt-get install chromium, or set INFINITY_CHROMIUM)"
_skipped = {"count": 0}


def chromium_executable() -> str | None:
    """The Chromium to drive: INFINITY_CHROMIUM, else the first one on PATH."""
    configured = os.environ.get("INFINITY_CHROMIUM")
    if configured:
        return configured if os.path.exists(configured) else None
    return next((path for path in map(shutil.which, CHROMIUM_CANDIDATES) if path), None)


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module: Playwright's sync API keeps an event loop running in this
    thread while it is started, so it must stop before other modules' tests call asyncio.run()."""
    executable = chromium_executable()
    if executable is None:
        _skipped["count"] += 1
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    # With that loop running, Django refuses ORM calls from this thread unless told they are
    # safe: they are (the test's own calls are synchronous, the server runs in its own thread).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def admin_page(page, live_server, superuser):
    """A page logged in to the admin as `superuser` through the real login form."""
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", superuser.username)
    page.fill("#id_password", "s3cret-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.base_url = live_server.url
    return page


def pytest_terminal_summary(terminalreporter):
    if _skipped["count"]:
        terminalreporter.write_line(f"NOTE: {SKIP_REASON}", yellow=True, bold=True)
