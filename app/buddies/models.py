"""Tables of the buddy programme: qualification, buddy profiles, pairs,
check-ins, concerns (the at-risk list) and the programme's settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Person
from app.columns import UTCDateTime
from app.extensions import db


class Qualification(db.Model):
    """Whether a champion qualifies for free buddy support, and why.

    `assessed_*` is what the criteria of emails/programme.toml said when the
    champion confirmed; `qualifies` is what counts, which a coordinator may
    have overridden (either way) with a reason.
    """

    __tablename__ = "qualifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), unique=True
    )
    qualifies: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text, default="")
    assessed_qualifies: Mapped[bool]
    assessed_reason: Mapped[str] = mapped_column(Text, default="")
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    overridden_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    override_reason: Mapped[str | None] = mapped_column(Text, default=None)
    overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")

    @classmethod
    def of(cls, person_id: int) -> Qualification | None:
        return db.session.scalar(select(cls).where(cls.person_id == person_id))


class BuddyProfile(db.Model):
    """A volunteer's application and, once approved, their buddy profile.

    Life: unconfirmed (applied, address not confirmed) -> applied (confirmed,
    waits for a coordinator) -> approved | declined.
    """

    __tablename__ = "buddy_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(12), default="unconfirmed")
    languages: Mapped[list] = mapped_column(JSON, default=list)
    years_experience: Mapped[int] = mapped_column(default=0)
    organisation_kinds: Mapped[list] = mapped_column(JSON, default=list)
    bio: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    decision_reason: Mapped[str | None] = mapped_column(Text, default=None)

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")

    @classmethod
    def of(cls, person_id: int) -> BuddyProfile | None:
        return db.session.scalar(select(cls).where(cls.person_id == person_id))


# A pair in one of these holds one of the buddy's places (capacity is a hard limit).
OPEN_STATUSES = ("suggested", "proposed", "active")


class Pair(db.Model):
    """A champion and a buddy, from suggestion to the end of their pairing.

    Life: suggested (waits for a coordinator) -> proposed (both may object
    until `consent_until`) -> active (introduced; check-ins) -> ended.
    A proposal someone objected to becomes `objected`; one a coordinator took
    back, `withdrawn`. UNIQUE (champion, buddy): the same pair never twice.
    """

    __tablename__ = "pairs"
    __table_args__ = (
        UniqueConstraint("champion_id", "buddy_id", name="uq_pairs_champion_id_buddy_id"),
        Index("ix_pairs_status_consent_until", "status", "consent_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    champion_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    buddy_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="suggested")
    score: Mapped[float] = mapped_column(default=0.0)
    # Why this buddy: the parts of the score, in words, for coordinators.
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # auto | coordinator
    proposed_how: Mapped[str | None] = mapped_column(String(12), default=None)
    proposed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    consent_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Kept for the record only: no email and no page says who objected.
    objected_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    objected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    objected_how: Mapped[str | None] = mapped_column(String(20), default=None)
    introduced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    intro_message_id: Mapped[str | None] = mapped_column(String(250), default=None)
    # The introduction or the latest check-in: silence is counted from here.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The `last_activity_at` the buddy was last nudged for (once per silence).
    nudged_for: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    end_reason: Mapped[str | None] = mapped_column(Text, default=None)

    champion: Mapped[Person] = relationship(foreign_keys=[champion_id], lazy="joined")
    buddy: Mapped[Person] = relationship(foreign_keys=[buddy_id], lazy="joined")

    @property
    def scope(self) -> str:
        """The journey scope of this pair's check-in prompts."""
        return f"pair:{self.id}"

    def member_ids(self) -> tuple[int, int]:
        return (self.champion_id, self.buddy_id)

    def other(self, person_id: int) -> Person:
        return self.buddy if person_id == self.champion_id else self.champion


class Checkin(db.Model):
    """What a champion or buddy wrote about their pairing: the new text only,
    and the energy score when they gave one."""

    __tablename__ = "checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    # UNIQUE: one inbound message is logged at most once, however often it is processed.
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL"), unique=True, default=None
    )
    text: Mapped[str] = mapped_column(Text, default="")
    energy: Mapped[int | None] = mapped_column(default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    author: Mapped[Person] = relationship(foreign_keys=[author_id], lazy="joined")


class Concern(db.Model):
    """A reason a pair is on the coordinators' at-risk list, until resolved."""

    __tablename__ = "pair_concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    # silence | low_energy | burnout_words
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    checkin_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkins.id", ondelete="SET NULL"), default=None
    )
    # UNIQUE: the same cause is listed once (one silence, one check-in).
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )

    pair: Mapped[Pair] = relationship(lazy="joined")


class ProgrammeSetting(db.Model):
    """A switch coordinators flip from the dashboard, e.g. automatic matching."""

    __tablename__ = "programme_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
