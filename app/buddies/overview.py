"""What the coordinators' pages and the exports read: lists, never decisions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select

from app import clock
from app.accounts.models import Person
from app.buddies import matching, service
from app.buddies.models import (
    OPEN_STATUSES,
    BuddyProfile,
    Checkin,
    Concern,
    Pair,
    Qualification,
)
from app.extensions import db


def buddies_overview() -> list[tuple[BuddyProfile, int]]:
    """Every application and buddy with the places they hold, newest first."""
    loads = dict(db.session.execute(
        select(Pair.buddy_id, func.count(Pair.id)).where(Pair.status.in_(OPEN_STATUSES))
        .group_by(Pair.buddy_id)
    ).all())
    profiles = db.session.scalars(
        select(BuddyProfile).order_by(BuddyProfile.created_at.desc(), BuddyProfile.id.desc())
    ).all()
    return [(p, loads.get(p.person_id, 0)) for p in profiles]


def waiting_overview(now: datetime | None = None) -> list[tuple[Person, Pair | None, matching.Ranking]]:
    """Each waiting champion with their suggestion (if any) and every valid buddy, best first."""
    now = now or clock.now()
    facts = service.buddy_facts(now)
    return [
        (champion, service.suggestion_of(champion.id), service.ranking_for(champion.id, now, buddies=facts))
        for champion in service.waiting_champions(now)
    ]


def buddies_by_id() -> dict[int, Person]:
    return {p.id: p for p in db.session.scalars(select(Person).where(Person.is_buddy.is_(True)))}


def pairs_in(*statuses: str) -> list[Pair]:
    return list(db.session.scalars(
        select(Pair).where(Pair.status.in_(statuses)).order_by(Pair.created_at.desc(), Pair.id.desc())
    ))


def qualifications() -> list[Qualification]:
    return list(db.session.scalars(
        select(Qualification).order_by(Qualification.assessed_at.desc(), Qualification.id.desc())
    ))


def unassessed_champions() -> list[Person]:
    """Confirmed champions without a qualification (e.g. confirmed before it existed)."""
    return list(db.session.scalars(
        select(Person).where(
            Person.is_champion.is_(True), Person.status == "active",
            ~exists().where(Qualification.person_id == Person.id),
        ).order_by(Person.id)
    ))


def checkin_rows():
    """Every check-in with its pair's people, oldest first (for the CSV export)."""
    return db.session.execute(
        select(Checkin, Pair)
        .join(Pair, Pair.id == Checkin.pair_id)
        .order_by(Checkin.at, Checkin.id)
        .execution_options(yield_per=1000)
    )


def at_risk() -> list[tuple[Pair, list[Concern]]]:
    """Active pairs with unresolved concerns, oldest concern first."""
    rows = db.session.scalars(
        select(Concern)
        .join(Pair, Pair.id == Concern.pair_id)
        .where(Concern.resolved_at.is_(None), Pair.status == "active")
        .order_by(Concern.created_at, Concern.id)
    ).all()
    grouped: dict[int, tuple[Pair, list[Concern]]] = {}
    for concern in rows:
        grouped.setdefault(concern.pair_id, (concern.pair, []))[1].append(concern)
    return list(grouped.values())
