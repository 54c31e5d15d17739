from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import UTCDateTime
from app.extensions import db

# Streams a person can unsubscribe from; "transactional" (sign-in links) never is.
STREAMS = ("transactional", "onboarding", "buddy", "circles", "surveys")


class Delivery(db.Model):
    """One email that will be sent, written in the transaction that caused it.

    Life: pending -> sending (claimed with a lease) -> sent | failed | bounced;
    pending -> cancelled | suppressed. A pending row with `next_attempt_at`
    waits for a retry; a `sending` row whose lease expired is pending again.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # person, journey, step, occurrence: UNIQUE, so a cause can write its email only once.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    to_email: Mapped[str] = mapped_column(String(254))
    stream: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(80))
    queue: Mapped[str] = mapped_column(String(20), default="default")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # Fernet-encrypted JSON for values that must not rest in clear (a sign-in
    # token); wiped once the email is sent.
    secret_params: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # When a send job for this row was last put on a queue (the clock re-enqueues stale ones).
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    message_id: Mapped[str | None] = mapped_column(String(250), default=None)
    subject: Mapped[str | None] = mapped_column(String(300), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    smtp_code: Mapped[int | None] = mapped_column(default=None)
    # Why it waits past `due_at` (the attention cap, a pause): visible to coordinators.
    held_reason: Mapped[str | None] = mapped_column(String(200), default=None)


class Suppression(db.Model):
    """An address the outbox will not send to (hard bounce, complaint, coordinator)."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Unsubscribe(db.Model):
    """A person does not want a stream ("all": every programme email).
    Sign-in links (stream "transactional") are never suppressed by it."""

    __tablename__ = "unsubscribes"
    __table_args__ = (UniqueConstraint("person_id", "stream", name="uq_unsubscribes_person_id_stream"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(20))
    # how: page | one-click | mailto | reply-command | preferences
    how: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
