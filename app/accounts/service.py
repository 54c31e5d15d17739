"""Decisions about people: signup, magic links, preferences, export, deletion.

Functions add to the session and leave the commit to the caller, so that the
Delivery row commits with the change that caused it (invariant 1).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, delete, select, update

from app import clock, links, queues, rows
from app.accounts.errors import NotFound, TokenInvalid
from app.accounts.models import (
    CONSULTANT_ANSWERS,
    LANGUAGES,
    ORGANISATION_KINDS,
    Cohort,
    Enrollment,
    LoginToken,
    Organisation,
    Person,
)
from app.buddies import qualification as buddy_qualification
from app.extensions import db
from app.journeys import service as journeys
from app.outbox import service as outbox
from app.outbox.models import Delivery


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(person_id: int, purpose: str, next_path: str | None = None) -> tuple[int, str]:
    """A sign-in token for `person_id` (its row written now, on the session's
    connection): (its id, the raw token, which is stored only hashed)."""
    now = clock.now()
    raw = secrets.token_urlsafe(32)
    token_id = rows.insert(LoginToken, {
        "person_id": person_id,
        "token_hash": _hash(raw),
        "purpose": purpose,
        "next_path": links.safe_next(next_path),
        "created_at": now,
        "expires_at": now + timedelta(minutes=current_app.config["LOGIN_TOKEN_MINUTES"]),
    })
    return token_id, raw



def _send_link(
    person_id: int, email: str, template: str, purpose: str, next_path: str | None = None
) -> None:
    """The token and its email. Plain prebuilt INSERTs: these are the requests
    a crowd sends at once (the ORM's unit of work costs about 3x the SQL)."""
    token_id, raw = issue_token(person_id, purpose, next_path)
    outbox.insert_email(
        person_id,
        email,
        template,
        stream="transactional",
        key=f"{person_id}:auth:{purpose}:{token_id}",
        params={
            "minutes": current_app.config["LOGIN_TOKEN_MINUTES"],
            "login_url": links.url("/login"),
        },
        # The raw token rests only sealed, and is wiped once the email is sent.
        secret_params={"link": links.url(f"/auth/{raw}")},
        queue=queues.LOGIN,
    )


def _known(email: str):
    """(id, status) of the person with this address, or None."""
    return db.session.connection().execute(_by_email(), {"email": email.strip().lower()}).first()


@cache
def _by_email():
    people = Person.__table__
    return select(people.c.id, people.c.status).where(people.c.email == bindparam("email"))


def request_signup(data: dict) -> int:
    """A signup form was submitted. New or unconfirmed: (re)send the confirmation.
    Already confirmed: send a sign-in link instead and change nothing, so the
    page and status are the same either way (no account enumeration).
    Returns the person's id."""
    now = clock.now()
    email = data["email"].strip().lower()
    known = _known(email)
    if known is not None and known.status == "active":
        _send_link(known.id, email, "already_registered", "login")
        return known.id
    details = {
        "name": data["name"].strip(),
        "timezone": data["timezone"],
        "language": data.get("language") or "en",
        "situation": (data.get("situation") or "").strip(),
        "consented_at": now,
    }
    organisation = {
        "name": data["organisation"].strip(),
        "kind": data["organisation_kind"],
        "size": data["organisation_size"],
        "could_pay_consultant": data.get("could_pay_consultant") or None,
    }
    if known is None:
        person_id = _insert_pending(email, details, organisation, now)
    else:
        person_id = known.id
        _update_pending(person_id, details, organisation, now)
    _send_link(person_id, email, "confirm_signup", "confirm")
    return person_id


def _insert_pending(email: str, details: dict, organisation: dict, now: datetime) -> int:
    """A new pending champion and their organisation: two INSERTs."""
    organisation_id = rows.insert(Organisation, {**organisation, "created_at": now})
    return rows.insert(Person, {
        **details,
        "email": email,
        "status": "pending",
        "is_champion": False,
        "is_buddy": False,
        "is_coordinator": False,
        "organisation_id": organisation_id,
        "created_at": now,
    })


def _update_pending(person_id: int, details: dict, organisation: dict, now: datetime) -> None:
    """A second signup before confirming: the newest answers count."""
    person = db.session.get(Person, person_id)
    for name, value in details.items():
        setattr(person, name, value)
    if person.organisation is None:
        person.organisation = Organisation(created_at=now)
        db.session.add(person.organisation)
    for name, value in organisation.items():
        setattr(person.organisation, name, value)
    db.session.flush()


def request_login(email: str, next_path: str | None = None) -> None:
    """Send a sign-in link to a known address; unknown addresses get nothing,
    and the caller shows the same page either way."""
    known = _known(email)
    if known is None:
        return
    if known.status == "pending":
        _send_link(known.id, email.strip().lower(), "confirm_signup", "confirm", next_path)
    else:
        _send_link(known.id, email.strip().lower(), "login_link", "login", next_path)


def peek_token(raw: str) -> LoginToken:
    """The token a link names, without using it (GET and HEAD must not)."""
    token = db.session.scalar(select(LoginToken).where(LoginToken.token_hash == _hash(raw)))
    if token is None:
        raise TokenInvalid("This link is not valid. Ask for a new one below.")
    if token.used_at is not None:
        raise TokenInvalid("This link has already been used. Ask for a new one below.")
    if token.expires_at <= clock.now():
        raise TokenInvalid("This link has expired. Ask for a new one below.")
    return token


def consume_token(raw: str) -> tuple[Person, str | None]:
    """Use a magic link: one conditional UPDATE, so a link works exactly once
    even when two requests race. Confirms a pending signup. Caller commits."""
    now = clock.now()
    result = db.session.execute(
        update(LoginToken)
        .where(
            LoginToken.token_hash == _hash(raw),
            LoginToken.used_at.is_(None),
            LoginToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        peek_token(raw)  # raises with the precise reason
        raise TokenInvalid("This link is not valid. Ask for a new one below.")
    token = db.session.scalar(select(LoginToken).where(LoginToken.token_hash == _hash(raw)))
    person = db.session.get(Person, token.person_id)
    # Only a signup confirmation makes a champion; a buddy applicant's own
    # tokens are handled by the buddies feature.
    if token.purpose == "confirm" and person.status != "active":
        confirm(person)
    person.last_login_at = now
    return person, token.next_path


def cohort_for(moment: datetime) -> Cohort:
    """The cohort of a month, created on first use."""
    name = moment.strftime("%Y-%m")
    cohort = db.session.scalar(select(Cohort).where(Cohort.name == name))
    if cohort is None:
        cohort = Cohort(name=name, starts_on=date(moment.year, moment.month, 1), created_at=clock.now())
        db.session.add(cohort)
        db.session.flush()
    return cohort


def confirm(person: Person) -> None:
    """Double opt-in done: the champion joins the cohort of their signup month."""
    now = clock.now()
    person.status = "active"
    person.confirmed_at = now
    person.is_champion = True
    existing = db.session.scalar(select(Enrollment).where(Enrollment.person_id == person.id))
    if existing is None:
        db.session.add(
            Enrollment(person_id=person.id, cohort_id=cohort_for(person.created_at).id, enrolled_at=now)
        )
    db.session.flush()
    journeys.start_journey(person.id, "onboarding")
    buddy_qualification.assess(person)  # issue 4: who qualifies for a buddy


def update_preferences(person: Person, data: dict) -> None:
    moved = person.timezone != data["timezone"]
    person.name = data["name"].strip()
    person.timezone = data["timezone"]
    person.language = data["language"]
    person.paused_until = data.get("paused_until")
    if "organisation" in data:
        _update_organisation(person, data)
    if moved:
        db.session.flush()
        journeys.reschedule_person(person.id)


def _update_organisation(person: Person, data: dict) -> None:
    person.situation = (data.get("situation") or "").strip()
    if person.organisation is None:
        person.organisation = Organisation(created_at=clock.now())
        db.session.add(person.organisation)
    person.organisation.name = data["organisation"].strip()
    person.organisation.kind = data["organisation_kind"]
    person.organisation.size = data["organisation_size"]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_data(person: Person) -> dict:
    """Everything Hearth holds about a person, as JSON-ready data."""
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.person_id == person.id))
    deliveries = db.session.scalars(
        select(Delivery).where(Delivery.person_id == person.id).order_by(Delivery.created_at)
    ).all()
    org = person.organisation
    return {
        "exported_at": clock.now().isoformat(),
        "person": {
            "name": person.name,
            "email": person.email,
            "timezone": person.timezone,
            "language": LANGUAGES.get(person.language, person.language),
            "roles": person.roles,
            "status": person.status,
            "situation": person.situation,
            "paused_until": _iso(person.paused_until),
            "signed_up_at": _iso(person.created_at),
            "consented_at": _iso(person.consented_at),
            "confirmed_at": _iso(person.confirmed_at),
            "last_login_at": _iso(person.last_login_at),
        },
        "organisation": {
            "name": org.name,
            "kind": ORGANISATION_KINDS.get(org.kind, org.kind),
            "size": org.size,
            "could_pay_consultant": CONSULTANT_ANSWERS.get(org.could_pay_consultant or ""),
        }
        if org
        else None,
        "cohort": enrollment.cohort.name if enrollment else None,
        "circles": _circles_export(person.id),
        "emails": [
            {
                "template": d.template,
                "stream": d.stream,
                "subject": d.subject,
                "status": d.status,
                "created_at": _iso(d.created_at),
                "sent_at": _iso(d.sent_at),
            }
            for d in deliveries
        ],
    }


def _circles_export(person_id: int) -> dict:
    from app.circles import service as circles  # circles builds on accounts

    return circles.export_for(person_id)


def delete_account(person_id: int) -> None:
    """Remove personal data and cancel everything pending. Sent-mail rows stay
    for the programme's counts, with the address and content removed."""
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound("No such person.")
    from app.buddies import service as buddies  # buddies builds on accounts

    buddies.end_pairs_for_departure(person_id)  # the other person is told
    outbox.cancel_pending_for(person_id, "account deleted")
    journeys.stop_all(person_id, "account deleted")
    db.session.execute(
        update(Delivery)
        .where(Delivery.person_id == person_id)
        .values(to_email="deleted@invalid", params={}, subject=None, secret_params=None, person_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(delete(LoginToken).where(LoginToken.person_id == person_id))
    db.session.execute(delete(Enrollment).where(Enrollment.person_id == person_id))
    org = person.organisation
    db.session.delete(person)
    db.session.flush()
    if org is not None:
        still_used = db.session.scalar(select(Person.id).where(Person.organisation_id == org.id))
        if still_used is None:
            db.session.delete(org)


def place_in_cohort(email: str, cohort_name: str) -> Enrollment:
    """A coordinator moves a champion to another cohort (created when new)."""
    person = Person.by_email(email)
    if person is None or person.status != "active":
        raise NotFound(f"No confirmed person with the address {email.strip().lower()}.")
    try:
        year, month = (int(part) for part in cohort_name.split("-"))
        moment = datetime(year, month, 1, tzinfo=clock.now().tzinfo)
    except ValueError as error:
        raise NotFound(f"A cohort is named by its month, like 2027-03, not {cohort_name!r}.") from error
    cohort = cohort_for(moment)
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.person_id == person.id))
    if enrollment is None:
        enrollment = Enrollment(person_id=person.id, enrolled_at=clock.now())
        db.session.add(enrollment)
    enrollment.cohort_id = cohort.id
    enrollment.placed_by_coordinator = True
    return enrollment


def make_coordinator(email: str) -> Person:
    person = Person.by_email(email)
    if person is None:
        raise NotFound(f"No one with the address {email.strip().lower()} has signed up.")
    person.is_coordinator = True
    return person
