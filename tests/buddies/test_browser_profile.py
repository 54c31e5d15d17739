"""In a real browser: an approved buddy signs in, opens their buddy profile
from /me and takes a break from new champions. Screenshot under tests/artifacts/."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, chromium_page, live_server, require_browser, sign_in_by_email
from tests.buddies.pairing import make_buddy

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _browser():
    require_browser()


def test_a_buddy_takes_a_break_from_new_champions(app, smtp, drain):
    make_buddy(app, capacity=2)
    with live_server(app) as url, chromium_page(viewport={"width": 1100, "height": 900}) as page:
        sign_in_by_email(page, url, smtp, drain, "sam@example.org")

        page.click("text=edit your buddy profile")
        page.wait_for_url(f"{url}/me/buddy")
        assert page.input_value("#capacity") == "2"
        page.select_option("#capacity", "0")
        page.fill("#bio", "")
        page.click("button[type=submit]")  # an empty introduction: the reason next to it
        assert page.locator("#bio-error").inner_text().startswith("Please write a few sentences")
        page.fill("#bio", "I helped two housing co-ops adopt sociocracy, and I am resting this winter.")
        page.screenshot(path=str(ARTIFACTS / "buddy-profile.png"), full_page=True)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/me")
        assert "No new champions will be proposed to you" in page.locator(".flash").inner_text()
