"""An approved buddy edits their own profile at /me/buddy: languages, kinds
of organisation, introduction and capacity, including a break from new
champions that keeps the pairs they have."""

from __future__ import annotations

import pytest

from app.buddies import service
from app.buddies.errors import BuddyError
from app.buddies.models import BuddyProfile
from app.extensions import db
from tests.buddies.pairing import make_buddy, make_champion, pair_of, propose
from tests.forms import csrf_token, submit

EDIT = {"languages": ["en", "de"], "organisation_kinds": ["cooperative", "school"],
        "bio": "  I teach consent decisions to school staff.  ", "capacity": "3"}


def sign_in(client, person_id: int) -> None:
    with client.session_transaction() as session:
        session["person_id"] = person_id


def profile_of(app, person_id: int) -> BuddyProfile:
    with app.app_context():
        profile = BuddyProfile.of(person_id)
        db.session.expunge(profile)
        return profile


def test_a_buddy_edits_their_profile_and_matching_sees_it(app, client):
    sam = make_buddy(app, capacity=1)
    sign_in(client, sam)
    assert "edit your buddy profile" in client.get("/me").get_data(as_text=True)
    page = client.get("/me/buddy").get_data(as_text=True)
    assert "Your buddy profile" in page and "You support no champion right now." in page
    assert '<option selected value="1">' in page  # the capacity as it is

    saved = submit(client, "/me/buddy", EDIT)
    assert saved.status_code == 302 and saved.location.endswith("/me")
    assert "Your buddy profile is saved." in client.get("/me").get_data(as_text=True)
    profile = profile_of(app, sam)
    assert (profile.languages, profile.organisation_kinds, profile.bio, profile.capacity) == (
        ["en", "de"], ["cooperative", "school"], "I teach consent decisions to school staff.", 3)

    ada, ben = make_champion(app), make_champion(app, email="ben@example.org", name="Ben Carter")
    propose(app, ada, sam)
    propose(app, ben, sam)  # two places held of three
    assert "You support 2 champions now." in client.get("/me/buddy").get_data(as_text=True)


def test_a_break_from_new_champions_keeps_the_pairs_there_are(app, client):
    sam = make_buddy(app, capacity=2)
    ada = make_champion(app)
    pair = propose(app, ada, sam)
    sign_in(client, sam)
    saved = submit(client, "/me/buddy", {**EDIT, "capacity": "0"})
    assert saved.status_code == 302
    assert "No new champions will be proposed to you" in client.get("/me").get_data(as_text=True)
    assert profile_of(app, sam).capacity == 0
    ben = make_champion(app, email="ben@example.org", name="Ben Carter")
    with app.app_context(), pytest.raises(BuddyError, match="at capacity"):
        service.propose_match(ben, buddy_id=sam)
    assert pair_of(app, pair).status == "proposed"  # the pair there is goes on


@pytest.mark.parametrize(("change", "reason"), [
    ({"languages": []}, "Please choose at least one language."),
    ({"organisation_kinds": []}, "Please choose at least one kind of organisation."),
    ({"bio": ""}, "Please write a few sentences about yourself"),
    ({"bio": "x" * 1501}, "Please keep this under 1,500 characters."),
    ({"capacity": "9"}, "Not a valid choice"),
    ({"languages": ["en", "xx"]}, "not a valid choice"),
])
def test_a_bad_answer_is_shown_and_nothing_is_saved(app, client, change, reason):
    sam = make_buddy(app, capacity=2)
    before = profile_of(app, sam)
    sign_in(client, sam)
    answer = submit(client, "/me/buddy", {**EDIT, **change})
    assert answer.status_code == 422
    assert reason.lower() in answer.get_data(as_text=True).lower()
    after = profile_of(app, sam)
    assert (after.languages, after.bio, after.capacity) == (before.languages, before.bio, before.capacity)


def test_only_an_approved_buddy_has_the_page(app, client):
    assert client.get("/me/buddy").status_code == 302  # signed out: to the sign-in page
    ada = make_champion(app)
    sign_in(client, ada)
    assert "edit your buddy profile" not in client.get("/me").get_data(as_text=True)
    assert client.get("/me/buddy").status_code == 404
    assert client.post("/me/buddy", data={**EDIT, "csrf_token": csrf_token(client, "/me")}).status_code == 404
    sam = make_buddy(app)
    sign_in(client, sam)
    assert client.post("/me/buddy", data=EDIT).status_code == 422  # no CSRF token: nothing saved
    assert profile_of(app, sam).capacity == 2
