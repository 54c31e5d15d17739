"""Bad input gets a clear reason next to its field, and nothing is half-saved."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import Organisation, Person
from app.extensions import db
from tests.forms import client_from, submit
from tests.story import CHAMPION, sign_up


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("name", "", "Please tell us your name."),
        ("name", "x" * 121, "Field cannot be longer than 120 characters."),
        ("name", "Ada\r\nBcc: victim@example.org", "Please keep this on one line."),
        ("email", "", "We need an email address to reach you."),
        ("email", "ada-at-example.org", "That does not look like an email address"),
        ("email", "ada@example..org", "That does not look like an email address"),
        ("email", "ada@example.org\nBcc: x@y.z", "That does not look like an email address"),
        ("timezone", "", "Please choose your time zone."),
        ("timezone", "Mars/Olympus_Mons", "Please choose a time zone from the list"),
        ("organisation", "", "Please name the organisation you bring sociocracy into."),
        ("organisation", "Co-op\nX-Evil: 1", "Please keep this on one line."),
        ("organisation_kind", "", "Please choose the kind of organisation."),
        ("organisation_kind", "cult", "Not a valid choice"),
        ("organisation_size", "", "Please choose roughly how many people it has."),
        ("language", "tlh", "Not a valid choice"),
        ("situation", "y" * 4001, "Please keep this under 4,000 characters."),
        ("consent", None, "please agree to receive the programme's emails"),
    ],
)
def test_each_invalid_field_is_explained_and_nothing_saved(client, app, field, value, reason):
    data = dict(CHAMPION)
    if value is None:
        data.pop(field)
    else:
        data[field] = value
    response = submit(client, "/signup", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert reason.replace("'", "&#39;") in page or reason in page
    assert 'aria-invalid="true"' in page
    # What was typed elsewhere is kept, so nothing has to be typed twice.
    if field != "organisation":
        assert "Riverside Food Co-op" in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Person.id))) == 0
        assert db.session.scalar(select(func.count(Organisation.id))) == 0


def test_rate_limit_per_address(client, app):
    limit = int(app.config["RATELIMIT_AUTH_PER_ADDRESS"].split()[0])
    for i in range(limit):
        fresh = client_from(app, f"10.0.0.{i + 1}")
        assert sign_up(fresh).status_code == 200
    other_ip = client_from(app, "10.0.1.1")
    blocked = sign_up(other_ip)
    assert blocked.status_code == 429
    assert "too many attempts" in blocked.get_data(as_text=True)
    # Another address from that IP is still welcome.
    assert sign_up(other_ip, email="someone.else@example.org").status_code == 200


def test_rate_limit_per_ip_counts_signup_and_login_together(client, app):
    per_minute = int(app.config["RATELIMIT_AUTH_PER_IP"].split(";")[1].split()[0])
    for i in range(per_minute):
        if i % 2:
            response = submit(client, "/login", {"email": f"p{i}@example.org"})
        else:
            response = sign_up(client, email=f"p{i}@example.org")
        assert response.status_code == 200, i
    assert submit(client, "/login", {"email": "late@example.org"}).status_code == 429
    assert client.get("/signup").status_code == 200  # reading the form is never limited


def test_same_answer_for_unknown_address_even_when_limited(app):
    limit = int(app.config["RATELIMIT_AUTH_PER_ADDRESS"].split()[0])
    statuses = []
    for i in range(limit + 1):
        fresh = client_from(app, f"10.2.0.{i + 1}")
        statuses.append(submit(fresh, "/login", {"email": "nobody@example.org"}).status_code)
    assert statuses == [200] * limit + [429]
