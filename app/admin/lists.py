"""The coordinators' lists with search and keyset paging, fast at 100,000
people: each page is one indexed query plus one grouped query for the page's
own rows (cohorts, loads, check-ins). Lists and numbers, never decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from app import clock
from app.accounts.models import Cohort, Enrollment, Person
from app.admin.paging import Page, keyset, like_pattern
from app.buddies.models import OPEN_STATUSES, BuddyProfile, Checkin, Pair
from app.circles import rsvps, schedule
from app.circles import service as circles
from app.circles.models import Circle
from app.extensions import db
from app.inbound.models import InboundMessage
from app.outbox.models import Delivery
from app.surveys.models import Graduation

ROLES = ("champion", "buddy", "coordinator")
PAIR_STATUSES = ("suggested", "proposed", "active", "ended", "objected", "withdrawn")
OUTBOX_TABS = ("failed", "bounced", "held", "pending", "sent", "cancelled", "suppressed")
INBOUND_TABS = ("review", "quarantined", "failed", "ignored", "processed", "new")
CIRCLES_PER_PAGE = 20


def _text(q: str | None) -> str:
    return " ".join((q or "").split()).lower()[:200]


def _matches(q: str, *columns):
    """A search on text columns: an address prefix uses the UNIQUE index on
    people.email; anything else is a case-insensitive substring."""
    pattern = like_pattern(q)
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


def _email_prefix(q: str) -> bool:
    return "@" in q and not q.startswith("@") and " " not in q


def _starts_with(column, q: str):
    """Addresses starting with `q`. SQLite compares bytes, so a range walks the
    UNIQUE index; PostgreSQL's collations make a range unsafe, so LIKE there."""
    if db.engine.dialect.name == "sqlite":
        return and_(column >= q, column < q + "\U0010ffff")
    return column.like(like_pattern(q)[1:], escape="\\")


# -- people ---------------------------------------------------------------------------


@dataclass
class PeoplePage(Page):
    cohorts: dict[int, str]
    graduated: set[int]
    profiles: dict[int, BuddyProfile]
    loads: dict[int, int]


def people(q: str | None = None, role: str | None = None, cohort_id: int | None = None, *,
           after: int | None = None, before: int | None = None) -> PeoplePage:
    q = _text(q)
    query = select(Person)
    if role == "champion":
        query = query.where(Person.is_champion.is_(True))
    elif role == "buddy":
        query = query.where(exists().where(BuddyProfile.person_id == Person.id))
    elif role == "coordinator":
        query = query.where(Person.is_coordinator.is_(True))
    if cohort_id is not None:
        query = query.where(exists().where(Enrollment.person_id == Person.id,
                                           Enrollment.cohort_id == cohort_id))
    if q and _email_prefix(q):
        query = query.where(_starts_with(Person.email, q))
    elif q:
        query = query.where(_matches(q, Person.email, Person.name))
    page = keyset(query, Person.id, after=after, before=before)
    ids = [p.id for p in page.rows]
    cohorts = dict(db.session.execute(
        select(Enrollment.person_id, Cohort.name).join(Cohort, Cohort.id == Enrollment.cohort_id)
        .where(Enrollment.person_id.in_(ids))
    ).all()) if ids else {}
    graduated = set(db.session.scalars(select(Graduation.person_id).where(Graduation.person_id.in_(ids)))) if ids else set()
    profiles = {p.person_id: p for p in db.session.scalars(
        select(BuddyProfile).where(BuddyProfile.person_id.in_(ids)))} if ids else {}
    loads = dict(db.session.execute(
        select(Pair.buddy_id, func.count(Pair.id))
        .where(Pair.buddy_id.in_(list(profiles)), Pair.status.in_(OPEN_STATUSES)).group_by(Pair.buddy_id)
    ).all()) if profiles else {}
    return PeoplePage(page.rows, page.older, page.newer, cohorts=cohorts, graduated=graduated,
                      profiles=profiles, loads=loads)


# -- pairs ----------------------------------------------------------------------------


@dataclass
class PairsPage(Page):
    checkins: dict[int, tuple[int, datetime | None]]


def pairs(q: str | None = None, status: str | None = None, *, after: int | None = None,
          before: int | None = None) -> PairsPage:
    q = _text(q)
    query = select(Pair)
    if status in PAIR_STATUSES:
        query = query.where(Pair.status == status)
    if q:
        champion, buddy = aliased(Person), aliased(Person)
        query = (query.join(champion, champion.id == Pair.champion_id)
                 .join(buddy, buddy.id == Pair.buddy_id)
                 .where(_matches(q, champion.email, champion.name, buddy.email, buddy.name)))
    page = keyset(query, Pair.id, after=after, before=before)
    ids = [p.id for p in page.rows]
    checkins = {pair_id: (count, last) for pair_id, count, last in db.session.execute(
        select(Checkin.pair_id, func.count(Checkin.id), func.max(Checkin.at))
        .where(Checkin.pair_id.in_(ids)).group_by(Checkin.pair_id)
    )} if ids else {}
    return PairsPage(page.rows, page.older, page.newer, checkins=checkins)


def last_checkins(pair_ids: list[int]) -> dict[int, datetime]:
    """The time of each pair's latest check-in (for the at-risk list)."""
    if not pair_ids:
        return {}
    rows = db.session.execute(
        select(Checkin.pair_id, func.max(Checkin.at)).where(Checkin.pair_id.in_(pair_ids))
        .group_by(Checkin.pair_id)
    ).all()
    return {pair_id: _aware(at) for pair_id, at in rows}


def _aware(value):
    """func.max() bypasses the UTC column type: make the value aware again."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


# -- circles and their next meetings ---------------------------------------------------


@dataclass
class MeetingRow:
    circle: Circle
    meeting: schedule.Meeting | None
    members: int
    counts: dict[str, int]


def meetings(q: str | None = None, *, after: int | None = None, before: int | None = None,
             count: int = 3, now: datetime | None = None) -> tuple[Page, list[MeetingRow]]:
    """Active circles (a page of them) with their next `count` meetings and
    who said yes, no, maybe or nothing."""
    now = now or clock.now()
    q = _text(q)
    query = select(Circle).where(Circle.status == "active")
    if q:
        query = query.where(_matches(q, Circle.name))
    page = keyset(query, Circle.id, after=after, before=before, size=CIRCLES_PER_PAGE)
    return page, [row for circle in page.rows for row in meeting_rows(circle, now, count)]


def meeting_rows(circle: Circle, now: datetime, count: int = 3) -> list[MeetingRow]:
    members = circles.active_members(circle.id)
    upcoming = schedule.upcoming(circle, now, count)
    if not upcoming:
        return [MeetingRow(circle, None, len(members), {})]
    answers = rsvps.answers_for(circle, members, upcoming)
    rows = []
    for meeting in upcoming:
        counts = {"yes": 0, "no": 0, "maybe": 0, "nothing": 0}
        for member in members:
            found = answers.get((member.person_id, meeting.key))
            counts[found["answer"] if found else "nothing"] += 1
        rows.append(MeetingRow(circle, meeting, len(members), counts))
    return rows


# -- outbox and inbound ------------------------------------------------------------------


def outbox_counts() -> dict[str, int]:
    counts = dict(db.session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    counts["held"] = db.session.scalar(
        select(func.count()).where(Delivery.status == "pending", Delivery.held_reason.is_not(None),
                                   Delivery.next_attempt_at > clock.now())
    ) or 0
    return counts


def deliveries(tab: str = "failed", q: str | None = None, *, after: int | None = None,
               before: int | None = None) -> Page:
    q = _text(q)
    query = select(Delivery)
    if tab == "held":
        query = query.where(Delivery.status == "pending", Delivery.held_reason.is_not(None),
                            Delivery.next_attempt_at > clock.now())
    elif tab in OUTBOX_TABS:
        query = query.where(Delivery.status == tab)
    if q and _email_prefix(q):
        query = query.where(_starts_with(Delivery.to_email, q))
    elif q:
        query = query.where(_matches(q, Delivery.to_email, Delivery.template))
    return keyset(query, Delivery.id, after=after, before=before)


def inbound_counts() -> dict[str, int]:
    return dict(db.session.execute(
        select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
    ).all())


def inbound(tab: str = "review", q: str | None = None, *, after: int | None = None,
            before: int | None = None) -> Page:
    q = _text(q)
    query = select(InboundMessage)
    if tab == "review":
        query = query.where(InboundMessage.status.in_(("quarantined", "failed")))
    elif tab in INBOUND_TABS:
        query = query.where(InboundMessage.status == tab)
    if q:
        query = query.where(_matches(q, InboundMessage.from_address, InboundMessage.subject))
    return keyset(query, InboundMessage.id, after=after, before=before, size=20)
