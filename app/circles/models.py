"""Tables of the support circles: the circle and its series, single-meeting
changes, memberships, RSVPs per meeting, placement proposals and settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Person
from app.columns import UTCDateTime
from app.extensions import db

PURPOSES = {
    "peer": "a monthly peer support circle for champions",
    "recovery": "a recovery circle for champions who feel worn out",
    "cohort": "a circle for champions who started together",
}
# RFC 5545 PARTSTAT values a member can answer with, and how people say them.
ANSWERS = {"ACCEPTED": "yes", "DECLINED": "no", "TENTATIVE": "maybe"}


class Circle(db.Model):
    """A small circle that meets on a recurring schedule (an RFC 5545 RRULE).

    `starts_at` is the first meeting of the series as it stands; the wall-clock
    time in `timezone` is what repeats. `uid` is fixed at creation, so every
    member's calendar keeps recognising the series; `sequence` rises with
    every change (RFC 5546 3.1.4).
    """

    __tablename__ = "circles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # peer | recovery | cohort (PURPOSES)
    purpose: Mapped[str] = mapped_column(String(12), default="peer")
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL"), default=None
    )
    facilitator_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    # The facilitator role passes, meeting by meeting, among willing members.
    rotates_facilitation: Mapped[bool] = mapped_column(default=False)
    timezone: Mapped[str] = mapped_column(String(64))
    rrule: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    minutes: Mapped[int]
    video_url: Mapped[str] = mapped_column(String(500))
    capacity: Mapped[int] = mapped_column(default=8)
    uid: Mapped[str] = mapped_column(String(200), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    # active | ended
    status: Mapped[str] = mapped_column(String(12), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    facilitator: Mapped[Person | None] = relationship(foreign_keys=[facilitator_id])

    @classmethod
    def by_name(cls, name: str) -> Circle | None:
        return db.session.scalar(select(cls).where(cls.name == name.strip()))

    @property
    def purpose_text(self) -> str:
        return PURPOSES.get(self.purpose, PURPOSES["peer"])


class MeetingChange(db.Model):
    """One meeting of a series cancelled (an EXDATE) or moved (an override),
    named by its original start, which is its RECURRENCE-ID."""

    __tablename__ = "circle_meeting_changes"
    __table_args__ = (
        UniqueConstraint(
            "circle_id", "original_start", name="uq_circle_meeting_changes_circle_id_original_start"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    original_start: Mapped[datetime] = mapped_column(UTCDateTime())
    # cancelled | moved
    kind: Mapped[str] = mapped_column(String(10))
    start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    minutes: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Membership(db.Model):
    """A person in a circle from `joined_at` until `left_at`. Leaving and
    joining again makes a new row, so the history stays readable."""

    __tablename__ = "circle_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    left_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    willing_to_facilitate: Mapped[bool] = mapped_column(default=False)
    # An answer for the whole series (a calendar reply without RECURRENCE-ID);
    # an answer for one meeting (Rsvp) wins over it for that meeting.
    series_partstat: Mapped[str | None] = mapped_column(String(16), default=None)
    series_comment: Mapped[str | None] = mapped_column(Text, default=None)
    series_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    person: Mapped[Person] = relationship(lazy="joined")


class Rsvp(db.Model):
    """A member's answer for one meeting, named by its original start."""

    __tablename__ = "circle_rsvps"
    __table_args__ = (
        UniqueConstraint(
            "circle_id",
            "person_id",
            "occurrence_start",
            name="uq_circle_rsvps_circle_id_person_id_occurrence_start",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    occurrence_start: Mapped[datetime] = mapped_column(UTCDateTime())
    # ACCEPTED | DECLINED | TENTATIVE (RFC 5545 PARTSTAT)
    partstat: Mapped[str] = mapped_column(String(16))
    # calendar (an iTIP REPLY/COUNTER by email) | link (the RSVP page)
    via: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    # A COUNTER's proposed time: recorded for the coordinators, never applied.
    proposed_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    proposed_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL"), default=None
    )
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Placement(db.Model):
    """Hearth's proposal of a circle for a person, which a coordinator
    confirms, changes or dismisses (or automatic placement confirms).
    `circle_id` is None when no circle fits; `reason` says why either way."""

    __tablename__ = "circle_placements"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    circle_id: Mapped[int | None] = mapped_column(
        ForeignKey("circles.id", ondelete="SET NULL"), default=None
    )
    # placement (the programme's turn) | recovery (the person asked by replying `circle`)
    kind: Mapped[str] = mapped_column(String(12), default="placement")
    # proposed | confirmed | dismissed
    status: Mapped[str] = mapped_column(String(12), default="proposed")
    reason: Mapped[str] = mapped_column(Text, default="")
    # programme | reply | coordinator
    via: Mapped[str] = mapped_column(String(12), default="programme")
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")
    circle: Mapped[Circle | None] = relationship()


class CircleSetting(db.Model):
    """A switch coordinators flip for circles, e.g. automatic placement."""

    __tablename__ = "circle_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )


class CalendarFeed(db.Model):
    """A person's calendar feed link, once they have replaced it: its token
    names `generation`, and a token of an older generation no longer opens
    the feed. No row: the first generation, the link Hearth has always given."""

    __tablename__ = "calendar_feeds"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[int] = mapped_column(default=1)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime())
