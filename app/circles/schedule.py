"""A circle's schedule: the `emails.calendar.Series` every member's calendar
holds, and the meetings it makes (cancelled and moved ones included, so pages
and reminders can say so). Reads only; decisions live in service.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from app.circles.errors import InvalidSchedule, NotAMeeting
from app.circles.models import Circle, MeetingChange
from app.extensions import db
from emails import addresses
from emails.calendar import Override, Series, occurrences

ORGANIZER_NAME = "Hearth circles"
# A meeting moves by at most this much, so a window of meetings is found by
# looking this far beyond it.
MAX_MOVE = timedelta(days=31)
AGENDA = (
    "Check-in round: how is everyone arriving?",
    "One member's situation: they bring it, the circle listens and asks",
    "Consent round on a next step for them",
    "Check-out round",
)


@dataclass(frozen=True)
class Meeting:
    """One meeting of a circle, named by its original start (its RECURRENCE-ID)."""

    original_start: datetime  # aware UTC
    start: datetime  # aware, in the circle's zone
    end: datetime
    cancelled: bool = False
    moved: bool = False

    @property
    def key(self) -> str:
        """Stable text name of the meeting, for idempotency keys and links."""
        return self.original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def organizer_email(circle_id: int) -> str:
    """The signed `reply+c<id>-…` address: calendar replies and words sent to
    the organizer reach the inbound pipeline, routed to this circle."""
    config = current_app.config
    return addresses.reply_address(config["SECRET_KEY"], config["INBOUND_DOMAIN"], "c", circle_id)


def description_of(circle: Circle) -> str:
    return (
        f"{circle.name}: {circle.purpose_text} (Hearth).\n"
        f"Call: {circle.video_url}\n"
        f"Agenda: {'; '.join(AGENDA)}.\n"
        "Answer Yes, No or Maybe in your calendar: Hearth records it for the circle."
    )


def changes_of(circle_id: int) -> list[MeetingChange]:
    return list(
        db.session.scalars(
            select(MeetingChange)
            .where(MeetingChange.circle_id == circle_id)
            .order_by(MeetingChange.original_start)
        )
    )


def series_of(circle: Circle, changes: list[MeetingChange] | None = None) -> Series:
    """The series as iCalendar sees it now (raises InvalidSchedule when it is not one)."""
    changes = changes_of(circle.id) if changes is None and circle.id else (changes or [])
    try:
        return Series(
            uid=circle.uid,
            sequence=circle.sequence,
            summary=f"Hearth support circle: {circle.name}",
            description=description_of(circle),
            location=circle.video_url,
            url=circle.video_url,
            timezone=circle.timezone,
            start=circle.starts_at,
            minutes=circle.minutes,
            rrule=circle.rrule,
            organizer_email=organizer_email(circle.id or 0),
            organizer_name=ORGANIZER_NAME,
            exdates=tuple(c.original_start for c in changes if c.kind == "cancelled"),
            overrides=tuple(
                Override(recurrence_id=c.original_start, start=c.start, minutes=c.minutes)
                for c in changes
                if c.kind == "moved"
            ),
            status="CANCELLED" if circle.status == "ended" else "CONFIRMED",
        )
    except ValueError as error:
        raise InvalidSchedule(str(error)) from error


def _regular(circle: Circle, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Starts of the rule itself in [start, end): no cancellations, no moves."""
    bare = series_of(circle, changes=[])
    return occurrences(bare, start, end)


def meetings(
    circle: Circle, start: datetime, end: datetime, *, changes: list[MeetingChange] | None = None
) -> list[Meeting]:
    """Every meeting whose (actual) start falls in [start, end), cancelled ones marked."""
    changes = changes_of(circle.id) if changes is None else changes
    by_original = {c.original_start: c for c in changes}
    zone = ZoneInfo(circle.timezone)
    found = []
    for begins, ends in _regular(circle, start - MAX_MOVE, end + MAX_MOVE):
        original = begins.astimezone(UTC)
        change = by_original.get(original)
        if change is not None and change.kind == "moved":
            moved_start = change.start.astimezone(zone)
            meeting = Meeting(
                original, moved_start, moved_start + timedelta(minutes=change.minutes), moved=True
            )
        else:
            meeting = Meeting(original, begins, ends, cancelled=change is not None)
        if start <= meeting.start < end:
            found.append(meeting)
    return sorted(found, key=lambda m: m.start.astimezone(UTC))


def upcoming(circle: Circle, now: datetime, count: int, *, include_cancelled: bool = True) -> list[Meeting]:
    """The next `count` meetings that have not started yet."""
    changes = changes_of(circle.id)
    found: list[Meeting] = []
    window_start = now
    for _ in range(8):  # a monthly rule: 8 windows of 400 days is decades
        window_end = window_start + timedelta(days=400)
        for meeting in meetings(circle, window_start, window_end, changes=changes):
            wanted = include_cancelled or not meeting.cancelled
            if meeting.start > now and wanted and meeting not in found:
                found.append(meeting)
        if len(found) >= count:
            break
        window_start = window_end
    return found[:count]


def meeting_at(circle: Circle, original_start: datetime) -> Meeting | None:
    """The meeting whose RECURRENCE-ID is `original_start`, or None."""
    original = original_start.astimezone(UTC)
    for meeting in meetings(circle, original - MAX_MOVE, original + MAX_MOVE + timedelta(seconds=1)):
        if meeting.original_start == original:
            return meeting
    return None


def meeting_on(circle: Circle, day: date) -> Meeting:
    """The meeting on local `day` in the circle's zone (its new date when moved)."""
    zone = ZoneInfo(circle.timezone)
    start = datetime.combine(day, time.min, zone)
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    candidates = meetings(circle, start, end)
    if not candidates:
        nearby = [
            m.start.strftime("%Y-%m-%d")
            for m in meetings(circle, start - timedelta(days=45), end + timedelta(days=45))
            if not m.cancelled
        ]
        hint = f"; meetings near it: {', '.join(nearby)}" if nearby else ""
        raise NotAMeeting(f"{circle.name} does not meet on {day.isoformat()}{hint}.")
    live = [m for m in candidates if not m.cancelled]
    return (live or candidates)[0]


def local_start(circle: Circle, value: datetime) -> datetime:
    """An aware moment from a coordinator's input: naive means the circle's wall clock."""
    zone = ZoneInfo(circle.timezone)
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


def when(start: datetime, end: datetime, tz: str) -> str:
    """'Tuesday 4 March 2025, 18:00-19:30 (Europe/Berlin)', on the reader's own clock.
    ASCII only: it goes into subjects, where a dash would need an encoded-word."""
    zone = ZoneInfo(tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    ends = local_end.strftime("%H:%M")
    if local_end.date() != local_start.date():
        ends = local_end.strftime("%A %-d %B, %H:%M")
    return f"{local_start.strftime('%A %-d %B %Y, %H:%M')}-{ends} ({tz})"
