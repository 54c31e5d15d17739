"""In a real browser: a circle member signs in, finds their calendar link on
/me, and replaces it. Screenshot under tests/artifacts/."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, chromium_page, live_server, require_browser, sign_in_by_email
from tests.circles.conftest import circle, join, person

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _browser():
    require_browser()


def test_a_member_replaces_their_calendar_link_from_me(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor", "Europe/Berlin")
    join(app, circle(app, name="Riverside circle"), ada)
    with live_server(app) as url, chromium_page(viewport={"width": 1100, "height": 900}) as page:
        sign_in_by_email(page, url, smtp, drain, "ada@example.org")

        section = page.locator("#calendar")
        old = section.locator("code").inner_text()
        assert old.startswith(f"{url}/calendar/")
        assert page.request.get(old).status == 200
        section.locator("button", has_text="Make a new calendar link").click()
        page.wait_for_selector(".flash")
        assert "Your calendar has a new link" in page.locator(".flash").inner_text()
        new = page.locator("#calendar code").inner_text()
        assert new != old
        assert page.request.get(old).status == 404
        assert page.request.get(new).status == 200
        page.screenshot(path=str(ARTIFACTS / "me-calendar.png"), full_page=True)
