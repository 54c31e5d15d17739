"""A person signs up in a real browser, opens the emailed link, presses
Continue and lands on /me. Screenshots are kept under tests/artifacts/."""

from __future__ import annotations

import re

import pytest

from tests.browser import ARTIFACTS, chromium_page, live_server, require_browser

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _browser():
    require_browser()


def test_sign_up_confirm_and_land_on_me(app, smtp, drain):
    with live_server(app) as url, chromium_page(viewport={"width": 1200, "height": 900}) as page:
        page.goto(f"{url}/signup")
        assert page.input_value("#timezone") == "Europe/Berlin"  # pre-filled from the browser

        page.click("button[type=submit]")  # empty form: every reason next to its field
        assert page.locator(".error-summary").is_visible()
        assert page.locator("#name-error").inner_text() == "Please tell us your name."
        page.screenshot(path=str(ARTIFACTS / "signup-errors.png"), full_page=True)

        page.fill("#name", "Ada Okafor")
        page.fill("#email", "ada@example.org")
        page.fill("#organisation", "Riverside Food Co-op")
        page.select_option("#organisation_kind", "cooperative")
        page.select_option("#organisation_size", "10-49")
        page.select_option("#could_pay_consultant", "no")
        page.fill("#situation", "Our board wants to try sociocracy; half the members are sceptical.")
        page.check("#consent")
        page.screenshot(path=str(ARTIFACTS / "signup.png"), full_page=True)
        page.click("button[type=submit]")
        page.wait_for_selector("text=Check your email")

        drain()
        email = smtp.wait_for(to="ada@example.org", subject="Confirm")
        link = re.search(rf"{re.escape(url)}/auth/\S+", email.text).group(0)

        page.goto(link)
        page.screenshot(path=str(ARTIFACTS / "continue.png"), full_page=True)
        page.click("text=Continue")
        page.wait_for_url(f"{url}/me")
        assert page.locator("h1").inner_text() == "Hello, Ada"
        page.screenshot(path=str(ARTIFACTS / "me.png"), full_page=True)


def test_phone_sized_signup_page_has_no_sideways_scroll(app):
    with live_server(app) as url, chromium_page(viewport={"width": 375, "height": 740}) as page:
        page.goto(f"{url}/signup")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(ARTIFACTS / "signup-phone.png"), full_page=True)
