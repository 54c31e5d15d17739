"""Which circle suits a person: one whose meetings fall in their waking hours
on their own clock, that has room, preferring their cohort. Reads only; the
proposal itself is written by service.propose_placement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.accounts.models import Enrollment, Person
from app.circles import schedule
from app.circles.models import Circle, Membership, Placement
from app.extensions import db

WAKING_HOURS = (time(8, 0), time(21, 0))
# A year of monthly meetings: DST changes in the circle's zone and the
# person's zone happen on different dates, so one meeting is not enough.
MEETINGS_CHECKED = 12


@dataclass(frozen=True)
class Choice:
    circle: Circle | None
    reason: str


def seats_taken(circle_id: int, excluding_person_id: int | None = None) -> int:
    """Members now, plus open proposals for this circle (they hold a place)."""
    members = db.session.scalar(
        select(func.count(Membership.id)).where(
            Membership.circle_id == circle_id, Membership.left_at.is_(None)
        )
    )
    proposals = select(func.count(Placement.id)).where(
        Placement.circle_id == circle_id, Placement.status == "proposed"
    )
    if excluding_person_id is not None:
        proposals = proposals.where(Placement.person_id != excluding_person_id)
    return members + db.session.scalar(proposals)


def _upcoming(circle: Circle, now: datetime, cache: dict) -> list[schedule.Meeting]:
    key = (circle.id, circle.sequence)
    if key not in cache:
        cache[key] = schedule.upcoming(circle, now, MEETINGS_CHECKED, include_cancelled=False)
    return cache[key]


def outside_waking_hours(circle: Circle, tz: str, now: datetime, cache: dict | None = None) -> str | None:
    """None when the next meetings all fall in 08:00-21:00 on `tz`'s clock,
    else the first one that does not, said on that clock."""
    zone = ZoneInfo(tz)
    for meeting in _upcoming(circle, now, {} if cache is None else cache):
        start, end = meeting.start.astimezone(zone), meeting.end.astimezone(zone)
        if (
            start.date() != end.date()
            or start.time() < WAKING_HOURS[0]
            or end.time() > WAKING_HOURS[1]
        ):
            return f"meets {start:%a %-d %b %H:%M}-{end:%H:%M} on their clock ({tz})"
    return None


def _eligible(circle: Circle, recovery: bool, cohort_id: int | None) -> bool:
    if recovery != (circle.purpose == "recovery"):
        return False
    # A cohort circle is for its own cohort; other circles only prefer theirs.
    return circle.purpose != "cohort" or circle.cohort_id == cohort_id


def choose(person: Person, *, recovery: bool, now: datetime, cache: dict | None = None) -> Choice:
    """The best circle for `person`, or None with every reason none fits.
    `cache` keeps each circle's next meetings across many people in one run."""
    cache = {} if cache is None else cache
    cohort_id = db.session.scalar(select(Enrollment.cohort_id).where(Enrollment.person_id == person.id))
    mine = set(
        db.session.scalars(
            select(Membership.circle_id).where(
                Membership.person_id == person.id, Membership.left_at.is_(None)
            )
        )
    )
    circles = db.session.scalars(
        select(Circle).where(Circle.status == "active").order_by(Circle.id)
    ).all()
    candidates, refusals = [], []
    for circle in circles:
        if circle.id in mine or not _eligible(circle, recovery, cohort_id):
            continue
        taken = seats_taken(circle.id, person.id)
        if taken >= circle.capacity:
            refusals.append(f"{circle.name} is full ({taken} of {circle.capacity})")
            continue
        odd_hours = outside_waking_hours(circle, person.timezone, now, cache)
        if odd_hours:
            refusals.append(f"{circle.name} {odd_hours}")
            continue
        following = _upcoming(circle, now, cache)
        if not following:
            refusals.append(f"{circle.name} has no meetings left")
            continue
        same_cohort = cohort_id is not None and circle.cohort_id == cohort_id
        rank = (not same_cohort, following[0].start.astimezone(UTC), circle.id)
        candidates.append((rank, circle, taken, same_cohort, following[0]))
    kind = "recovery circle" if recovery else "circle"
    if not candidates:
        why = "; ".join(refusals) if refusals else f"there is no open {kind} yet"
        return Choice(None, f"No {kind} fits {person.name}: {why}.")
    _rank, circle, taken, same_cohort, following = min(candidates, key=lambda c: c[0])
    reason = (
        f"{circle.name}: next meeting {schedule.when(following.start, following.end, person.timezone)}, "
        f"{taken} of {circle.capacity} places taken"
        + (", their cohort's circle" if same_cohort else "")
        + "."
    )
    return Choice(circle, reason)
