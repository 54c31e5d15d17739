"""Who qualifies for free buddy support (issue 4, "Who qualifies").

The criteria are data (emails/programme.toml). They are evaluated once, when a
champion confirms; a coordinator can override the outcome either way with a
reason. Champions who do not qualify keep their onboarding journey and get one
email pointing to the consultants coordinators list. Functions add to the
session; the caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app import clock, links
from app.accounts.models import Person
from app.buddies import programme
from app.buddies.errors import BuddyError
from app.buddies.models import Qualification
from app.extensions import db
from app.outbox import service as outbox

log = logging.getLogger(__name__)


class QualificationError(BuddyError):
    """A qualification cannot be changed as asked; the message says why."""


@dataclass(frozen=True)
class Criteria:
    """What the signup page states: a summary and one sentence per rule."""

    summary: str
    points: tuple[str, ...]
    consultants_url: str


def programme_criteria() -> Criteria:
    """The qualification criteria in plain words, for the signup page
    (a Jinja global: `{% set criteria = programme_criteria() %}`)."""
    try:
        current = programme.load()
    except programme.ProgrammeError:
        # The signup page must work even while the file is being fixed.
        log.exception("cannot state the criteria")
        return Criteria(
            summary="Free buddy support is for groups that could not otherwise get help.",
            points=(),
            consultants_url=links.url("/buddies/consultants"),
        )
    return Criteria(
        summary=current.summary,
        points=tuple(rule.says for rule in current.rules),
        consultants_url=links.url("/buddies/consultants"),
    )


def answers_of(person: Person) -> dict:
    """The signup answers the rules may read."""
    organisation = person.organisation
    return {
        "organisation_kind": organisation.kind if organisation else None,
        "organisation_size": organisation.size if organisation else None,
        "could_pay_consultant": organisation.could_pay_consultant if organisation else None,
    }


def evaluate(answers: dict) -> tuple[bool, str]:
    """(qualifies, reason) under the current criteria."""
    refusals = [rule.refusal for rule in programme.load().rules if not rule.passes(answers)]
    if refusals:
        return False, "; ".join(refusals)
    return True, "meets every criterion"


def assess(person: Person) -> Qualification | None:
    """A champion confirmed: record whether they qualify, and send the
    consultants email to those who do not. Assessing twice keeps the first
    outcome (and any override). A malformed programme.toml must not stop a
    signup: the champion stays unassessed (listed for coordinators, and
    `flask buddies assess` catches up) and the error is logged."""
    existing = Qualification.of(person.id)
    if existing is not None:
        return existing
    try:
        qualifies, reason = evaluate(answers_of(person))
    except programme.ProgrammeError:
        log.exception("cannot assess person %s", person.id)
        return None
    now = clock.now()
    row = Qualification(
        person_id=person.id,
        qualifies=qualifies,
        reason=reason,
        assessed_qualifies=qualifies,
        assessed_reason=reason,
        assessed_at=now,
    )
    db.session.add(row)
    db.session.flush()
    if not qualifies:
        _send_consultants(person)
    return row


def _send_consultants(person: Person) -> None:
    listed = programme.load().consultants
    outbox.queue_email(
        person,
        "buddy_consultants",
        stream="onboarding",
        key=f"{person.id}:buddies:consultants",
        params={
            "link": links.url("/buddies/consultants"),
            "links": {c.name: c.url for c in listed},
        },
    )


def override(person_id: int, qualifies: bool, reason: str, coordinator_id: int | None) -> Qualification:
    """A coordinator decides, with a reason (see service.override_qualification,
    which also takes back a proposal in progress). Not qualifying any more
    sends the consultants email, once."""
    reason = (reason or "").strip()
    if not reason:
        raise QualificationError("Please give a reason for the override.")
    person = db.session.get(Person, person_id)
    if person is None or not person.is_champion or person.status != "active":
        raise QualificationError(f"{person.email if person else 'That person'} is not a confirmed champion.")
    row = Qualification.of(person_id) or assess(person)
    if row is None:
        raise QualificationError("emails/programme.toml cannot be read; fix it first (see the log).")
    row.qualifies = qualifies
    row.reason = f"coordinator: {reason}"
    row.override_reason = reason
    row.overridden_by_id = coordinator_id
    row.overridden_at = clock.now()
    if not qualifies:
        _send_consultants(person)
    db.session.flush()
    return row


def qualifies(person_id: int) -> bool:
    row = Qualification.of(person_id)
    return bool(row and row.qualifies)
