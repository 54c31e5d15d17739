"""Unsubscribe per stream or from all: the page's GET changes nothing; the
RFC 8058 one-click POST needs no session and is idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.accounts.models import Person
from app.extensions import db
from app.outbox import unsubscribes
from app.outbox.models import Unsubscribe
from tests.forms import submit
from tests.story import signed_up_champion, travel

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def first_email(client, smtp, drain, app):
    clock.set(START)
    signed_up_champion(client, smtp, drain)
    travel(app, drain, START + timedelta(days=2))
    return [m for m in smtp.to("ada@example.org") if "List-Unsubscribe" in m.message][0]


def one_click_url(mail) -> str:
    return mail.message["List-Unsubscribe"].split(",")[0].strip(" <>").replace("http://hearth.test", "")


def rows(app):
    with app.app_context():
        return [(u.stream, u.how) for u in db.session.scalars(select(Unsubscribe))]


def test_get_and_head_change_nothing(first_email, app):
    anonymous = app.test_client()
    path = one_click_url(first_email)
    page = anonymous.get(path)
    assert page.status_code == 200
    assert "Stop the onboarding journey" in page.get_data(as_text=True)
    assert anonymous.head(path).status_code == 200
    assert rows(app) == []


def test_one_click_post_without_session_works_and_is_idempotent(first_email, app, smtp, drain):
    anonymous = app.test_client()
    path = one_click_url(first_email)
    for _ in range(2):
        response = anonymous.post(path, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert response.get_json() == {"unsubscribed": "onboarding"}
    assert rows(app) == [("onboarding", "one-click")]
    travel(app, drain, START + timedelta(weeks=11))
    onboarding = [m for m in smtp.to("ada@example.org") if "onboarding" in (m.message["List-Id"] or "")]
    assert len(onboarding) == 1  # nothing after the first


def test_a_forged_token_is_refused(first_email, app):
    path = one_click_url(first_email)
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    response = app.test_client().post(forged, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    with app.app_context():
        other = unsubscribes.token_for(999, "all")
    tampered = f"/unsubscribe/{other[:-2]}xx"
    assert app.test_client().post(tampered, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert rows(app) == []


def test_the_page_form_needs_its_csrf_token(first_email, app):
    anonymous = app.test_client()
    path = one_click_url(first_email)
    assert anonymous.post(path, data={"scope": "all"}).status_code == 400
    assert rows(app) == []
    done = submit(anonymous, path, {"scope": "all"})
    assert done.status_code == 200
    assert "every Hearth programme email" in done.get_data(as_text=True)
    assert rows(app) == [("all", "page")]


def test_sign_in_links_still_arrive_after_unsubscribing_from_all(first_email, app, smtp, drain):
    anonymous = app.test_client()
    submit(anonymous, one_click_url(first_email), {"scope": "all"})
    submit(anonymous, "/login", {"email": "ada@example.org"})
    drain()
    assert smtp.to("ada@example.org")[-1].subject == "Your sign-in link for Hearth"


def test_a_deleted_account_s_link_says_so(first_email, app):
    with app.app_context():
        from app.accounts import service

        service.delete_account(Person.by_email("ada@example.org").id)
        db.session.commit()
    response = app.test_client().get(one_click_url(first_email))
    assert response.status_code == 404
    assert "no account for this link" in response.get_data(as_text=True)
