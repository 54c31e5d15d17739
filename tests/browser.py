"""Playwright driving Debian's Chromium against a live server of the test app.

Where no Chromium is installed the browser tests skip with the reason;
HEARTH_REQUIRE_BROWSER=1 (set by .ci/run) turns that skip into a failure."""

from __future__ import annotations

import os
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.mailbox import free_port

CHROMIUM = os.environ.get("HEARTH_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def require_browser() -> None:
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("HEARTH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests must run here: {reason}")
    pytest.skip(reason)


@contextmanager
def live_server(app):
    """Serve `app` on a free port; its emails link to this server meanwhile."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    saved = app.config["BASE_URL"]
    app.config["BASE_URL"] = url
    try:
        yield url
    finally:
        app.config["BASE_URL"] = saved
        server.shutdown()
        thread.join(5)


@contextmanager
def chromium_page(timezone_id: str = "Europe/Berlin", **context_options):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            context = browser.new_context(timezone_id=timezone_id, **context_options)
            page = context.new_page()
            page.set_default_timeout(15000)
            yield page
        finally:
            browser.close()


def sign_in_by_email(page, url: str, smtp, drain, email: str) -> None:
    """Ask for a sign-in link at /login, open it from the captured email,
    press Continue: the page is then on /me."""
    page.goto(f"{url}/login")
    page.fill("#email", email)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your email")
    drain()
    received = smtp.wait_for(to=email, subject="sign-in link")
    page.goto(re.search(rf"{re.escape(url)}/auth/\S+", received.text).group(0))
    page.click("text=Continue")
    page.wait_for_url(f"{url}/me")
