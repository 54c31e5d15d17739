"""Volunteers apply to be buddies (double opt-in with the accounts magic
links), and coordinators approve or decline them. Functions add to the
session; the caller commits."""

from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import select

from app import clock, links, queues
from app.accounts import service as accounts
from app.accounts.errors import TokenInvalid
from app.accounts.models import LANGUAGES, ORGANISATION_KINDS, Person
from app.buddies.errors import NotABuddy, NotApprovable, PersonNotFound
from app.buddies.models import OPEN_STATUSES, BuddyProfile, Pair
from app.extensions import db
from app.outbox import service as outbox


def apply(data: dict) -> Person:
    """The join form was submitted: store the application and send the
    confirmation link (double opt-in). A known buddy's address gets a note
    instead and nothing changes, so the page is the same either way."""
    now = clock.now()
    person = Person.by_email(data["email"])
    profile = BuddyProfile.of(person.id) if person is not None else None
    if profile is not None and profile.status != "unconfirmed":
        outbox.queue_email(
            person,
            "buddy_already_applied",
            stream="transactional",
            key=f"{person.id}:buddies:already-applied:{secrets.token_hex(8)}",
            params={"login_url": links.url("/login")},
            queue=queues.LOGIN,
        )
        return person
    languages = [code for code in LANGUAGES if code in data["languages"]]
    if person is None:
        person = Person(email=data["email"], status="applicant", created_at=now)
        db.session.add(person)
    if person.status == "applicant":
        # Unconfirmed details may be corrected by applying again; a confirmed
        # person's name and time zone are theirs to change, on their own page.
        person.name = data["name"].strip()
        person.timezone = data["timezone"]
        person.language = languages[0] if languages else "en"
        person.consented_at = now
    db.session.flush()
    if profile is None:
        profile = BuddyProfile(person_id=person.id, status="unconfirmed", created_at=now)
        db.session.add(profile)
    profile.languages = languages
    profile.years_experience = int(data["years_experience"])
    profile.organisation_kinds = [k for k in ORGANISATION_KINDS if k in data["organisation_kinds"]]
    profile.bio = (data.get("bio") or "").strip()
    profile.capacity = int(data["capacity"])
    db.session.flush()
    # The accounts magic link, with its own purpose and landing page.
    token_id, raw = accounts.issue_token(person.id, "buddy")
    outbox.queue_email(
        person,
        "buddy_confirm_application",
        stream="transactional",
        key=f"{person.id}:auth:buddy:{token_id}",
        params={
            "minutes": current_app.config["LOGIN_TOKEN_MINUTES"],
            "login_url": links.url("/buddies/join"),
        },
        secret_params={"link": links.url(f"/buddies/confirm/{raw}")},
        queue=queues.LOGIN,
    )
    return person


def approved_profile(person_id: int) -> BuddyProfile:
    """The person's buddy profile, when a coordinator approved it."""
    profile = BuddyProfile.of(person_id)
    if profile is None or profile.status != "approved":
        raise NotABuddy("Only an approved buddy has a buddy profile to edit.")
    return profile


def update_profile(person_id: int, data: dict) -> BuddyProfile:
    """An approved buddy changes their own profile. A lower capacity (0: no
    new champions for now) holds back new proposals only: pairs already
    running go on, and matching sees the new number at once."""
    profile = approved_profile(person_id)
    profile.languages = [code for code in LANGUAGES if code in data["languages"]]
    profile.organisation_kinds = [k for k in ORGANISATION_KINDS if k in data["organisation_kinds"]]
    profile.bio = (data.get("bio") or "").strip()
    profile.capacity = int(data["capacity"])
    db.session.flush()
    return profile


def peek_application_token(raw: str) -> None:
    """Raises TokenInvalid unless `raw` is an unused buddy application link."""
    token = accounts.peek_token(raw)
    if token.purpose != "buddy":
        raise TokenInvalid("This link is not a buddy application link. Apply again below.")


def confirm_application(raw: str) -> Person:
    """The applicant pressed Continue: the address is theirs. The application
    now waits for a coordinator. Raises TokenInvalid."""
    peek_application_token(raw)
    person, _next = accounts.consume_token(raw)
    now = clock.now()
    if person.status == "applicant":
        person.status = "active"
        person.confirmed_at = now
    profile = BuddyProfile.of(person.id)
    if profile is not None and profile.status == "unconfirmed":
        profile.status = "applied"
        profile.confirmed_at = now
    return person


def person_by(email_or_id: str | int) -> Person:
    if isinstance(email_or_id, int):
        person = db.session.get(Person, email_or_id)
    else:
        person = Person.by_email(email_or_id)
    if person is None:
        raise PersonNotFound(f"No one with the address {str(email_or_id).strip().lower()} is known to Hearth.")
    return person


def approve_buddy(email_or_id: str | int, coordinator_id: int | None = None) -> tuple[BuddyProfile, bool]:
    """A coordinator approves an application; (profile, changed). Approving
    twice changes nothing."""
    person = person_by(email_or_id)
    profile = BuddyProfile.of(person.id)
    if profile is None:
        raise NotApprovable(f"{person.email} has not applied to be a buddy.")
    if profile.status == "unconfirmed":
        raise NotApprovable(
            f"{person.email} has not confirmed their address yet: they must press the link we emailed."
        )
    if profile.status == "approved":
        return profile, False
    profile.status = "approved"
    profile.decided_at = clock.now()
    profile.decided_by_id = coordinator_id
    profile.decision_reason = None
    person.is_buddy = True
    outbox.queue_email(
        person, "buddy_approved", stream="transactional", key=f"{person.id}:buddies:approved"
    )
    return profile, True


def decline_buddy(email_or_id: str | int, coordinator_id: int | None, reason: str) -> BuddyProfile:
    """A coordinator declines an application (or retires a buddy without pairs)."""
    person = person_by(email_or_id)
    profile = BuddyProfile.of(person.id)
    if profile is None:
        raise NotApprovable(f"{person.email} has not applied to be a buddy.")
    if db.session.scalar(select(Pair.id).where(Pair.buddy_id == person.id,
                                               Pair.status.in_(OPEN_STATUSES))):
        raise NotApprovable(f"{person.email} still has champions: end those pairings first.")
    was_approved = profile.status == "approved"
    profile.status = "declined"
    profile.decided_at = clock.now()
    profile.decided_by_id = coordinator_id
    profile.decision_reason = (reason or "").strip() or None
    person.is_buddy = False
    if not was_approved:
        outbox.queue_email(
            person, "buddy_declined", stream="transactional", key=f"{person.id}:buddies:declined"
        )
    return profile
