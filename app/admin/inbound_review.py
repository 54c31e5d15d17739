"""A coordinator reviews an inbound message Hearth would not log by itself
(quarantined: an unknown address or sender; failed: an error): log it as a
check-in of a pair, or discard it with a reason. Reprocessing is
`app.inbound.service.process` (`flask inbound reprocess`). The caller commits."""

from __future__ import annotations

from sqlalchemy import or_, select

from app import clock
from app.accounts.models import Person
from app.buddies import service as buddies
from app.buddies.errors import BuddyError
from app.buddies.models import Checkin, Pair
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import InboundMessage
from emails import inbound as parsing

TEXT_LIMIT = 20_000


class ReviewRefused(Exception):
    """The message cannot be handled as asked; the message says why."""


def message(message_id: int) -> InboundMessage:
    found = db.session.get(InboundMessage, message_id)
    if found is None:
        raise ReviewRefused(f"There is no inbound message {message_id}.")
    return found


def readable_text(found: InboundMessage) -> str:
    """The words of a message as plain text, never its HTML or remote content:
    what parsing found, else the new text of a fresh parse, else the source."""
    if found.text:
        return found.text
    try:
        parsed = parsing.parse_message(found.raw, own_addresses=inbound.own_addresses())
        if parsed.text.strip():
            return parsed.text
    except parsing.UnparseableMessage:
        pass
    return found.raw.decode("utf-8", errors="replace")[:TEXT_LIMIT]


def sender(found: InboundMessage) -> Person | None:
    if found.person_id:
        return db.session.get(Person, found.person_id)
    return Person.by_email(found.from_address) if found.from_address else None


def candidate_pairs(found: InboundMessage) -> list[Pair]:
    """The active pairs of whoever sent it (or whom it was routed to)."""
    person = sender(found)
    if person is None:
        return []
    return list(db.session.scalars(
        select(Pair).where(Pair.status == "active", or_(Pair.champion_id == person.id,
                                                          Pair.buddy_id == person.id)).order_by(Pair.id)))


def log_as_checkin(message_id: int, pair_id: int, author_id: int | None,
                   coordinator_email: str, *, role: str | None = None) -> Checkin:
    """Log the message's words as a check-in of `pair_id` by `author_id`, or
    by the pair's member in `role` ("champion" or "buddy"); by default the
    member who sent it."""
    found = message(message_id)
    pair = db.session.get(Pair, pair_id)
    if pair is None:
        raise ReviewRefused(f"There is no pair {pair_id}.")
    if role:
        author_id = {"champion": pair.champion_id, "buddy": pair.buddy_id}.get(role)
    if author_id is None:
        person = sender(found)
        author_id = person.id if person is not None and person.id in pair.member_ids() else None
    if author_id is None or author_id not in pair.member_ids():
        raise ReviewRefused(f"Say who wrote it: the champion or the buddy of pair {pair_id}.")
    text = readable_text(found)
    try:
        checkin = buddies.record_checkin(pair.id, author_id, text, inbound_id=found.id,
                                         at=found.received_at)
    except BuddyError as error:
        raise ReviewRefused(str(error)) from error
    found.status = "processed"
    found.reason = f"logged as check-in {checkin.id} of pair {pair.id} by {coordinator_email}"
    found.person_id = author_id
    found.routed_kind, found.routed_id = "pair", pair.id
    found.processed_at = clock.now()
    return checkin


def discard(message_id: int, reason: str, coordinator_email: str) -> InboundMessage:
    """Set a message aside for good, with the reason (it stays stored)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ReviewRefused("Please give a reason for discarding the message.")
    found = message(message_id)
    found.status = "ignored"
    found.reason = f"discarded by {coordinator_email}: {reason}"[:1000]
    found.processed_at = clock.now()
    return found
