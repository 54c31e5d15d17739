"""Who gets which email is decided elsewhere; this module owns the outbox rows
and the one way they leave: claim -> render -> SMTP -> mark (invariants 1, 2).

The window left by design: if SMTP accepted a message and the process died
before `sent` was committed, the lease expires and the message is sent again,
with the same Message-ID, so mail clients show it once.
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from datetime import datetime, time, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app import clock, links, queues, sealed
from app.accounts.models import ORGANISATION_KINDS, Person
from app.extensions import db
from app.outbox import unsubscribes
from app.outbox.models import Delivery, Suppression
from app.outbox.smtp import SMTPSession
from emails import addresses, calendar_mime, compose, render, sequences

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Re-enqueue a pending row only when its job has been waiting this long, so a
# slow queue is not flooded by the clock.
ENQUEUE_STALE_AFTER = timedelta(minutes=2)
# Enhanced status codes 5.1.x (bad mailbox / address): a hard bounce.
HARD_BOUNCE_CODES = {550, 551, 553}


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
    """Write the Delivery for `template` to `person`; the caller commits.

    `key` is the idempotency key (person, journey, step, occurrence): queueing
    the same key twice returns the row already there. `send_at` (default
    `due_at`) is later than `due_at` when the email waits, for `held_reason`.
    """
    existing = db.session.scalar(select(Delivery).where(Delivery.idempotency_key == key))
    if existing is not None:
        return existing
    now = clock.now()
    delivery = Delivery(
        idempotency_key=key,
        person_id=person.id,
        to_email=person.email,
        stream=stream,
        template=template,
        queue=queue,
        params=params or {},
        secret_params=sealed.seal(secret_params) if secret_params else None,
        status="pending",
        created_at=now,
        due_at=due_at or now,
        next_attempt_at=send_at or due_at or now,
        held_reason=held_reason,
        attempts=0,
    )
    db.session.add(delivery)
    db.session.flush()
    return delivery


def enqueue_pending(limit: int = 5000) -> int:
    """Enqueue send jobs for due pending rows not queued recently. Call after commit.

    Also takes back `sending` rows whose lease expired (a worker died). Returns
    how many deliveries were enqueued.
    """
    now = clock.now()
    stale = now - ENQUEUE_STALE_AFTER
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
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    db.session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(enqueued_at=now))
    db.session.commit()
    by_queue: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_queue[row.queue].append(row.id)
    size = current_app.config["SEND_BATCH_SIZE"]
    for name, queue_ids in by_queue.items():
        for start in range(0, len(queue_ids), size):
            queues.enqueue(name, "workers.jobs.send_deliveries", queue_ids[start : start + size])
    return len(ids)


def _claim(delivery_id: int, now: datetime) -> Delivery | None:
    """pending -> sending with a lease, in one conditional UPDATE (invariant 2)."""
    lease = now + timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    result = db.session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            or_(
                and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
                and_(Delivery.status == "sending", Delivery.lease_until < now),
            ),
        )
        .values(status="sending", lease_until=lease, attempts=Delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.get(Delivery, delivery_id, populate_existing=True)


def _finish(delivery: Delivery, **values) -> None:
    """Write an outcome only while we still hold the lease we claimed."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.status == "sending")
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 6 * 3600))


def is_suppressed(email: str) -> bool:
    return db.session.scalar(select(Suppression.id).where(Suppression.email == email)) is not None


def suppress(email: str, reason: str) -> None:
    if not is_suppressed(email):
        db.session.add(Suppression(email=email.lower(), reason=reason, created_at=clock.now()))


def build_message(delivery: Delivery, now: datetime):
    """Render and compose the MIME message for a delivery (no sending).

    Options a feature may put in `params`: `reply_to` = [kind, id] for the
    signed reply address (default: this delivery), `also_to` = [person ids]
    for one email to several people (an introduction), and `thread` = a
    Message-ID this email continues (In-Reply-To/References), and `ics` +
    `ics_method` = an iCalendar invitation (REQUEST/CANCEL) built when the
    change happened, attached the way Gmail, Outlook and Apple Mail expect.
    """
    config = current_app.config
    person = db.session.get(Person, delivery.person_id) if delivery.person_id else None
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
    sender_name, sender_email = parseaddr(config["MAIL_DEFAULT_SENDER"])
    display = rendered.sender_name or sender_name or "Hearth"
    domain = sender_email.rpartition("@")[2]
    msg_id = compose.message_id(delivery.id, delivery.idempotency_key, config["SECRET_KEY"], domain)
    reply_kind, reply_id = delivery.params.get("reply_to") or ("d", delivery.id)
    reply_to = compose.address(display, addresses.reply_address(
        config["SECRET_KEY"], config["INBOUND_DOMAIN"], reply_kind, int(reply_id)
    ))
    if delivery.params.get("reply_to_person"):
        # A forwarded question: the answer goes straight to the person who asked.
        asker = db.session.get(Person, delivery.params["reply_to_person"])
        if asker is not None:
            reply_to = compose.address(asker.name, asker.email)
    recipients = [compose.address(person.name if person else None, delivery.to_email)]
    for other_id in delivery.params.get("also_to") or []:
        other = db.session.get(Person, other_id)
        if other is not None and not is_suppressed(other.email):
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
        calendar_mime.attach_calendar(
            message, delivery.params["ics"].encode(), method=delivery.params.get("ics_method", "REQUEST")
        )
    return message, rendered, sender_email, [r.addr_spec for r in recipients]


def _list_headers(delivery: Delivery, config) -> dict[str, str]:
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    # An email to several people (an introduction) carries no personal
    # unsubscribe link: one reader must not unsubscribe another.
    if (delivery.stream not in ("transactional", "replies") and delivery.person_id
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
        for delivery_id in delivery_ids:
            outcome[_send_one(delivery_id, session)] += 1
    finally:
        session.close()
    return dict(outcome)


def _send_one(delivery_id: int, session: SMTPSession) -> str:
    now = clock.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return "skipped"
    if delivery.stream not in ("transactional", "replies"):
        if is_suppressed(delivery.to_email):
            _finish(delivery, status="suppressed", last_error="address is on the suppression list")
            return "suppressed"
        if delivery.person_id and unsubscribes.is_unsubscribed(delivery.person_id, delivery.stream):
            _finish(delivery, status="suppressed", last_error=f"unsubscribed from {delivery.stream}")
            return "suppressed"
        resume = _pause_ends(delivery, now)
        if resume is not None:
            _finish(delivery, status="pending", next_attempt_at=resume, enqueued_at=None,
                    held_reason=f"paused until {resume.date().isoformat()}",
                    attempts=delivery.attempts - 1)
            return "held"
    try:
        message, rendered, envelope_from, envelope_to = build_message(delivery, now)
    except (render.TemplateError, compose.HeaderInjection, ValueError) as error:
        log.error("delivery %s cannot be built: %s", delivery.id, error)
        _finish(delivery, status="failed", last_error=f"cannot build the email: {error}")
        return "failed"
    try:
        session.send(envelope_from, envelope_to, message.as_bytes())
    except smtplib.SMTPRecipientsRefused as error:
        code, answer = next(iter(error.recipients.values()))
        return _refused(delivery, session, code, answer, now)
    except smtplib.SMTPResponseException as error:
        return _refused(delivery, session, error.smtp_code, error.smtp_error, now)
    except (smtplib.SMTPException, OSError) as error:
        session.reset()
        return _retry(delivery, now, None, f"connection: {error}")
    _finish(
        delivery,
        status="sent",
        sent_at=clock.now(),
        message_id=message["Message-ID"],
        subject=rendered.subject,
        secret_params=None,
        smtp_code=250,
        last_error=None,
    )
    log.info("delivery %s sent as %s", delivery.id, message["Message-ID"])
    return "sent"


def _pause_ends(delivery: Delivery, now: datetime) -> datetime | None:
    """When the person is paused: the first 09:00 weekday slot after the pause."""
    person = db.session.get(Person, delivery.person_id) if delivery.person_id else None
    if person is None or person.paused_until is None:
        return None
    zone = ZoneInfo(person.timezone)
    if now.astimezone(zone).date() >= person.paused_until:
        return None
    start = datetime.combine(person.paused_until, time.min, zone)
    return sequences.next_window(time(9, 0), True, person.timezone, start)


def _refused(delivery: Delivery, session: SMTPSession, code: int, answer, now: datetime) -> str:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    if 400 <= code < 500 or code < 200:
        session.reset()
        return _retry(delivery, now, code, f"{code} {text}")
    if code in HARD_BOUNCE_CODES:
        suppress(delivery.to_email, f"SMTP {code} {text}")
    _finish(delivery, status="failed", smtp_code=code, last_error=f"{code} {text}")
    return "failed"


def _retry(delivery: Delivery, now: datetime, code: int | None, error: str) -> str:
    if delivery.attempts >= MAX_ATTEMPTS:
        _finish(delivery, status="failed", smtp_code=code, last_error=f"gave up: {error}")
        return "failed"
    _finish(
        delivery,
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
