"""Who needs a coordinator's attention: pairs gone silent or strained (the
buddy programme's concerns), addresses that bounced, people who paused,
and proposals someone objected to. Each row says why, since when, the last
check-in, and where to act. Lists, never decisions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import url_for
from sqlalchemy import func, select

from app import clock
from app.accounts.models import Person
from app.admin.lists import last_checkins
from app.buddies import overview as buddies
from app.buddies.models import Pair
from app.extensions import db
from app.outbox.models import Suppression

KINDS = {
    "silence": "Went silent",
    "low_energy": "Low energy",
    "burnout_words": "Words of burnout",
    "bounced": "Address bounced",
    "paused": "Paused",
    "objection": "Objection to a match",
}
OBJECTIONS_FOR = timedelta(days=60)
SHOWN = 200


@dataclass
class Row:
    kind: str
    reason: str
    since: datetime | date | None
    person: Person | None = None
    pair: Pair | None = None
    last_checkin: datetime | None = None
    concern_id: int | None = None

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    @property
    def act_url(self) -> str:
        """Where to act: the matches for an objection, else the person's page."""
        if self.kind == "objection":
            return url_for("buddies.admin.matches_page")
        return url_for("admin.person", person_id=self.person.id)


def rows(limit: int | None = SHOWN) -> Iterator[Row]:
    """Every row, grouped by kind (pair concerns first, oldest first)."""
    concerned = buddies.at_risk()
    last = last_checkins([pair.id for pair, _concerns in concerned])
    shown = 0
    for pair, concerns in concerned:
        for concern in concerns:
            if limit is not None and shown >= limit:
                break
            shown += 1
            yield Row(concern.kind, concern.detail, concern.created_at, person=pair.champion, pair=pair,
                      last_checkin=last.get(pair.id), concern_id=concern.id)
    yield from _bounced(limit)
    yield from _paused(limit)
    yield from _objections(limit)


def counts() -> dict[str, int]:
    """How many of each kind (the list itself stops at SHOWN per kind)."""
    found = {kind: 0 for kind in KINDS}
    for _pair, concerns in buddies.at_risk():
        for concern in concerns:
            found[concern.kind] = found.get(concern.kind, 0) + 1
    found["bounced"] = db.session.scalar(
        select(func.count(Suppression.id)).join(Person, Person.email == Suppression.email)) or 0
    found["paused"] = db.session.scalar(
        select(func.count(Person.id)).where(Person.paused_until > _today())) or 0
    found["objection"] = db.session.scalar(
        select(func.count(Pair.id)).where(Pair.status == "objected",
                                          Pair.objected_at >= clock.now() - OBJECTIONS_FOR)) or 0
    return found


def _today() -> date:
    return clock.now().date()


def _limited(query, limit):
    return query.limit(limit) if limit is not None else query


def _with_pairs(people: list[Person]) -> dict[int, Pair]:
    ids = [p.id for p in people]
    if not ids:
        return {}
    found = {}
    for pair in db.session.scalars(
        select(Pair).where(Pair.status == "active", Pair.champion_id.in_(ids)).order_by(Pair.id)
    ):
        found.setdefault(pair.champion_id, pair)
    for pair in db.session.scalars(
        select(Pair).where(Pair.status == "active", Pair.buddy_id.in_(ids)).order_by(Pair.id)
    ):
        found.setdefault(pair.buddy_id, pair)
    return found


def _person_rows(kind: str, found: list[tuple[Person, str, object]]) -> Iterator[Row]:
    pairs = _with_pairs([person for person, _reason, _since in found])
    last = last_checkins([pair.id for pair in pairs.values()])
    for person, reason, since in found:
        pair = pairs.get(person.id)
        yield Row(kind, reason, since, person=person, pair=pair,
                  last_checkin=last.get(pair.id) if pair else None)


def _bounced(limit) -> Iterator[Row]:
    found = db.session.execute(_limited(
        select(Person, Suppression).join(Suppression, Suppression.email == Person.email)
        .order_by(Suppression.created_at.desc(), Suppression.id.desc()), limit)).all()
    yield from _person_rows("bounced", [(p, f"mail to {p.email} bounced: {s.reason}", s.created_at)
                                        for p, s in found])


def _paused(limit) -> Iterator[Row]:
    found = db.session.scalars(_limited(
        select(Person).where(Person.paused_until > _today()).order_by(Person.paused_until, Person.id),
        limit)).all()
    # Hearth keeps when a pause ends, not when it began.
    yield from _person_rows("paused", [(p, f"paused all email until {p.paused_until:%-d %B %Y}", None)
                                       for p in found])


def _objections(limit) -> Iterator[Row]:
    found = db.session.scalars(_limited(
        select(Pair).where(Pair.status == "objected", Pair.objected_at >= clock.now() - OBJECTIONS_FOR)
        .order_by(Pair.objected_at.desc(), Pair.id.desc()), limit)).all()
    for pair in found:
        # The record keeps who objected; no page says it (buddies.models.Pair).
        yield Row("objection", f"a proposed match of {pair.champion.name} with {pair.buddy.name} "
                  "was objected to; the champion waits for another buddy", pair.objected_at,
                  person=pair.champion, pair=pair)
