from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.columns import UTCDateTime
from app.extensions import db

ORGANISATION_KINDS = {
    "community": "Community group",
    "cooperative": "Cooperative",
    "nonprofit": "Non-profit",
    "company": "Company",
    "school": "School",
    "faith": "Faith community",
    "other": "Other",
}

ORGANISATION_SIZES = {
    "1-9": "Fewer than 10 people",
    "10-49": "10 to 49 people",
    "50-249": "50 to 249 people",
    "250+": "250 people or more",
}

# Answers to "Could your organisation pay a professional consultant?" (the
# buddy programme's criteria read it: emails/programme.toml).
CONSULTANT_ANSWERS = {
    "no": "No, we could not afford one",
    "unsure": "We are not sure",
    "yes": "Yes, we could pay one",
}

LANGUAGES = {
    "en": "English",
    "de": "Deutsch",
    "es": "Español",
    "fr": "Français",
    "nl": "Nederlands",
    "pt": "Português",
}


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    size: Mapped[str] = mapped_column(String(10))
    # no | unsure | yes (CONSULTANT_ANSWERS); None for those who signed up before it was asked.
    could_pay_consultant: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Person(db.Model):
    """Anyone Hearth knows: champion, buddy and/or coordinator."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; UNIQUE, so addresses are unique case-insensitively.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    # pending: signed up, address not yet confirmed; active: confirmed.
    status: Mapped[str] = mapped_column(String(12), default="pending")
    is_champion: Mapped[bool] = mapped_column(default=False)
    is_buddy: Mapped[bool] = mapped_column(default=False)
    is_coordinator: Mapped[bool] = mapped_column(default=False)
    situation: Mapped[str] = mapped_column(Text, default="")
    paused_until: Mapped[date | None] = mapped_column(default=None)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")

    @classmethod
    def by_email(cls, email: str) -> Person | None:
        return db.session.scalar(select(cls).where(cls.email == email.strip().lower()))

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    @property
    def roles(self) -> list[str]:
        return [
            role
            for role, has in (
                ("champion", self.is_champion),
                ("buddy", self.is_buddy),
                ("coordinator", self.is_coordinator),
            )
            if has
        ]


class LoginToken(db.Model):
    """A magic link. Only the SHA-256 of the token is stored; it is used once."""

    __tablename__ = "login_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # confirm: double opt-in of a signup; login: a returning person's sign-in.
    purpose: Mapped[str] = mapped_column(String(12))
    next_path: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Cohort(db.Model):
    """Champions who started in the same month travel together."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    starts_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Enrollment(db.Model):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("person_id", name="uq_enrollments_person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when a coordinator placed the person by hand, with their reason.
    placed_by_coordinator: Mapped[bool] = mapped_column(default=False)

    cohort: Mapped[Cohort] = relationship(lazy="joined")


Index("ix_people_created_at", Person.created_at)
