"""A coordinator signs in by magic link in a real browser and works through
the dashboard's main pages; a graduate answers with one click and Submit.
Screenshots are kept under tests/artifacts/ (admin-*.png, survey-*.png)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.surveys import service as surveys
from app.surveys.models import SurveyInvitation, SurveyResponse
from tests.admin.seed import programme
from tests.browser import ARTIFACTS, chromium_page, live_server, require_browser

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _browser():
    require_browser()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, url, smtp, drain) -> None:
    page.goto(f"{url}/admin/")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#email", "cora@example.org")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Check your email")
    drain()
    link = re.search(rf"{re.escape(url)}/auth/\S+", smtp.wait_for(to="cora@example.org").text).group(0)
    page.goto(link)
    page.click("text=Continue")
    page.wait_for_url(f"{url}/admin/")


def test_a_coordinator_works_through_the_dashboard(app, smtp, drain):
    ids = programme(app)
    with live_server(app) as url, chromium_page(viewport={"width": 1280, "height": 900}) as page:
        sign_in(page, url, smtp, drain)
        assert page.locator("h1").inner_text() == "Programme overview"
        funnel = page.locator("#funnel svg rect.bar")
        assert funnel.count() == 4 * 6  # four cohorts, six stages
        assert page.locator("#funnel svg rect.bar[data-label='2027-03'][data-series='confirmed']"
                            ).get_attribute("data-value") == "14"
        assert page.locator("#emails-per-week svg rect.bar").count() == 12
        shot(page, "admin-overview")

        page.click("nav.admin-nav >> text=People")
        page.fill("#q", "okafor")
        page.click("form.search button")
        assert page.locator("table.list tbody tr").count() >= 1
        assert all("Okafor" in name for name in page.locator("table.list tbody td:first-child a").all_inner_texts())
        page.click("nav.admin-nav >> text=Buddies")
        assert page.locator("text=waits for approval").count() == 1
        shot(page, "admin-buddies")
        page.goto(f"{url}/admin/people")
        shot(page, "admin-people")

        page.click("nav.admin-nav >> text=Pairs")
        shot(page, "admin-pairs")
        page.click("nav.admin-nav >> text=Circles")
        assert page.locator("text=Riverside circle").count() >= 1
        shot(page, "admin-circles")
        page.click("nav.admin-nav >> text=At risk")
        assert page.locator("#silence tbody tr").count() == 1
        shot(page, "admin-at-risk")

        page.click("nav.admin-nav >> text=Outbox")
        assert page.locator("text=554 5.7.1 Message rejected: suspected spam").is_visible()
        shot(page, "admin-outbox")
        page.click("table.list >> text=Retry")
        assert page.locator(".flash").inner_text().endswith("is queued again.")

        page.click("nav.admin-nav >> text=Inbound")
        assert page.locator("pre.mailtext").first.inner_text().startswith("We met on Tuesday")
        shot(page, "admin-inbound")

        page.click("nav.admin-nav >> text=Surveys")
        assert page.locator("#responses").inner_text() == "9"
        assert page.locator("#q-recommend .nps").inner_text() == "+33"  # 5 promoters, 2 detractors of 9
        shot(page, "admin-surveys")

        page.click("nav.admin-nav >> text=Content")
        page.click("text=graduation_invite")
        frame = page.frame_locator("iframe.mailframe")
        assert frame.locator("text=How much did Hearth help you").is_visible()
        shot(page, "admin-content")
        page.click("text=Send me a test")
        assert "is on its way to cora@example.org" in page.locator(".flash").inner_text()

        page.goto(f"{url}/admin/people/{ids['ada']}")
        shot(page, "admin-person")


def test_a_graduate_answers_with_one_click_and_submit(app, smtp, drain):
    ids = programme(app)
    champion = ids["champions"][-1][0]
    with app.app_context():
        surveys.graduate(champion, how="coordinator")
        db.session.commit()
    with live_server(app), chromium_page(viewport={"width": 390, "height": 844}) as page:
        with app.app_context():
            invitation = db.session.scalar(select(SurveyInvitation).where(SurveyInvitation.person_id == champion))
            link = surveys.survey_url(invitation.id, answer="2")
        page.goto(link)
        assert page.locator("input[name=q-helped][value='2']").is_checked()
        assert not page.locator("#question-missing").is_hidden()  # 2 or less: "what was missing?"
        assert page.locator("#question-what_stopped").is_hidden()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "survey-one-click-phone")
        page.click("label.scale-option:has(input[value='4'])")
        assert page.locator("#question-missing").is_hidden()
        page.click("#question-recommend label.scale-option:has(input[value='9'])")
        page.click("text=My buddy")
        page.click("text=We stopped")
        assert not page.locator("#question-what_stopped").is_hidden()
        page.fill("#q-what_stopped", "The chair left.")
        page.click("text=Yes, I would like to apply")
        shot(page, "survey-filled-phone")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Your answers are saved")
        shot(page, "survey-thanks-phone")
        page.click("text=Apply to become a buddy")
        assert page.input_value("#email").endswith("@example.org")
        with app.app_context():
            assert db.session.scalar(select(SurveyResponse.survey)) == "graduation"
