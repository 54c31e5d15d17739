"""Every list's CSV, once: `flask export NAME` prints it and the dashboard's
"CSV" link downloads it, from the same rows, so the two are always equal.
Rows are streamed in batches, never held in memory all at once."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select

from app import clock
from app.accounts.models import Enrollment, Person
from app.admin import attention, lists
from app.buddies.models import OPEN_STATUSES, BuddyProfile, Checkin, Pair
from app.circles.models import Circle
from app.extensions import db
from app.inbound.models import InboundMessage
from app.outbox.models import Delivery
from app.surveys import results


@dataclass(frozen=True)
class Export:
    name: str
    help: str
    header: Callable[..., list[str]]
    rows: Callable[..., Iterable[list]]
    # How many rows, for a progress bar's time left (the long lists only).
    count: Callable[[], int] | None = None


def _count(model) -> Callable[[], int]:
    return lambda: db.session.scalar(select(func.count()).select_from(model)) or 0


def _iso(value) -> str:
    return value.isoformat() if value is not None else ""


def people_rows() -> Iterator[list]:
    cohorts = {e.person_id: e.cohort.name for e in db.session.scalars(select(Enrollment))}
    for person in db.session.scalars(select(Person).order_by(Person.id)).yield_per(1000):
        org = person.organisation
        yield [person.id, person.email, person.name, person.status, " ".join(person.roles),
               person.timezone, person.language, org.name if org else "",
               org.kind if org else "", org.size if org else "",
               cohorts.get(person.id, ""), _iso(person.created_at),
               _iso(person.confirmed_at), _iso(person.paused_until)]


def delivery_rows() -> Iterator[list]:
    for d in db.session.scalars(select(Delivery).order_by(Delivery.id)).yield_per(1000):
        yield [d.id, d.idempotency_key, d.person_id or "", d.to_email, d.stream,
               d.template, d.status, _iso(d.created_at), _iso(d.due_at),
               _iso(d.next_attempt_at), d.held_reason or "", _iso(d.sent_at), d.attempts,
               d.smtp_code or "", d.message_id or "", d.last_error or ""]


def buddy_rows() -> Iterator[list]:
    loads = dict(db.session.execute(
        select(Pair.buddy_id, func.count(Pair.id)).where(Pair.status.in_(OPEN_STATUSES))
        .group_by(Pair.buddy_id)).all())
    for profile, person in db.session.execute(
        select(BuddyProfile, Person).join(Person, Person.id == BuddyProfile.person_id)
        .order_by(BuddyProfile.id)
    ):
        yield [person.id, person.email, person.name, profile.status, " ".join(profile.languages),
               profile.years_experience, " ".join(profile.organisation_kinds), profile.capacity,
               loads.get(person.id, 0), person.timezone, _iso(profile.created_at),
               _iso(profile.confirmed_at), _iso(profile.decided_at)]


def pair_rows() -> Iterator[list]:
    counts = {pair_id: (n, last) for pair_id, n, last in db.session.execute(
        select(Checkin.pair_id, func.count(Checkin.id), func.max(Checkin.at)).group_by(Checkin.pair_id))}
    for pair in db.session.scalars(select(Pair).order_by(Pair.id)).yield_per(1000):
        n, last = counts.get(pair.id, (0, None))
        yield [pair.id, pair.status, pair.champion.email, pair.buddy.email, f"{pair.score:.2f}",
               _iso(pair.created_at), pair.proposed_how or "", _iso(pair.proposed_at),
               _iso(pair.introduced_at), _iso(pair.last_activity_at), n,
               _iso(lists._aware(last)), _iso(pair.ended_at), pair.end_reason or ""]


def meeting_rows() -> Iterator[list]:
    now = clock.now()
    for circle in db.session.scalars(select(Circle).where(Circle.status == "active").order_by(Circle.id)):
        for row in lists.meeting_rows(circle, now):
            meeting = row.meeting
            state = "" if meeting is None else "cancelled" if meeting.cancelled else (
                "moved" if meeting.moved else "")
            yield [circle.id, circle.name, circle.timezone,
                   meeting.start.isoformat() if meeting else "", state, row.members,
                   *(row.counts.get(k, "") for k in ("yes", "no", "maybe", "nothing"))]


def inbound_rows() -> Iterator[list]:
    emails = dict(db.session.execute(
        select(Person.id, Person.email).where(Person.id.in_(
            select(InboundMessage.person_id).where(InboundMessage.person_id.is_not(None))))).all())
    for m in db.session.scalars(select(InboundMessage).order_by(InboundMessage.id)).yield_per(1000):
        yield [m.id, _iso(m.received_at), m.received_via, m.status, m.reason or "",
               m.from_address or "", m.subject or "", m.kind or "", emails.get(m.person_id, ""),
               m.routed_kind or "", m.routed_id or "", m.attempts, _iso(m.processed_at)]


def attention_rows() -> Iterator[list]:
    for row in attention.rows(limit=None):
        pair = row.pair
        yield [row.kind, row.reason, _iso(row.since), row.person.email if row.person else "",
               row.person.name if row.person else "", pair.id if pair else "",
               pair.champion.email if pair else "", pair.buddy.email if pair else "",
               _iso(row.last_checkin)]


def _fixed(*names: str) -> Callable[..., list[str]]:
    return lambda **_options: list(names)


EXPORTS: dict[str, Export] = {e.name: e for e in (
    Export("people", "Everyone Hearth knows, with roles and cohort.", _fixed(
        "id", "email", "name", "status", "roles", "timezone", "language", "organisation",
        "organisation_kind", "organisation_size", "cohort", "signed_up_at", "confirmed_at",
        "paused_until"), lambda **_o: people_rows(), _count(Person)),
    Export("deliveries", "Every email: status, attempts and the last SMTP answer.", _fixed(
        "id", "idempotency_key", "person_id", "to", "stream", "template", "status", "created_at",
        "due_at", "next_attempt_at", "held_reason", "sent_at", "attempts", "smtp_code",
        "message_id", "last_error"), lambda **_o: delivery_rows(), _count(Delivery)),
    Export("buddies", "Buddy applications and buddies: approval, capacity and load.", _fixed(
        "person_id", "email", "name", "status", "languages", "years_experience",
        "organisation_kinds", "capacity", "load", "timezone", "applied_at", "confirmed_at",
        "decided_at"), lambda **_o: buddy_rows()),
    Export("pairs", "Every pairing, from suggestion to its end, with its check-ins.", _fixed(
        "id", "status", "champion_email", "buddy_email", "score", "created_at", "proposed_how",
        "proposed_at", "introduced_at", "last_activity_at", "checkins", "last_checkin_at",
        "ended_at", "end_reason"), lambda **_o: pair_rows()),
    Export("meetings", "The next meetings of every active circle, with RSVP counts.", _fixed(
        "circle_id", "circle", "timezone", "meeting_start", "meeting_state", "members", "yes",
        "no", "maybe", "no_answer"), lambda **_o: meeting_rows()),
    Export("inbound", "Every inbound message (without its bytes) and what became of it.", _fixed(
        "id", "received_at", "received_via", "status", "reason", "from", "subject", "kind",
        "person_email", "routed_kind", "routed_id", "attempts", "processed_at"),
        lambda **_o: inbound_rows(), _count(InboundMessage)),
    Export("at-risk", "Who needs attention: silence, strain, bounces, pauses, objections.", _fixed(
        "kind", "reason", "since", "email", "name", "pair_id", "champion_email", "buddy_email",
        "last_checkin_at"), lambda **_o: attention_rows()),
    Export("survey-responses", "One row per survey response, one column per question.",
           lambda **o: results.export_header(o.get("filters")),
           lambda **o: results.export_rows(o.get("filters"))),
)}


def csv_lines(export: Export, *, on_rows: Callable[[int], None] | None = None,
              **options) -> Iterator[str]:
    """The CSV, a chunk of lines at a time (the same text the CLI prints);
    `on_rows(n)` hears of each chunk's rows (a progress bar)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(export.header(**options))
    count = 0
    for count, row in enumerate(export.rows(**options), start=1):
        writer.writerow(row)
        if count % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if on_rows is not None:
                on_rows(CHUNK)
    yield buffer.getvalue()
    if on_rows is not None:
        on_rows(count % CHUNK)


CHUNK = 500
