from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import UTCDateTime
from app.extensions import db


class Journey(db.Model):
    """One person travelling one sequence (emails/sequences/<sequence>.toml).

    Steps are remembered by key (`passed`), never by position, so editing a
    sequence file while journeys run is safe. `version` makes two ticks that
    race on the same journey fail loudly instead of doubling an email.
    """

    __tablename__ = "journeys"
    __table_args__ = (
        UniqueConstraint(
            "person_id", "sequence", "scope", name="uq_journeys_person_id_sequence_scope"
        ),
        # tick() reads only due rows through this index, never the whole table.
        Index("ix_journeys_state_next_due_at", "state", "next_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[str] = mapped_column(String(60))
    # One person may travel a sequence several times at once, e.g. a buddy's
    # check-in prompts once per pair: scope "pair:7". "" for the usual single run.
    scope: Mapped[str] = mapped_column(String(40), default="")
    # Template values and options for every email of this run (JSON-ready),
    # e.g. {"pair_id": 7, "reply_to": ["p", 7]}.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # active | completed | stopped
    state: Mapped[str] = mapped_column(String(12), default="active")
    next_step: Mapped[str | None] = mapped_column(String(60), default=None)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # What `after` of the next step counts from; kept to recompute on a time-zone change.
    anchor_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    passed: Mapped[list] = mapped_column(JSON, default=list)
    # How often the current (repeating) step has been sent.
    occurrence: Mapped[int] = mapped_column(default=0)
    stopped_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @classmethod
    def for_person(cls, person_id: int, sequence: str, scope: str = "") -> Journey | None:
        return db.session.scalar(
            select(cls).where(
                cls.person_id == person_id, cls.sequence == sequence, cls.scope == scope
            )
        )
