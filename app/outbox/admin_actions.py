"""What a coordinator may do to a delivery by hand: send a failed or bounced
one again, send every failed one again, or cancel one not sent yet. Each is
one conditional UPDATE, so a row a worker holds (`sending`) is never touched,
and doing it twice changes nothing. The caller commits, then calls
`outbox.enqueue_new()`, which enqueues the rows a retry made due."""

from __future__ import annotations

from sqlalchemy import func, literal, update

from app import clock
from app.extensions import db
from app.outbox import service as outbox
from app.outbox.models import Delivery

RETRYABLE = ("failed", "bounced")


class DeliveryActionRefused(Exception):
    """The delivery is not in a state that allows the action; the message says why."""


def _describe(delivery_id: int) -> str:
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        return f"There is no email #{delivery_id}."
    return f"Email #{delivery_id} is {delivery.status}"


def retry(delivery_id: int, by_email: str | None = None) -> Delivery:
    """A failed or bounced email goes back to pending, due now, with a fresh
    count of attempts. A suppressed address stays suppressed: the outbox then
    marks the row suppressed instead of sending."""
    now = clock.now()
    revived = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_(RETRYABLE))
        .values(status="pending", attempts=0, next_attempt_at=now, enqueued_at=None,
                lease_until=None, held_reason=None,
                last_error=_note(Delivery.last_error, by_email))
        .returning(Delivery.id, Delivery.queue)
        .execution_options(synchronize_session=False)
    ).all()
    outbox.remember_due([tuple(row) for row in revived])
    if len(revived) != 1:
        raise DeliveryActionRefused(f"{_describe(delivery_id)}: only failed or bounced emails can be retried.")
    return db.session.get(Delivery, delivery_id, populate_existing=True)


def retry_all_failed(by_email: str | None = None) -> int:
    """Every failed email (not the bounced: their addresses said no) goes back to pending."""
    now = clock.now()
    revived = db.session.execute(
        update(Delivery)
        .where(Delivery.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now, enqueued_at=None,
                lease_until=None, held_reason=None, last_error=_note(Delivery.last_error, by_email))
        .returning(Delivery.id, Delivery.queue)
        .execution_options(synchronize_session=False)
    ).all()
    outbox.remember_due([tuple(row) for row in revived])
    return len(revived)


def cancel(delivery_id: int, reason: str = "", by_email: str | None = None) -> Delivery:
    """A pending email (waiting, held or due) is not sent. Its sealed values go."""
    why = "cancelled by a coordinator" + (f" ({by_email})" if by_email else "")
    if reason.strip():
        why += f": {reason.strip()}"
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "pending")
        .values(status="cancelled", last_error=why[:1000], secret_params=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise DeliveryActionRefused(f"{_describe(delivery_id)}: only an email not yet sent can be cancelled.")
    return db.session.get(Delivery, delivery_id, populate_existing=True)


def _note(previous, by_email: str | None):
    """Keep the last SMTP answer readable until the next attempt replaces it."""
    prefix = f"retried by {by_email}; before: " if by_email else "retried; before: "
    return func.substr(literal(prefix) + func.coalesce(previous, literal("")), 1, 1000)
