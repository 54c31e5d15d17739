"""Care for attention: across all streams a person gets at most N programme
emails in any 7 days and at most one per local day. Sign-in links and replies
to what the person wrote are exempt. What would exceed the cap waits for the
next free slot in its own send window."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.outbox.models import Delivery

EXEMPT_STREAMS = frozenset({"transactional", "replies"})
COUNTED_STATUSES = ("pending", "sending", "sent")
WEEK = timedelta(days=7)


def is_exempt(stream: str) -> bool:
    return stream in EXEMPT_STREAMS


def _counted_near(around: datetime):
    when = func.coalesce(Delivery.sent_at, Delivery.next_attempt_at)
    return when, (
        Delivery.stream.not_in(EXEMPT_STREAMS),
        Delivery.status.in_(COUNTED_STATUSES),
        when > around - WEEK - timedelta(days=1),
        when < around + timedelta(days=120),
    )


def planned_times(person_id: int, around: datetime) -> list[datetime]:
    """When this person's counted programme emails were or will be sent."""
    when, near = _counted_near(around)
    rows = db.session.execute(select(when).where(Delivery.person_id == person_id, *near)).scalars()
    return sorted(rows)


def planned_times_of(person_ids, around: datetime) -> dict[int, list[datetime]]:
    """`planned_times` of several people, with one query."""
    when, near = _counted_near(around)
    found: dict[int, list[datetime]] = defaultdict(list)
    if person_ids:
        for person_id, moment in db.session.execute(
            select(Delivery.person_id, when).where(Delivery.person_id.in_(person_ids), *near)
        ):
            found[person_id].append(moment)
    for times in found.values():
        times.sort()
    return found


def remember(taken: list[datetime], slot: datetime, around: datetime) -> None:
    """Add a counted email planned at `slot` to times read for `around`, as
    `planned_times` would now find it."""
    if around - WEEK - timedelta(days=1) < slot < around + timedelta(days=120):
        bisect.insort(taken, slot)


def _fits(slot: datetime, taken: list[datetime], zone: ZoneInfo, per_week: int, per_day: int) -> str | None:
    """None when `slot` keeps the cap; else the reason it does not."""
    day = slot.astimezone(zone).date()
    if sum(1 for t in taken if t.astimezone(zone).date() == day) >= per_day:
        return f"at most {per_day} programme email(s) a day"
    # A 7-day window that holds the most emails can always start at one of them.
    times = sorted([*taken, slot])
    for start in (t for t in times if slot - WEEK < t <= slot):
        if sum(1 for t in times if start <= t < start + WEEK) > per_week:
            return f"at most {per_week} programme emails in 7 days"
    return None


def find_slot(
    person_id: int,
    tz: str,
    wanted: datetime,
    next_window: Callable[[datetime], datetime],
    *,
    taken: list[datetime] | None = None,
) -> tuple[datetime, str | None]:
    """The first moment at or after `wanted` that keeps the cap, and why it had
    to wait (None when it did not). `next_window(t)` gives the first send-window
    slot after t, so a held email still arrives at the person's own 09:00.
    `taken`: the person's `planned_times` around `wanted`, when already read."""
    per_week = current_app.config["ATTENTION_MAX_PER_WEEK"]
    per_day = current_app.config["ATTENTION_MAX_PER_DAY"]
    zone = ZoneInfo(tz)
    if taken is None:
        taken = planned_times(person_id, wanted)
    slot, first_reason = wanted, None
    for _ in range(120):
        reason = _fits(slot, taken, zone, per_week, per_day)
        if reason is None:
            return slot, first_reason
        first_reason = first_reason or reason
        local_midnight = datetime.combine(
            slot.astimezone(zone).date() + timedelta(days=1), datetime.min.time(), zone
        )
        slot = next_window(local_midnight)
    raise RuntimeError(f"no free slot within 120 days for person {person_id}")
