"""Confirmed champions with an active onboarding journey, inserted in bulk.

Signing each one up through `request_signup` + `consume_token` costs several
queries a person; these rows are what that path leaves behind (an active
person with an organisation, and a journey at its first step), written with
one multi-row INSERT per table. Call inside an app context; commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, text, update

from app import clock
from app.accounts.models import Organisation, Person
from app.extensions import db
from app.journeys.models import Journey
from app.outbox.models import Delivery
from emails import sequences

ZONES = ("Europe/Berlin", "America/Chicago", "Asia/Kolkata", "Australia/Sydney", "Africa/Nairobi")
SEQUENCE = "onboarding"


@dataclass(frozen=True)
class Champion:
    person_id: int
    journey_id: int
    email: str
    due_at: datetime


def insert_champions(due: Sequence[datetime], *, prefix: str = "champion") -> list[Champion]:
    """One champion per entry of `due`: their onboarding welcome is due then."""
    now = clock.now()
    first_person = (db.session.scalar(select(func.max(Person.id))) or 0) + 1
    first_org = (db.session.scalar(select(func.max(Organisation.id))) or 0) + 1
    first_journey = (db.session.scalar(select(func.max(Journey.id))) or 0) + 1
    step = _first_step()
    organisations, people, journeys, champions = [], [], [], []
    for offset, due_at in enumerate(due):
        person_id = first_person + offset
        journey_id = first_journey + offset
        email = f"{prefix}-{person_id}@example.org"
        started = min(now, due_at) - timedelta(minutes=5)
        organisations.append({
            "id": first_org + offset, "name": f"Cooperative {person_id}", "kind": "cooperative",
            "size": "10-49", "created_at": started,
        })
        people.append({
            "id": person_id, "email": email, "name": f"Champion Number{person_id}",
            "timezone": ZONES[offset % len(ZONES)], "language": "en", "status": "active",
            "is_champion": True, "situation": "We are trying consent decisions in one circle.",
            "organisation_id": first_org + offset, "created_at": started,
            "consented_at": started, "confirmed_at": started,
        })
        journeys.append(_journey_row(journey_id, person_id, step, due_at, started))
        champions.append(Champion(person_id, journey_id, email, due_at))
    for model, rows in ((Organisation, organisations), (Person, people), (Journey, journeys)):
        for start in range(0, len(rows), 10_000):
            db.session.execute(insert(model), rows[start : start + 10_000])
        if db.engine.dialect.name == "postgresql":  # explicit ids leave the sequence behind
            table = model.__tablename__
            db.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            ))
    db.session.commit()
    return champions


def _first_step() -> str:
    return sequences.load(SEQUENCE).first_step().key


def _journey_row(journey_id: int, person_id: int, step: str, due_at: datetime,
                 started: datetime) -> dict:
    return {
        "id": journey_id, "person_id": person_id, "sequence": SEQUENCE, "state": "active",
        "next_step": step, "next_due_at": due_at, "anchor_at": started,
        "started_at": started, "last_sent_at": None, "passed": [], "occurrence": 0,
        "stopped_reason": None, "version": 1,
    }


def reset_journeys(champions: Sequence[Champion]) -> None:
    """Put these journeys back at their first step, due as before, and forget
    every delivery, so the same tick can be measured again."""
    step = _first_step()
    for champion in champions:
        db.session.execute(
            update(Journey)
            .where(Journey.id == champion.journey_id)
            .values(next_step=step, next_due_at=champion.due_at, passed=[], occurrence=0,
                    last_sent_at=None, state="active", version=Journey.version + 1)
            .execution_options(synchronize_session=False)
        )
    db.session.execute(Delivery.__table__.delete())
    db.session.commit()
    db.session.expire_all()
