from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.columns import UTCDateTime
from app.extensions import db

STATUSES = ("new", "processed", "ignored", "quarantined", "failed")


class InboundMessage(db.Model):
    """One received email, exactly as it arrived, with what became of it.

    Stored before it is parsed, so a parsing bug never loses a person's words;
    `flask inbound reprocess ID` runs it again.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_status_received_at", "status", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Message-ID header, or "sha256:<digest of the bytes>" when it has none:
    # UNIQUE, so a message delivered twice is stored once.
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    raw: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    size: Mapped[int]
    # webhook | smtp | lmtp | simulator
    received_via: Mapped[str] = mapped_column(String(12))
    envelope_from: Mapped[str | None] = mapped_column(String(320), default=None)
    envelope_to: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="new")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # What parsing found (for lists and review; the raw bytes stay the truth).
    from_address: Mapped[str | None] = mapped_column(String(320), default=None)
    subject: Mapped[str | None] = mapped_column(String(500), default=None)
    kind: Mapped[str | None] = mapped_column(String(20), default=None)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    # Who and what it was routed to: ("pair", 7), ("delivery", 42), ...
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None, index=True
    )
    routed_kind: Mapped[str | None] = mapped_column(String(20), default=None)
    routed_id: Mapped[int | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
