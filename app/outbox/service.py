"""Who gets which email is decided elsewhere; this module owns the outbox rows
and the one way they leave: claim -> render -> SMTP -> mark (invariants 1, 2).

Writing: `queue_email` adds the Delivery to the caller's transaction, and
the session remembers the rows due now; after the commit, `enqueue_new()` puts
exactly those rows on their queues, in one Redis round trip. `enqueue_pending()`
does that too, then repairs: due rows never enqueued or whose job was lost, and
rows whose lease expired. `add_email` is the quick way for a key new by
construction: no lookup, no flush. With `enqueued=True` (the tick, which
enqueues each batch right after its commit) a due row is also marked
`enqueued_at` as it is written, so the repair does not enqueue it twice.

Sending: a job's ids are claimed CLAIM_CHUNK at a time (a whole job of
SEND_BATCH_SIZE, as enqueued) with one conditional UPDATE ... RETURNING
(pending -> sending with a lease; the lease's exact value is the claim's
token, so an outcome is written only while the claim holds). People,
suppressions and unsubscribes of a chunk are read with one query each right
after its claim. Outcomes are written in small groups: one transaction per
MARK_CHUNK outcomes, or sooner once MARK_EVERY seconds have passed.

The window left by design: if SMTP accepted a message and the process died
before `sent` was committed, the lease expires and the message is sent again,
with the same Message-ID, so mail clients show it once. Marking in groups
widens that window from one message to the messages of one group: at most
MARK_CHUNK (20) messages, and at most MARK_EVERY (0.25 s) of sending. A
worker killed outright leaves the rest of its claim in `sending` until the
lease expires (SEND_LEASE_SECONDS); then the clock takes it back.
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.utils import parseaddr
from functools import lru_cache
from time import monotonic
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, bindparam, event, inspect, or_, select, update
from sqlalchemy.orm import Session

from app import clock, links, queues, rows, sealed
from app.accounts.models import ORGANISATION_KINDS, Organisation, Person
from app.extensions import db
from app.outbox import signing, unsubscribes
from app.outbox.models import Delivery, Suppression, Unsubscribe
from app.outbox.smtp import SMTPSession
from emails import addresses, calendar_mime, compose, dkim, render, sequences

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Enhanced status codes 5.1.x (bad mailbox / address): a hard bounce.
HARD_BOUNCE_CODES = {550, 551, 553}
# Asked for by the person (a sign-in link, an answer): never held by a
# suppression, an unsubscribe or a pause.
REQUESTED_STREAMS = ("transactional", "replies")
# Claim and mark in groups (module docstring). A claim costs four queries
# (the UPDATE, people, suppressions, unsubscribes) whatever its size, so a
# job claims its ids at once; a mark group is the most a crash can send
# twice, so it stays small.
CLAIM_CHUNK = 100
MARK_CHUNK = 20
MARK_EVERY = 0.25  # seconds

_WRITTEN = "hearth.outbox.written"  # (Delivery or its id, queue) written in the open transaction
_COMMITTED = "hearth.outbox.committed"  # (id, queue) committed, not enqueued yet


@event.listens_for(Session, "after_commit")
def _remember_committed(session: Session) -> None:
    written = session.info.pop(_WRITTEN, None)
    if written:
        committed = session.info.setdefault(_COMMITTED, [])
        for delivery, queue in written:
            if isinstance(delivery, int):  # inserted by `insert_email`: its id
                committed.append((delivery, queue))
                continue
            key = inspect(delivery).key
            if key is not None:  # None: rolled back with a savepoint, it does not exist
                committed.append((key[1][0], queue))


@event.listens_for(Session, "after_rollback")
def _forget_written(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


def queue_email(
    person: Person,
    template: str,
    *,
    stream: str,
    key: str,
    params: dict | None = None,
    secret_params: dict | None = None,
    queue: str = queues.DEFAULT,
    due_at: datetime | None = None,
    send_at: datetime | None = None,
    held_reason: str | None = None,
) -> Delivery:
    """Write the Delivery for `template` to `person`; the caller commits, then
    calls `enqueue_new()` (or `enqueue_pending()`).

    `key` is the idempotency key (person, journey, step, occurrence): queueing
    the same key twice returns the row already there. `send_at` (default
    `due_at`) is later than `due_at` when the email waits, for `held_reason`.
    """
    existing = db.session.scalar(select(Delivery).where(Delivery.idempotency_key == key))
    if existing is not None:
        return existing
    delivery = add_email(
        person, template, stream=stream, key=key, params=params, secret_params=secret_params,
        queue=queue, due_at=due_at, send_at=send_at, held_reason=held_reason,
    )
    db.session.flush()
    return delivery


def add_email(
    person: Person,
    template: str,
    *,
    stream: str,
    key: str,
    params: dict | None = None,
    secret_params: dict | None = None,
    queue: str = queues.DEFAULT,
    due_at: datetime | None = None,
    send_at: datetime | None = None,
    held_reason: str | None = None,
    enqueued: bool = False,
) -> Delivery:
    """`queue_email` for a key the caller knows to be new (made from a fresh
    id, or checked in bulk): no lookup and no flush; a key that exists after
    all fails at its UNIQUE constraint. `enqueued=True` only when the caller
    itself calls `enqueue_new()` right after its commit (module docstring)."""
    values = _row_values(
        person.id, person.email, template, stream=stream, key=key, params=params,
        secret_params=secret_params, queue=queue, due_at=due_at, send_at=send_at,
        held_reason=held_reason, enqueued=enqueued,
    )
    delivery = Delivery(**values)
    db.session.add(delivery)
    if values["next_attempt_at"] <= values["created_at"]:
        db.session.info.setdefault(_WRITTEN, []).append((delivery, queue))
    return delivery


def insert_email(
    person_id: int,
    to_email: str,
    template: str,
    *,
    stream: str,
    key: str,
    params: dict | None = None,
    secret_params: dict | None = None,
    queue: str = queues.DEFAULT,
) -> int:
    """`add_email` as one prebuilt INSERT on the session's connection, for the
    request paths that must be quick (a sign-in link): no ORM unit of work,
    which costs about three times the SQL here. Due now; returns the id."""
    values = _row_values(
        person_id, to_email, template, stream=stream, key=key, params=params,
        secret_params=secret_params, queue=queue,
    )
    delivery_id = rows.insert(Delivery, values)
    db.session.info.setdefault(_WRITTEN, []).append((delivery_id, queue))
    return delivery_id



def _row_values(
    person_id: int | None,
    to_email: str,
    template: str,
    *,
    stream: str,
    key: str,
    params: dict | None,
    secret_params: dict | None,
    queue: str,
    due_at: datetime | None = None,
    send_at: datetime | None = None,
    held_reason: str | None = None,
    enqueued: bool = False,
) -> dict:
    now = clock.now()
    next_attempt_at = send_at or due_at or now
    return {
        "idempotency_key": key,
        "person_id": person_id,
        "to_email": to_email,
        "stream": stream,
        "template": template,
        "queue": queue,
        "params": params or {},
        "secret_params": sealed.seal(secret_params) if secret_params else None,
        "status": "pending",
        "created_at": now,
        "due_at": due_at or now,
        "next_attempt_at": next_attempt_at,
        "enqueued_at": now if enqueued and next_attempt_at <= now else None,
        "held_reason": held_reason,
        "attempts": 0,
    }


def remember_due(rows: list[tuple[int, str]]) -> None:
    """(id, queue) of rows this transaction made due by an UPDATE (a
    coordinator's retry): `enqueue_new()` enqueues them after the commit, as
    it does the rows `queue_email` wrote."""
    db.session.info.setdefault(_WRITTEN, []).extend(rows)


def enqueue_new() -> int:
    """Enqueue send jobs for the due deliveries this session wrote and
    committed. Call after the commit; returns how many were enqueued."""
    committed = db.session.info.pop(_COMMITTED, None)
    return _enqueue(committed) if committed else 0


def enqueue_pending(limit: int = 5000) -> int:
    """Enqueue send jobs for what `enqueue_new()` would, and for due pending
    rows not queued recently. Call after commit.

    Also takes back `sending` rows whose lease expired (a worker died). Returns
    how many deliveries were enqueued.
    """
    written = db.session.info.pop(_COMMITTED, None) or []
    now = clock.now()
    # Only rows whose job has waited REPAIR_AFTER_SECONDS: a slow queue is not flooded.
    stale = now - timedelta(seconds=current_app.config["REPAIR_AFTER_SECONDS"])
    rows = db.session.execute(
        select(Delivery.id, Delivery.queue)
        .where(
            or_(
                and_(
                    Delivery.status == "pending",
                    Delivery.next_attempt_at <= now,
                    or_(Delivery.enqueued_at.is_(None), Delivery.enqueued_at <= stale),
                ),
                and_(Delivery.status == "sending", Delivery.lease_until < now),
            )
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    ).all()
    if rows:
        ids = [row.id for row in rows]
        db.session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(enqueued_at=now))
        db.session.commit()
    return _enqueue(written + [(row.id, row.queue) for row in rows])


def _enqueue(rows: list[tuple[int, str]]) -> int:
    """Send jobs of SEND_BATCH_SIZE ids for (delivery id, queue) pairs, in one
    round trip; how many deliveries (each once)."""
    by_queue: dict[str, list[int]] = defaultdict(list)
    for delivery_id, queue in dict(rows).items():
        by_queue[queue].append(delivery_id)
    size = current_app.config["SEND_BATCH_SIZE"]
    queues.enqueue_many([
        (name, "workers.jobs.send_deliveries", (ids[start : start + size],))
        for name, ids in by_queue.items()
        for start in range(0, len(ids), size)
    ])
    return sum(len(ids) for ids in by_queue.values())


def _claimable(columns, now: datetime):
    return or_(
        and_(columns.status == "pending", columns.next_attempt_at <= now),
        and_(columns.status == "sending", columns.lease_until < now),
    )


def _claim_many(delivery_ids: list[int], now: datetime) -> tuple[list, datetime]:
    """pending -> sending with a lease, in one conditional UPDATE (invariant 2).
    The rows this claim holds (in the order asked), and the lease: its exact
    value is the token of this claim."""
    lease = now + timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    table = Delivery.__table__
    rows = db.session.execute(
        update(table)
        .where(table.c.id.in_(delivery_ids), _claimable(table.c, now))
        .values(status="sending", lease_until=lease, attempts=table.c.attempts + 1)
        .returning(*table.c)
    ).all()
    db.session.commit()
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in dict.fromkeys(delivery_ids) if i in by_id], lease


def _claim(delivery_id: int, now: datetime):
    """Claim one delivery; its row, or None when it cannot be claimed."""
    claimed, _lease = _claim_many([delivery_id], now)
    return claimed[0] if claimed else None


def _renew(delivery_ids: list[int], lease: datetime, now: datetime) -> tuple[set[int], datetime]:
    """A fresh lease for rows still held with `lease`; which ones, and the new lease."""
    renewed = now + timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    table = Delivery.__table__
    held = db.session.scalars(
        update(table)
        .where(table.c.id.in_(delivery_ids), table.c.status == "sending", table.c.lease_until == lease)
        .values(lease_until=renewed)
        .returning(table.c.id)
    ).all()
    db.session.commit()
    return set(held), renewed


class _Outcomes:
    """Outcomes of claimed rows, written in groups (module docstring), each
    only while the claim with `lease` still holds the row."""

    def __init__(self, lease: datetime) -> None:
        self.lease = lease
        self._waiting: list[tuple[int, dict]] = []
        self._since = monotonic()

    def add(self, delivery_id: int, **values) -> None:
        self._waiting.append((delivery_id, values))
        if len(self._waiting) >= MARK_CHUNK or monotonic() - self._since >= MARK_EVERY:
            self.write()

    def write(self) -> None:
        if self._waiting:
            table = Delivery.__table__
            groups: dict[tuple[str, ...], list[dict]] = defaultdict(list)
            for delivery_id, values in self._waiting:
                groups[tuple(sorted(values))].append(
                    {"b_id": delivery_id, "b_lease": self.lease,
                     **{f"b_{name}": value for name, value in values.items()}}
                )
            for names, rows in groups.items():
                db.session.execute(
                    update(table)
                    .where(table.c.id == bindparam("b_id"), table.c.status == "sending",
                           table.c.lease_until == bindparam("b_lease"))
                    .values(lease_until=None, **{name: bindparam(f"b_{name}") for name in names}),
                    rows,
                )
            db.session.commit()
            self._waiting = []
        self._since = monotonic()


def _backoff(attempts: int) -> timedelta:
    first = current_app.config["SEND_RETRY_SECONDS"]
    longest = current_app.config["SEND_RETRY_MAX_SECONDS"]
    return timedelta(seconds=min(first * 2 ** max(attempts - 1, 0), longest))


def is_suppressed(email: str) -> bool:
    return db.session.scalar(select(Suppression.id).where(Suppression.email == email)) is not None


def suppress(email: str, reason: str) -> None:
    if not is_suppressed(email):
        db.session.add(Suppression(email=email.lower(), reason=reason, created_at=clock.now()))


def unsubscribed_streams(person_ids) -> dict[int, set[str]]:
    """The streams each person left ("all" included), with one query."""
    streams: dict[int, set[str]] = defaultdict(set)
    if person_ids:
        for person_id, stream in db.session.execute(
            select(Unsubscribe.person_id, Unsubscribe.stream).where(Unsubscribe.person_id.in_(person_ids))
        ):
            streams[person_id].add(stream)
    return streams


def has_left(streams: set[str], stream: str) -> bool:
    """unsubscribes.is_unsubscribed, given the streams a person left."""
    return stream not in REQUESTED_STREAMS and not streams.isdisjoint((stream, "all"))


@dataclass(frozen=True)
class _OrganisationValues:
    name: str
    kind: str


@dataclass(frozen=True)
class _PersonValues:
    """What a send reads of a Person, as plain values: the outcomes' commits
    during a batch would expire ORM objects, and each would then be loaded
    again, a query an email."""

    id: int
    name: str
    first_name: str
    email: str
    timezone: str
    paused_until: date | None
    organisation: _OrganisationValues | None


def _people_values(person_ids: set[int]) -> dict[int, _PersonValues]:
    """The people (with their organisations) in one Core query: no ORM objects to build."""
    people, organisations = Person.__table__, Organisation.__table__
    rows = db.session.execute(
        select(people.c.id, people.c.name, people.c.email, people.c.timezone, people.c.paused_until,
               organisations.c.name.label("organisation_name"),
               organisations.c.kind.label("organisation_kind"))
        .select_from(people.outerjoin(organisations, people.c.organisation_id == organisations.c.id))
        .where(people.c.id.in_(person_ids))
    )
    return {
        row.id: _PersonValues(
            id=row.id, name=row.name, first_name=Person.first_name.fget(row), email=row.email,
            timezone=row.timezone, paused_until=row.paused_until,
            organisation=(None if row.organisation_name is None
                          else _OrganisationValues(row.organisation_name, row.organisation_kind)),
        )
        for row in rows
    }


class _Found:
    """What the sends of some deliveries read, one query a table: the people
    (with their organisations), suppressed addresses, unsubscribes."""

    def __init__(self, deliveries) -> None:
        wanted: set[int] = set()
        for delivery in deliveries:
            if delivery.person_id:
                wanted.add(delivery.person_id)
            wanted.update(delivery.params.get("also_to") or ())
            if delivery.params.get("reply_to_person"):
                wanted.add(delivery.params["reply_to_person"])
        self._people: dict[int, _PersonValues] = {}
        if wanted:
            self._people = _people_values(wanted)
        self._asked = wanted
        emails = {d.to_email for d in deliveries if d.stream not in REQUESTED_STREAMS}
        for delivery in deliveries:
            emails.update(self._people[i].email for i in delivery.params.get("also_to") or ()
                          if i in self._people)
        self.suppressed: set[str] = set()
        if emails:
            self.suppressed = set(db.session.scalars(
                select(Suppression.email).where(Suppression.email.in_(emails))
            ))
        self._unsubscribed = unsubscribed_streams(
            {d.person_id for d in deliveries if d.person_id and d.stream not in REQUESTED_STREAMS}
        )

    def person(self, person_id: int | None) -> Person | _PersonValues | None:
        if not person_id:
            return None
        if person_id not in self._asked:
            return db.session.get(Person, person_id)
        return self._people.get(person_id)

    def is_unsubscribed(self, person_id: int, stream: str) -> bool:
        return has_left(self._unsubscribed[person_id], stream)


def build_message(delivery: Delivery, now: datetime, found: _Found | None = None):
    """Render and compose the MIME message for a delivery (no sending).

    Options a feature may put in `params`: `reply_to` = [kind, id] for the
    signed reply address (default: this delivery), `also_to` = [person ids]
    for one email to several people (an introduction), and `thread` = a
    Message-ID this email continues (In-Reply-To/References), and `ics` +
    `ics_method` = an iCalendar invitation (REQUEST/CANCEL) built when the
    change happened, attached the way Gmail, Outlook and Apple Mail expect.
    """
    found = found or _Found([delivery])
    config = current_app.config
    person = found.person(delivery.person_id)
    organisation = person.organisation if person else None
    context = {
        **delivery.params,
        **sealed.unseal(delivery.secret_params),
        "first_name": person.first_name if person else "",
        "name": person.name if person else "",
        "organisation": organisation.name if organisation else "",
        "organisation_kind": ORGANISATION_KINDS.get(organisation.kind, "") if organisation else "",
        "base_url": config["BASE_URL"],
        "me_url": links.url("/me"),
        "footer": links.footer_for(
            delivery.stream, None if delivery.params.get("also_to") else delivery.person_id
        ),
    }
    rendered = render.render(delivery.template, context)
    sender_name, sender_email = _parsed_address(config["MAIL_DEFAULT_SENDER"])
    display = rendered.sender_name or sender_name or "Hearth"
    domain = sender_email.rpartition("@")[2]
    msg_id = compose.message_id(delivery.id, delivery.idempotency_key, config["SECRET_KEY"], domain)
    reply_kind, reply_id = delivery.params.get("reply_to") or ("d", delivery.id)
    reply_to = compose.address(display, addresses.reply_address(
        config["SECRET_KEY"], config["INBOUND_DOMAIN"], reply_kind, int(reply_id)
    ))
    if delivery.params.get("reply_to_person"):
        # A forwarded question: the answer goes straight to the person who asked.
        asker = found.person(delivery.params["reply_to_person"])
        if asker is not None:
            reply_to = compose.address(asker.name, asker.email)
    recipients = [compose.address(person.name if person else None, delivery.to_email)]
    for other_id in delivery.params.get("also_to") or []:
        other = found.person(other_id)
        if other is not None and other.email not in found.suppressed:
            recipients.append(compose.address(other.name, other.email))
    headers = _list_headers(delivery, config)
    if delivery.params.get("thread"):
        headers["In-Reply-To"] = headers["References"] = delivery.params["thread"]
    message = compose.compose(
        rendered,
        sender=compose.address(display, sender_email),
        to=recipients[0] if len(recipients) == 1 else recipients,
        msg_id=msg_id,
        date=now,
        reply_to=reply_to,
        headers=headers,
    )
    if delivery.params.get("ics"):
        message = message.as_email_message()
        calendar_mime.attach_calendar(
            message, delivery.params["ics"].encode(), method=delivery.params.get("ics_method", "REQUEST")
        )
    return message, rendered, sender_email, [r.addr_spec for r in recipients]


@lru_cache(maxsize=8)
def _parsed_address(address: str) -> tuple[str, str]:
    return parseaddr(address)


def _list_headers(delivery: Delivery, config) -> dict[str, str]:
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    # An email to several people (an introduction) carries no personal
    # unsubscribe link: one reader must not unsubscribe another.
    if (delivery.stream not in REQUESTED_STREAMS and delivery.person_id
            and not delivery.params.get("also_to")):
        # RFC 8058: a one-click POST to the https link, plus a mailto for old clients.
        one_click = links.url(f"/unsubscribe/{unsubscribes.token_for(delivery.person_id, delivery.stream)}")
        mailto = addresses.reply_address(
            config["SECRET_KEY"], config["INBOUND_DOMAIN"], "u", delivery.id
        )
        headers["List-Unsubscribe"] = f"<{one_click}>, <mailto:{mailto}?subject=unsubscribe>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        headers["List-Id"] = f"Hearth {delivery.stream} <{delivery.stream}.{config['INBOUND_DOMAIN']}>"
    return headers


def send_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send each delivery that can be claimed, over one SMTP connection."""
    outcome: dict[str, int] = defaultdict(int)
    session = SMTPSession()
    try:
        for start in range(0, len(delivery_ids), CLAIM_CHUNK):
            _send_chunk(delivery_ids[start : start + CLAIM_CHUNK], session, outcome)
    finally:
        session.close()
    log.info("send batch of %s: %s", len(delivery_ids), dict(outcome))  # a line a batch, not an email
    return dict(outcome)


def _send_chunk(delivery_ids: list[int], session: SMTPSession, outcome: dict[str, int]) -> None:
    claimed, lease = _claim_many(delivery_ids, clock.now())
    if len(claimed) < len(delivery_ids):
        outcome["skipped"] += len(delivery_ids) - len(claimed)
    if not claimed:
        return
    found = _Found(claimed)
    outcomes = _Outcomes(lease)
    lease_seconds = current_app.config["SEND_LEASE_SECONDS"]
    held = {delivery.id for delivery in claimed}
    index = -1
    try:
        for index, delivery in enumerate(claimed):
            now = clock.now()
            # A slow server: keep at least half a lease for every send, as a
            # claim of one email at a time would have.
            if now >= outcomes.lease - timedelta(seconds=lease_seconds / 2):
                outcomes.write()
                held, outcomes.lease = _renew([d.id for d in claimed[index:]], outcomes.lease, now)
            if delivery.id not in held:
                outcome["skipped"] += 1
                continue
            outcome[_send_one(delivery, session, found, outcomes, now)] += 1
    except BaseException:
        # Whatever broke, the outcomes of the emails already sent are written,
        # and the ones not tried yet go back to pending for the next tick (the
        # one that broke keeps its lease: it may have left).
        db.session.rollback()
        for later in claimed[index + 1 :]:
            if later.id in held:
                outcomes.add(later.id, status="pending", attempts=later.attempts - 1, enqueued_at=None)
        outcomes.write()
        raise
    outcomes.write()


def _send_one(delivery, session: SMTPSession, found: _Found, outcomes: _Outcomes, now: datetime) -> str:
    if delivery.stream not in REQUESTED_STREAMS:
        if delivery.to_email in found.suppressed:
            outcomes.add(delivery.id, status="suppressed", last_error="address is on the suppression list")
            return "suppressed"
        if delivery.person_id and found.is_unsubscribed(delivery.person_id, delivery.stream):
            outcomes.add(delivery.id, status="suppressed", last_error=f"unsubscribed from {delivery.stream}")
            return "suppressed"
        resume = _pause_ends(found.person(delivery.person_id), now)
        if resume is not None:
            outcomes.add(delivery.id, status="pending", next_attempt_at=resume, enqueued_at=None,
                         held_reason=f"paused until {resume.date().isoformat()}",
                         attempts=delivery.attempts - 1)
            return "held"
    try:
        message, rendered, envelope_from, envelope_to = build_message(delivery, now, found)
    except (render.TemplateError, compose.HeaderInjection, ValueError) as error:
        log.error("delivery %s cannot be built: %s", delivery.id, error,
                  extra={"delivery_id": delivery.id})
        outcomes.add(delivery.id, status="failed", last_error=f"cannot build the email: {error}")
        return "failed"
    try:
        data = signing.sign_outgoing(message.as_bytes())
    except (signing.DKIMNotConfigured, dkim.SigningError) as error:
        # Configured on purpose: unsigned mail would fail DMARC. It waits
        # (and /healthz says why) until the key is fixed.
        log.error("delivery %s not sent, DKIM cannot sign: %s", delivery.id, error,
                  extra={"delivery_id": delivery.id})
        return _retry(delivery, now, None, f"DKIM: {error}", outcomes)
    try:
        session.send(envelope_from, envelope_to, data)
    except smtplib.SMTPRecipientsRefused as error:
        code, answer = next(iter(error.recipients.values()))
        return _refused(delivery, session, code, answer, now, found, outcomes)
    except smtplib.SMTPResponseException as error:
        return _refused(delivery, session, error.smtp_code, error.smtp_error, now, found, outcomes)
    except (smtplib.SMTPException, OSError) as error:
        session.reset()
        return _retry(delivery, now, None, f"connection: {error}", outcomes)
    outcomes.add(
        delivery.id,
        status="sent",
        sent_at=clock.now(),
        message_id=message["Message-ID"],
        subject=rendered.subject,
        secret_params=None,
        smtp_code=250,
        last_error=None,
    )
    log.debug("delivery %s sent as %s", delivery.id, message["Message-ID"],
              extra={"delivery_id": delivery.id})
    return "sent"


def _pause_ends(person: Person | _PersonValues | None, now: datetime) -> datetime | None:
    """When the person is paused: the first 09:00 weekday slot after the pause."""
    if person is None or person.paused_until is None:
        return None
    zone = ZoneInfo(person.timezone)
    if now.astimezone(zone).date() >= person.paused_until:
        return None
    start = datetime.combine(person.paused_until, time.min, zone)
    return sequences.next_window(time(9, 0), True, person.timezone, start)


def _refused(delivery, session: SMTPSession, code: int, answer, now: datetime,
             found: _Found, outcomes: _Outcomes) -> str:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    if 400 <= code < 500 or code < 200:
        session.reset()
        return _retry(delivery, now, code, f"{code} {text}", outcomes)
    if code in HARD_BOUNCE_CODES:
        suppress(delivery.to_email, f"SMTP {code} {text}")  # committed with the outcome
        found.suppressed.add(delivery.to_email)
    outcomes.add(delivery.id, status="failed", smtp_code=code, last_error=f"{code} {text}")
    log.warning("delivery %s refused for good: %s %s", delivery.id, code, text,
                extra={"delivery_id": delivery.id, "smtp_code": code})
    return "failed"


def _retry(delivery, now: datetime, code: int | None, error: str, outcomes: _Outcomes) -> str:
    if delivery.attempts >= MAX_ATTEMPTS:
        outcomes.add(delivery.id, status="failed", smtp_code=code, last_error=f"gave up: {error}")
        log.warning("delivery %s failed after %s attempts: %s", delivery.id, delivery.attempts,
                    error, extra={"delivery_id": delivery.id, "smtp_code": code})
        return "failed"
    log.info("delivery %s will be tried again: %s", delivery.id, error,
             extra={"delivery_id": delivery.id, "smtp_code": code})
    outcomes.add(
        delivery.id,
        status="pending",
        smtp_code=code,
        last_error=error,
        next_attempt_at=now + _backoff(delivery.attempts),
        enqueued_at=None,
    )
    return "retry"


def cancel_pending_for(person_id: int, reason: str) -> int:
    """Cancel everything not yet sent to a person; returns how many."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.person_id == person_id, Delivery.status.in_(("pending", "sending")))
        .values(status="cancelled", last_error=reason, secret_params=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
