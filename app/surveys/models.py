"""Tables of graduation and surveys: the graduation of a champion, one
invitation per person and survey (and pair), the response and its answers.

Answers are rows (one per question, one per chosen option of a multiple
choice), so the results are counted by the database, not by Python."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Person
from app.columns import UTCDateTime
from app.extensions import db


class Graduation(db.Model):
    """A champion finished the programme: at the end of their journey, by
    replying "graduate", or because a coordinator said so. The journey in
    numbers is kept as it was on the day."""

    __tablename__ = "graduations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL"), default=None, index=True
    )
    graduated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # journey_end | reply | coordinator
    how: Mapped[str] = mapped_column(String(12))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), default=None)
    weeks: Mapped[int] = mapped_column(default=0)
    checkin_count: Mapped[int] = mapped_column(default=0)
    meetings_attended: Mapped[int] = mapped_column(default=0)

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")

    @classmethod
    def of(cls, person_id: int) -> Graduation | None:
        return db.session.scalar(select(cls).where(cls.person_id == person_id))


class SurveyInvitation(db.Model):
    """One person asked to answer one survey (emails/surveys/<survey>.toml);
    a buddy once per pair (`scope` "pair:<id>"). Its signed id is the link."""

    __tablename__ = "survey_invitations"
    __table_args__ = (
        UniqueConstraint("person_id", "survey", "scope",
                         name="uq_survey_invitations_person_id_survey_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    survey: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(40), default="")
    # champion | buddy: whose point of view the answers are from.
    role: Mapped[str] = mapped_column(String(12))
    pair_id: Mapped[int | None] = mapped_column(ForeignKey("pairs.id", ondelete="SET NULL"), default=None)
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    person: Mapped[Person] = relationship(lazy="joined")


class SurveyResponse(db.Model):
    """What one person answered. Kept (without the person) when they delete
    their account, so the programme's results do not change behind its back."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_survey_submitted_at", "survey", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # UNIQUE: one response per invitation; answering again replaces its answers.
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="SET NULL"), unique=True, default=None
    )
    survey: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(12))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None, index=True
    )
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL"), default=None, index=True
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SurveyAnswer(db.Model):
    """One answer: `number` for a rating or nps, `choice` for a single choice
    (one row per chosen option of a multiple choice), `text` for free text."""

    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(String(40))
    number: Mapped[int | None] = mapped_column(default=None)
    choice: Mapped[str | None] = mapped_column(String(40), default=None)
    text: Mapped[str | None] = mapped_column(Text, default=None)
