"""Where a reply belongs: the thing its signed address (or thread) names, and
what a person's words there become."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select

from app.accounts.models import Person
from app.extensions import db
from app.inbound import errors
from app.inbound.models import InboundMessage
from app.outbox import service as outbox
from app.outbox.models import Delivery
from emails import addresses
from emails import inbound as parsing


@dataclass
class Route:
    kind: str  # delivery | pair | unsubscribe | circle
    id: int
    people: list[Person] = field(default_factory=list)
    stream: str | None = None


def resolve(target: addresses.ReplyTarget) -> Route:
    if target.kind in ("d", "u"):
        found = db.session.execute(_delivery_and_person(), {"id": target.id}).first()
        if found is None:
            raise errors.UnknownReplyAddress(f"the email it answers ({target.id}) is gone")
        kind = "delivery" if target.kind == "d" else "unsubscribe"
        return Route(kind, found.id, [found.Person] if found.Person else [], found.stream)
    if target.kind == "p":
        from app.buddies import service as buddies

        pair = buddies.pair_for_reply(target.id)
        if pair is None:
            raise errors.UnknownReplyAddress(f"no buddy pair {target.id}")
        people = [p for p in (db.session.get(Person, pair.champion_id),
                              db.session.get(Person, pair.buddy_id)) if p is not None]
        return Route("pair", pair.id, people, "buddy")
    if target.kind == "c":
        from app.circles import service as circles

        found = circles.circle_for_reply(target.id)
        if found is None:
            raise errors.UnknownReplyAddress(f"no circle {target.id}")
        circle, members = found
        return Route("circle", circle.id, members, "circles")
    raise errors.NeedsCoordinator(f"replies to '{target.kind}' addresses are not handled automatically")


# Statements built once: every reply runs them, and building and keying a
# statement costs about as much as running it here.
@functools.cache
def _delivery_and_person():
    return (
        select(Delivery.id, Delivery.stream, Person)
        .outerjoin(Person, Person.id == Delivery.person_id)
        .where(Delivery.id == bindparam("id"))
    )


@functools.cache
def _coordinators():
    return select(Person).where(Person.is_coordinator.is_(True), Person.status == "active")


def calendar_reply(route: Route, author: Person, parsed: parsing.ParsedMessage,
                   message: InboundMessage) -> str:
    from app.circles import service as circles
    from app.circles.errors import CalendarReplyRejected

    if route.kind != "circle" or not parsed.calendar:
        raise errors.NeedsCoordinator("a calendar answer that does not answer a circle's invitation")
    try:
        return circles.record_calendar_reply(route.id, author.id, parsed.calendar, message.id)
    except CalendarReplyRejected as error:  # unknown UID, not a member, not a meeting, unreadable
        raise errors.CalendarReplyIgnored(f"calendar reply not recorded: {error}") from error


def words(route: Route, author: Person, text: str, message: InboundMessage) -> str:
    """A person wrote something: log it where it belongs, and make sure a person reads it."""
    if route.kind == "pair":
        from app.buddies import service as buddies
        from app.buddies.errors import BuddyError

        pair = buddies.pair_for_reply(route.id)
        if pair is None or pair.status != "active":
            # Words about a proposal, or after the end: a person reads them.
            return forward(author, text, message, to_coordinators=True)
        try:
            checkin = buddies.record_checkin(route.id, author.id, text, inbound_id=message.id)
        except BuddyError as error:
            raise errors.NeedsCoordinator(str(error)) from error
        energy = f", energy {checkin.energy}" if checkin.energy is not None else ""
        return f"check-in {checkin.id} logged for pair {route.id}{energy}"
    return forward(author, text, message)


def forward(author: Person, text: str, message: InboundMessage, *, to_coordinators: bool = False) -> str:
    """A champion's reply to a programme email (often a question): to their
    buddy, or to the coordinators when there is none. Replies go straight back
    to the champion."""
    readers = (None if to_coordinators else _buddies_of(author)) or list(
        db.session.scalars(_coordinators())
    )
    if not readers:
        raise errors.NeedsCoordinator("a reply to forward, but there is no buddy and no coordinator yet")
    for reader in readers:
        email = {
            "stream": "replies",
            "key": f"{reader.id}:inbound:{message.id}:forward",
            "params": {
                "sender_name": author.name,
                "question": text,
                "original_subject": message.subject or "",
                "reply_to_person": author.id,
            },
        }
        if message.attempts == 1:
            # Nothing of this message can have been forwarded yet (a failed
            # attempt commits only its status): no lookup, one plain INSERT.
            outbox.insert_email(reader.id, reader.email, "forwarded_reply", **email)
        else:
            outbox.queue_email(reader, "forwarded_reply", **email)
    names = ", ".join(r.email for r in readers)
    return f"forwarded to {names}"


def _buddies_of(person: Person) -> list[Person]:
    try:
        from app.buddies import service as buddies
    except ImportError:  # pragma: no cover - buddies are always installed with Hearth
        return []
    pair = buddies.active_pair_for(person.id)
    if pair is None or pair.champion_id != person.id:
        return []
    buddy = db.session.get(Person, pair.buddy_id)
    return [buddy] if buddy is not None else []
