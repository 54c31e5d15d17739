"""Inbound mail: store raw first (invariant 4), then parse, route and act.

Routing is by the signed reply address (`reply+<kind><id>-<mac>@INBOUND_DOMAIN`),
with In-Reply-To/References as a fallback. The From must belong to the
expected person; anything else is quarantined for a coordinator, never
logged. Every message ends with a status: processed, ignored, quarantined or
failed, each with its reason, and can be processed again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from app import clock, queues, rows
from app.accounts.models import Person
from app.extensions import db
from app.inbound import commands, errors, routes
from app.inbound.models import InboundMessage
from app.outbox import service as outbox
from app.outbox.models import Delivery
from emails import addresses
from emails import inbound as parsing

log = logging.getLogger(__name__)
MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Stored:
    id: int  # the InboundMessage's
    created: bool


@dataclass(frozen=True)
class _Envelope:
    """The few headers storing needs, read once from the header block only."""

    message_id: str
    subject: str
    from_address: str

    @classmethod
    def of(cls, raw: bytes) -> _Envelope:
        head = raw[:65536]
        cut = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=-1)
        try:
            headers = BytesHeaderParser(policy=policy.compat32).parsebytes(
                head[: cut + 4] if cut >= 0 else head
            )

            def read(name: str) -> str:
                return _nul_free(str(headers.get(name, "") or "").strip()) or ""

            return cls(read("Message-ID"), read("Subject")[:500],
                       _nul_free(parseaddr(read("From"))[1][:320]) or "")
        except Exception:  # a header we cannot read is simply absent for de-duplication
            return cls("", "", "")


def _dedupe_key(raw: bytes, envelope: _Envelope) -> str:
    if envelope.message_id and len(envelope.message_id) < 280:
        return envelope.message_id.strip("<> \t")
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def store(raw: bytes, *, via: str, envelope_from: str | None = None,
          envelope_to: list[str] | None = None) -> Stored:
    """Keep the message exactly as it arrived; the same Message-ID is kept once.
    Commits, because nothing may be lost before the 202 / 250 answer.

    One prebuilt INSERT: most messages are new, and the UNIQUE key finds the
    rest (the ORM's unit of work would cost more than the SQL)."""
    if len(raw) > MAX_BYTES:
        raise errors.TooLarge(f"message is {len(raw)} bytes; the limit is {MAX_BYTES}")
    envelope = _Envelope.of(raw)
    key = _dedupe_key(raw, envelope)
    values = {
        "dedupe_key": key,
        "raw": raw,
        "size": len(raw),
        "received_via": via,
        "envelope_to": ", ".join(envelope_to or []) or None,
        "received_at": clock.now(),
        "status": "new",
        "subject": envelope.subject or None,
        "from_address": envelope.from_address or None,
        "envelope_from": _nul_free(envelope_from),
        "attempts": 0,
    }
    created = _insert_committed(values)
    if created is not None:
        return Stored(created, created=True)
    existing = _by_dedupe_key(key)
    if (existing.from_address or "", existing.subject or "") == (
        envelope.from_address, envelope.subject
    ):
        return Stored(existing.id, created=False)  # delivered twice (other Received lines)
    # A reused Message-ID on different words: keep both.
    values["dedupe_key"] = f"{key}#sha256:{hashlib.sha256(raw).hexdigest()}"
    created = _insert_committed(values)
    if created is not None:
        return Stored(created, created=True)
    # The same message arrived twice at the same moment.
    return Stored(_by_dedupe_key(values["dedupe_key"]).id, created=False)


def _insert_committed(values: dict) -> int | None:
    """The new message's id, committed; None when its dedupe key is taken."""
    try:
        message_id = rows.insert(InboundMessage, values)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return message_id



def _by_dedupe_key(key: str):
    return db.session.execute(
        select(InboundMessage.id, InboundMessage.from_address, InboundMessage.subject)
        .where(InboundMessage.dedupe_key == key)
    ).one()


def _commit_keeping_state() -> None:
    """Commit without expiring what this session holds: the message was just
    written from here, and reading it back costs a query per message."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _nul_free(value: str | None) -> str | None:
    return value.replace("\x00", "\ufffd") if value else value


def enqueue_processing(message_id: int) -> None:
    queues.enqueue(queues.INBOUND, "workers.jobs.process_inbound", message_id)


def own_addresses() -> list[str]:
    config = current_app.config
    return [parseaddr(config["MAIL_DEFAULT_SENDER"])[1].lower(), f"@{config['INBOUND_DOMAIN']}"]


def process(message_id: int) -> InboundMessage:
    """Parse, route and act on one stored message; always ends with a status."""
    message = db.session.get(InboundMessage, message_id, options=[undefer(InboundMessage.raw)])
    if message is None:
        raise LookupError(f"no inbound message {message_id}")
    attempt = message.attempts = message.attempts + 1
    try:
        # The message's own changes are written once, at the commit below.
        with db.session.no_autoflush:
            message.status, message.reason = _process(message)
    except errors.InboundError as error:
        db.session.rollback()
        message = db.session.get(InboundMessage, message_id)
        message.status, message.reason = error.status, str(error)
        message.attempts = attempt
    except Exception as error:  # noqa: BLE001 - a bug must leave a status, not a lost message
        log.exception("inbound message %s failed", message_id, extra={"inbound_id": message_id})
        db.session.rollback()
        message = db.session.get(InboundMessage, message_id)
        message.status, message.reason = "failed", f"{type(error).__name__}: {error}"
        message.attempts = attempt
    message.reason = _nul_free(message.reason)
    message.processed_at = clock.now()
    _commit_keeping_state()
    log.info("inbound message %s %s: %s", message_id, message.status, message.reason,
             extra={"inbound_id": message_id, "status": message.status})
    outbox.enqueue_new()  # just what this message wrote
    return message


def _process(message: InboundMessage) -> tuple[str, str]:
    """(status, reason) for work done; errors.InboundError for work refused,
    which rolls back anything half-done."""
    try:
        parsed = parsing.parse_message(message.raw, own_addresses=own_addresses())
    except parsing.UnparseableMessage as error:
        raise errors.Unparseable(f"not readable as an email: {error}") from error
    parsed = _without_nul(parsed)
    message.kind = parsed.kind
    message.from_address = parsed.from_address
    message.subject = (parsed.subject or "")[:500] or None
    message.text = parsed.text
    if parsed.kind == "bounce":
        return "ignored", _record_bounce(parsed)  # ignored as words, but it did mark the delivery
    if parsed.kind == "auto_reply":
        raise errors.AutoReply(f"auto-reply: {parsed.kind_reason}")
    target = _target(parsed)
    if target is None:
        raise errors.UnknownReplyAddress(
            "not addressed to a reply address of ours, and answers no email we sent"
        )
    route = routes.resolve(target)
    author = _author(parsed, route)
    message.person_id = author.id
    message.routed_kind, message.routed_id = route.kind, route.id
    if parsed.kind == "calendar_reply":
        return "processed", routes.calendar_reply(route, author, parsed, message)
    if route.kind == "unsubscribe":
        return "processed", commands.apply(commands.unsubscribe_command(), author, route, message)
    command = parsing.parse_command(parsed.text)
    if command is not None:
        return "processed", commands.apply(command, author, route, message)
    if not parsed.text.strip():
        raise errors.NothingNew("no new text in the reply (only quoted history)")
    return "processed", routes.words(route, author, parsed.text, message)


def _without_nul(parsed: parsing.ParsedMessage) -> parsing.ParsedMessage:
    """PostgreSQL text cannot hold NUL; a broken message may carry it anywhere."""

    def clean(value):
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd")
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    fields = ("text", "full_text", "subject", "from_name", "from_address", "message_id",
              "in_reply_to", "references", "to_addresses", "bounced_recipients",
              "bounced_message_id", "bounce_status", "kind_reason")
    return dataclasses.replace(parsed, **{name: clean(getattr(parsed, name)) for name in fields})


def _target(parsed: parsing.ParsedMessage) -> addresses.ReplyTarget | None:
    secret = current_app.config["SECRET_KEY"]
    for address in parsed.to_addresses:
        found = addresses.parse_reply_address(secret, address)
        if found is not None:
            return found
    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    if not ids:
        return None
    wanted = [f"<{i}>" for i in ids]
    delivery = db.session.scalar(
        select(Delivery).where(Delivery.message_id.in_(wanted)).order_by(Delivery.id.desc())
    )
    if delivery is None:
        return None
    reply_to = delivery.params.get("reply_to")
    if reply_to:
        return addresses.ReplyTarget(reply_to[0], int(reply_to[1]))
    return addresses.ReplyTarget("d", delivery.id)


def _author(parsed: parsing.ParsedMessage, route: routes.Route) -> Person:
    """The expected person whose address the From carries; else quarantine."""
    sender = (parsed.from_address or "").lower()
    for person in route.people:
        if person.email == sender:
            return person
    expected = " or ".join(p.email for p in route.people) or "nobody (the person left)"
    raise errors.SenderMismatch(
        f"sent from {sender or 'an unreadable address'}, but this address belongs to {expected}"
    )


def _record_bounce(parsed: parsing.ParsedMessage) -> str:
    """Mark the bounced Delivery; a permanent failure suppresses the address."""
    delivery = None
    if parsed.bounced_message_id:
        delivery = db.session.scalar(
            select(Delivery).where(Delivery.message_id == f"<{parsed.bounced_message_id}>")
        )
    if delivery is None and parsed.bounced_recipients:
        delivery = db.session.scalar(
            select(Delivery)
            .where(Delivery.to_email.in_([r.lower() for r in parsed.bounced_recipients]),
                   Delivery.status == "sent",
                   Delivery.sent_at >= clock.now() - timedelta(days=7))
            .order_by(Delivery.sent_at.desc())
        )
    permanent = (parsed.bounce_status or "5").startswith("5")
    recipients = parsed.bounced_recipients or ([delivery.to_email] if delivery else [])
    if permanent:
        for recipient in recipients:
            outbox.suppress(recipient.lower(), f"bounce {parsed.bounce_status or ''}".strip())
    if delivery is not None and permanent:
        delivery.status = "bounced"
        delivery.last_error = f"bounced: {parsed.bounce_status or 'permanent failure'}"
    where = f"delivery {delivery.id}" if delivery else "no delivery found"
    kind = "permanent" if permanent else "temporary"
    return f"bounce ({kind}, {parsed.bounce_status or 'no status'}) for {', '.join(recipients) or 'unknown'}: {where}"


def pending_ids(limit: int = 1000) -> list[int]:
    """Stored but not processed (a lost job): the clock enqueues them again."""
    stale = clock.now() - timedelta(seconds=current_app.config["REPAIR_AFTER_SECONDS"])
    return list(db.session.scalars(
        select(InboundMessage.id)
        .where(InboundMessage.status == "new", InboundMessage.received_at <= stale)
        .limit(limit)
    ))


def reenqueue_stale() -> int:
    ids = pending_ids()
    for message_id in ids:
        enqueue_processing(message_id)
    return len(ids)

