"""A volunteer applies at /buddies/join, confirms by the emailed link, and a
coordinator approves them on a page or from the shell."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.accounts.models import Person
from app.buddies.models import BuddyProfile
from app.extensions import db
from tests.buddies.pairing import make_buddy, make_champion, make_coordinator
from tests.forms import submit
from tests.story import signed_up_champion

CONFIRM = re.compile(r"http://hearth\.test(/buddies/confirm/[A-Za-z0-9_\-]+)")

VOLUNTEER = {
    "name": "Sam Rivera",
    "email": "Sam@Example.org",
    "timezone": "America/New_York",
    "languages": ["en", "es"],
    "years_experience": "6",
    "organisation_kinds": ["cooperative", "nonprofit"],
    "bio": "I helped two housing co-ops adopt sociocracy.",
    "capacity": "2",
    "consent": "y",
}

ADMIN_PAGES = ["/admin/buddies", "/admin/matches", "/admin/qualification", "/admin/at-risk"]
ADMIN_POSTS = ["/admin/buddies/approve", "/admin/buddies/decline", "/admin/matches/propose",
               "/admin/matches/auto", "/admin/matches/end", "/admin/qualification/override",
               "/admin/at-risk/resolve"]


def profile(app, email="sam@example.org"):
    with app.app_context():
        person = Person.by_email(email)
        found = db.session.scalar(select(BuddyProfile).where(BuddyProfile.person_id == person.id))
        return person.status, person.is_buddy, found.status if found else None


def apply_and_confirm(client, smtp, drain, **changes):
    response = submit(client, "/buddies/join", {**VOLUNTEER, **changes})
    assert response.status_code == 200, response.get_data(as_text=True)
    drain()
    email = smtp.wait_for(to=changes.get("email", VOLUNTEER["email"]).lower(), subject="Confirm your buddy")
    path = CONFIRM.search(email.text).group(1)
    return path


def test_double_opt_in_then_approval_by_the_coordinators_page(app, client, smtp, drain):
    path = apply_and_confirm(client, smtp, drain)
    assert profile(app) == ("applicant", False, "unconfirmed")
    # A GET (a link scanner) changes nothing.
    page = client.get(path)
    assert page.status_code == 200 and "Confirm my application" in page.get_data(as_text=True)
    assert profile(app) == ("applicant", False, "unconfirmed")
    done = submit(client, path, {})
    assert done.status_code == 200 and "with the coordinators" in done.get_data(as_text=True)
    assert profile(app) == ("active", False, "applied")
    # The link works once.
    assert client.get(path).status_code == 410

    coordinator = app.test_client()
    make_coordinator(app, coordinator, smtp, drain)
    listing = coordinator.get("/admin/buddies").get_data(as_text=True)
    assert "Sam Rivera" in listing and "waits for approval" in listing
    with app.app_context():
        sam_id = Person.by_email("sam@example.org").id
    response = submit(coordinator, "/admin/buddies", {"person_id": sam_id}, "/admin/buddies/approve")
    assert response.status_code == 302
    assert "sam@example.org is now a buddy." in coordinator.get("/admin/buddies").get_data(as_text=True)
    assert profile(app) == ("active", True, "approved")
    drain()
    assert smtp.wait_for(to="sam@example.org", subject="Welcome to Hearth's buddies")
    with app.app_context():
        stored = db.session.scalar(select(BuddyProfile))
        assert (stored.languages, stored.organisation_kinds, stored.capacity, stored.years_experience) == (
            ["en", "es"], ["cooperative", "nonprofit"], 2, 6)
        assert Person.by_email("sam@example.org").timezone == "America/New_York"


def test_approval_from_the_shell(app, client, smtp, drain, runner):
    unconfirmed = apply_and_confirm(client, smtp, drain)
    early = runner.invoke(args=["buddies", "approve", "sam@example.org"])
    assert early.exit_code != 0 and "has not confirmed their address yet" in early.output
    submit(client, unconfirmed, {})
    result = runner.invoke(args=["buddies", "approve", "SAM@example.org"])
    assert result.exit_code == 0, result.output
    assert "sam@example.org is now a buddy (up to 2 champions)." in result.output
    again = runner.invoke(args=["buddies", "approve", "sam@example.org"])
    assert again.exit_code == 0 and "already a buddy; nothing changed" in again.output
    unknown = runner.invoke(args=["buddies", "approve", "nobody@example.org"])
    assert unknown.exit_code != 0 and "No one with the address nobody@example.org" in unknown.output
    make_champion(app, email="ada@example.org")
    not_applied = runner.invoke(args=["buddies", "approve", "ada@example.org"])
    assert not_applied.exit_code != 0 and "has not applied to be a buddy" in not_applied.output


def test_the_form_says_what_to_fix_and_keeps_what_was_typed(client):
    response = submit(client, "/buddies/join", {**VOLUNTEER, "languages": [], "capacity": "9",
                                                "years_experience": "-1", "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    for reason in ("Please choose at least one language.", "Not a valid choice",
                   "between 0 and 60", "Please choose a time zone from the list"):
        assert reason in text, reason
    assert 'value="Sam Rivera"' in text


def test_a_known_buddy_applying_again_changes_nothing(app, client, smtp, drain):
    make_buddy(app)
    response = submit(client, "/buddies/join", {**VOLUNTEER, "capacity": "5"})
    assert response.status_code == 200
    drain()
    assert smtp.wait_for(to="sam@example.org", subject="already with us")
    with app.app_context():
        assert db.session.scalar(select(BuddyProfile.capacity)) == 2


def test_a_champion_can_apply_to_be_a_buddy_too(app, client, smtp, drain):
    signed_up_champion(client, smtp, drain)
    path = apply_and_confirm(client, smtp, drain, email="ada@example.org", name="Someone Else")
    submit(client, path, {})
    with app.app_context():
        ada = Person.by_email("ada@example.org")
        assert ada.name == "Ada Okafor" and ada.is_champion  # a stranger cannot rename her
    assert profile(app, "ada@example.org") == ("active", False, "applied")


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/login?next={path}")


def test_champions_are_refused_every_coordinator_route(client, smtp, drain):
    signed_up_champion(client, smtp, drain)
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403, path
    for path in ADMIN_POSTS:
        assert client.post(path, data={}).status_code == 403, path
    assert client.get("/me").status_code == 200  # still signed in, nothing else changed


def test_coordinator_pages_render(app, client, smtp, drain):
    make_coordinator(app, client, smtp, drain)
    for path in ADMIN_PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:500])
