"""The buddy story's verbs: a qualified champion, an approved buddy, a
coordinator, a proposal, an introduced pair. Fast paths through the services
(the HTTP paths have their own tests in test_join.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from app import clock
from app.accounts import service as accounts
from app.accounts.models import Person
from app.buddies import applications, service
from app.buddies.models import BuddyProfile, Pair
from app.extensions import db
from app.outbox import service as outbox
from tests.story import CHAMPION

# Monday 1 March 2027, 10:00 in Berlin.
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PAGE = re.compile(r"http://hearth\.test(/buddies/(?:proposal|pair|profiles)/[A-Za-z0-9_.\-]+)")


def make_champion(app, email="ada@example.org", name="Ada Okafor", **changes) -> int:
    """A champion who signed up and confirmed (and so was assessed)."""
    with app.app_context():
        accounts.request_signup({**CHAMPION, "email": email, "name": name, **changes})
        person = Person.by_email(email)
        accounts.confirm(person)
        db.session.commit()
        return person.id


def make_buddy(app, email="sam@example.org", name="Sam Rivera", *, timezone="Europe/Berlin",
               languages=("en",), kinds=("cooperative",), capacity=2, years=6,
               bio="I helped two housing co-ops adopt sociocracy.") -> int:
    """A volunteer whose application was confirmed and approved."""
    with app.app_context():
        person = Person(email=email, name=name, timezone=timezone, language=languages[0],
                        status="active", created_at=clock.now(), confirmed_at=clock.now())
        db.session.add(person)
        db.session.flush()
        db.session.add(BuddyProfile(person_id=person.id, status="applied", languages=list(languages),
                                    organisation_kinds=list(kinds), years_experience=years, bio=bio,
                                    capacity=capacity, created_at=clock.now(), confirmed_at=clock.now()))
        db.session.flush()
        applications.approve_buddy(person.id)
        db.session.commit()
        return person.id


def make_coordinator(app, client, smtp, drain, email="cora@example.org"):
    """A signed-in coordinator (the client is theirs)."""
    from tests.story import signed_up_champion

    signed_up_champion(client, smtp, drain, email=email, name="Cora Coordinator")
    with app.app_context():
        person = Person.by_email(email)
        person.is_coordinator = True
        db.session.commit()
        return person.id


def send_now(app, drain) -> None:
    with app.app_context():
        outbox.enqueue_pending()
    drain()


def propose(app, champion_id: int, buddy_id: int | None = None) -> int:
    with app.app_context():
        pair = service.propose_match(champion_id, buddy_id=buddy_id)
        db.session.commit()
        return pair.id


def introduce(app, pair_id: int) -> None:
    with app.app_context():
        service.introduce(db.session.get(Pair, pair_id))
        db.session.commit()


def pair_of(app, pair_id: int) -> Pair:
    with app.app_context():
        pair = db.session.get(Pair, pair_id)
        db.session.expunge(pair)
        return pair


def pairs_of(app, champion_id: int) -> list[tuple[int, int, str]]:
    with app.app_context():
        return [(p.id, p.buddy_id, p.status) for p in db.session.scalars(
            select(Pair).where(Pair.champion_id == champion_id).order_by(Pair.id))]


def page_path(received) -> str:
    match = PAGE.search(received.text)
    assert match, f"no buddy page link in: {received.text}"
    return match.group(1)


@dataclass
class Introduced:
    pair_id: int
    champion_id: int
    buddy_id: int


def introduced_pair(app, drain, **buddy) -> Introduced:
    champion_id = make_champion(app)
    buddy_id = make_buddy(app, **buddy)
    pair_id = propose(app, champion_id)
    introduce(app, pair_id)
    send_now(app, drain)
    return Introduced(pair_id, champion_id, buddy_id)
