"""/me: details and preferences, a data export, and deleting an account."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import func, select

from app import clock
from app.accounts import service
from app.accounts.models import Enrollment, LoginToken, Organisation, Person
from app.extensions import db
from app.outbox.models import Delivery
from tests.forms import submit
from tests.story import signed_up_champion

PREFS = {
    "name": "Ada O.",
    "timezone": "America/Chicago",
    "language": "de",
    "organisation": "Riverside Co-op",
    "organisation_kind": "cooperative",
    "organisation_size": "50-249",
    "situation": "We held our first consent round.",
    "paused_until": "",
}


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/me")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/me"


def test_edit_details_and_preferences(client, smtp, drain, app):
    signed_up_champion(client, smtp, drain)
    response = submit(client, "/me", PREFS)
    assert response.status_code == 302
    page = client.get("/me").get_data(as_text=True)
    assert "Your details are saved." in page
    with app.app_context():
        person = Person.by_email("ada@example.org")
        assert (person.name, person.timezone, person.language) == ("Ada O.", "America/Chicago", "de")
        assert person.organisation.size == "50-249"
        assert person.paused_until is None


def test_pause_until_a_date(client, smtp, drain, app):
    signed_up_champion(client, smtp, drain)
    until = (clock.now().date() + timedelta(days=21)).isoformat()
    assert submit(client, "/me", {**PREFS, "paused_until": until}).status_code == 302
    assert "emails paused until" in client.get("/me").get_data(as_text=True)
    with app.app_context():
        assert Person.by_email("ada@example.org").paused_until == date.fromisoformat(until)


def test_bad_preferences_are_explained_and_not_saved(client, smtp, drain, app):
    signed_up_champion(client, smtp, drain)
    yesterday = (clock.now().date() - timedelta(days=1)).isoformat()
    for changes, reason in [
        ({"paused_until": yesterday}, "Choose a date after today"),
        ({"paused_until": "2999-01-01"}, "A pause can last up to a year."),
        ({"paused_until": "next tuesday"}, "Not a valid date value."),
        ({"timezone": "Europe/Atlantis"}, "Please choose a time zone from the list"),
        ({"name": ""}, "Please tell us your name."),
    ]:
        response = submit(client, "/me", {**PREFS, **changes})
        assert response.status_code == 422
        assert reason in response.get_data(as_text=True)
    with app.app_context():
        assert Person.by_email("ada@example.org").name == "Ada Okafor"


def test_download_all_my_data(client, smtp, drain):
    signed_up_champion(client, smtp, drain)
    response = client.get("/me/data.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.get_data(as_text=True))
    assert data["person"]["email"] == "ada@example.org"
    assert data["organisation"]["name"] == "Riverside Food Co-op"
    assert data["organisation"]["kind"] == "Cooperative"
    assert data["cohort"]
    assert [e["template"] for e in data["emails"]] == ["confirm_signup"]


def test_delete_needs_the_address_typed(client, smtp, drain, app):
    signed_up_champion(client, smtp, drain)
    assert client.get("/me/delete").status_code == 200
    wrong = submit(client, "/me/delete", {"confirm_email": "someone@example.org"})
    assert wrong.status_code == 422
    assert "That is not the address of this account." in wrong.get_data(as_text=True)
    with app.app_context():
        assert Person.by_email("ada@example.org") is not None


def test_delete_removes_personal_data_and_cancels_pending_mail(client, smtp, drain, app):
    signed_up_champion(client, smtp, drain)
    with app.app_context():
        person = Person.by_email("ada@example.org")
        service.request_login(person.email)  # a sign-in email waiting in the outbox
        db.session.commit()
    response = submit(client, "/me/delete", {"confirm_email": "ADA@example.org"})
    assert response.status_code == 200
    assert "Your account is deleted" in response.get_data(as_text=True)
    assert client.get("/me").status_code == 302
    with app.app_context():
        assert Person.by_email("ada@example.org") is None
        assert db.session.scalar(select(func.count(Organisation.id))) == 0
        assert db.session.scalar(select(func.count(LoginToken.id))) == 0
        assert db.session.scalar(select(func.count(Enrollment.id))) == 0
        rows = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [r.status for r in rows] == ["sent", "cancelled"]
        assert {r.to_email for r in rows} == {"deleted@invalid"}
        assert all(r.person_id is None and r.secret_params is None for r in rows)
    drain()
    assert len(smtp.to("ada@example.org")) == 1  # only the confirmation, sent before


def test_a_buddy_edits_details_without_an_organisation(client, app, smtp, drain):
    from tests.buddies.pairing import make_buddy

    buddy_id = make_buddy(app)
    with client.session_transaction() as session:
        session["person_id"] = buddy_id
    page = client.get("/me").get_data(as_text=True)
    assert "Your organisation" not in page
    response = submit(client, "/me", {"name": "Sam R.", "timezone": "Europe/Paris", "language": "en",
                                      "paused_until": ""})
    assert response.status_code == 302
    with app.app_context():
        person = db.session.get(Person, buddy_id)
        assert (person.name, person.timezone) == ("Sam R.", "Europe/Paris")


def test_the_data_export_includes_circles(client, smtp, drain):
    signed_up_champion(client, smtp, drain)
    data = json.loads(client.get("/me/data.json").get_data(as_text=True))
    assert "circles" in data
