"""Emails the clock writes before each meeting: a reminder to every member
the day before at their own 09:00 (with RSVP links and the agenda), and a
prep email to the meeting's facilitator two days before. A cancelled
meeting gets neither; a reminder that could only arrive after its meeting
started is cancelled rather than sent late. Keys name (person, circle,
meeting), so a meeting reminds each person once however often the clock runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from app.accounts.models import Person
from app.circles import schedule, tokens
from app.circles.errors import CircleError
from app.circles.models import Circle, Membership
from app.circles.rsvps import answer_of
from app.extensions import db
from app.outbox import service as outbox
from app.outbox.models import Delivery
from emails import sequences

SEND_AT = time(9, 0)
REMINDER_DAYS_BEFORE = 1
PREP_DAYS_BEFORE = 2
# Far enough ahead for a prep email two local days before, in any zone.
LOOKAHEAD = timedelta(days=4)
# Closer to its start than this, a reminder is no longer worth an email.
TOO_LATE = timedelta(hours=1)
# A reminder says "tomorrow": past 21:00 the day before (someone joined late,
# the clock was down), it would arrive on the day itself, so it is not written.
REMINDER_VALID_FOR = timedelta(hours=12)
TEMPLATES = ("circle_reminder", "circle_prep")


@dataclass
class ReminderReport:
    reminders: int = 0
    preps: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)


def send_time(meeting_start: datetime, tz: str, days_before: int) -> datetime:
    """09:00 on the reader's clock, `days_before` days before the meeting's date on that clock."""
    zone = ZoneInfo(tz)
    day: date = meeting_start.astimezone(zone).date() - timedelta(days=days_before)
    midnight = datetime.combine(day, time.min, zone).astimezone(UTC)
    return sequences.next_window(SEND_AT, False, tz, midnight)


def members_at(circle_id: int, moment: datetime) -> list[Membership]:
    """Active members who joined before `moment`, in the order they joined."""
    return list(
        db.session.scalars(
            select(Membership)
            .where(
                Membership.circle_id == circle_id,
                Membership.left_at.is_(None),
                Membership.joined_at <= moment,
            )
            .order_by(Membership.joined_at, Membership.id)
        )
    )


def _turn(circle: Circle, meeting: schedule.Meeting) -> int:
    """How many meetings this circle held before this one: whose turn it is."""
    held = schedule.meetings(circle, circle.starts_at, meeting.start.astimezone(UTC))
    return sum(1 for m in held if not m.cancelled)


def facilitator_for(circle: Circle, meeting: schedule.Meeting, members: list[Membership]) -> Person | None:
    """The rotation among willing members when the circle rotates, else its facilitator."""
    if circle.rotates_facilitation:
        willing = [m for m in members if m.willing_to_facilitate]
        if willing:
            return willing[_turn(circle, meeting) % len(willing)].person
    return circle.facilitator


def situation_of(circle: Circle, meeting: schedule.Meeting, members: list[Membership],
                 facilitator: Person | None) -> Person | None:
    """Whose situation the circle takes up: each member in turn, not the facilitator."""
    others = [m for m in members if facilitator is None or m.person_id != facilitator.id]
    if not others:
        return None
    return others[_turn(circle, meeting) % len(others)].person


def _is_paused(person: Person, now: datetime) -> bool:
    if person.paused_until is None:
        return False
    return now.astimezone(ZoneInfo(person.timezone)).date() < person.paused_until


def write_due(now: datetime) -> ReminderReport:
    """Write every reminder and prep email due at `now`; the caller commits."""
    report = ReminderReport()
    report.dropped = _drop_late(now)
    circles = db.session.scalars(select(Circle).where(Circle.status == "active").order_by(Circle.id))
    for circle in circles.all():
        try:
            due = schedule.meetings(circle, now, now + LOOKAHEAD)
        except CircleError as error:  # one broken circle does not hold back the others
            report.errors.append(f"{circle.name}: {error}")
            continue
        for meeting in due:
            if meeting.cancelled or meeting.start - now < TOO_LATE:
                continue
            members = members_at(circle.id, meeting.start)
            facilitator = facilitator_for(circle, meeting, members)
            situation = situation_of(circle, meeting, members, facilitator)
            for member in members:
                report.reminders += _reminder(circle, meeting, member, facilitator, situation, now)
            if facilitator is not None:
                report.preps += _prep(circle, meeting, members, facilitator, situation, now)
    return report


def _exists(key: str) -> bool:
    return db.session.scalar(select(Delivery.id).where(Delivery.idempotency_key == key)) is not None


def _reminder(circle: Circle, meeting: schedule.Meeting, member: Membership,
              facilitator: Person | None, situation: Person | None, now: datetime) -> int:
    person = member.person
    if person.status != "active" or _is_paused(person, now):
        return 0
    due = send_time(meeting.start, person.timezone, REMINDER_DAYS_BEFORE)
    if not due <= now < due + REMINDER_VALID_FOR:
        return 0
    key = f"{person.id}:circle:{circle.id}:reminder:{meeting.key}"
    if _exists(key):
        return 0
    answer = answer_of(circle.id, member, meeting.original_start)
    if answer == "no":
        return 0  # they told us already: a reminder would only be noise
    outbox.queue_email(
        person,
        "circle_reminder",
        stream="circles",
        key=key,
        params={
            "circle_name": circle.name,
            "circle_purpose": circle.purpose_text,
            "meeting_when": schedule.when(meeting.start, meeting.end, person.timezone),
            "meeting_at": meeting.start.astimezone(UTC).isoformat(),
            "video_url": circle.video_url,
            "agenda": list(schedule.AGENDA),
            "facilitator_name": facilitator.name if facilitator else "",
            "situation_name": situation.name if situation else "",
            "answer": answer or "",
            "links": {
                **tokens.rsvp_links(person.id, circle.id, meeting.original_start),
                "leave": tokens.leave_url(person.id, member.id),
                "calendar": tokens.webcal_url(person.id),
            },
            "reply_to": ["c", circle.id],
        },
    )
    return 1


def _prep(circle: Circle, meeting: schedule.Meeting, members: list[Membership], facilitator: Person,
          situation: Person | None, now: datetime) -> int:
    if facilitator.status != "active" or _is_paused(facilitator, now):
        return 0
    if now < send_time(meeting.start, facilitator.timezone, PREP_DAYS_BEFORE):
        return 0
    key = f"{facilitator.id}:circle:{circle.id}:prep:{meeting.key}"
    if _exists(key):
        return 0
    roll = []
    for member in members:
        answer = answer_of(circle.id, member, meeting.original_start)
        roll.append(f"{member.person.name} ({answer or 'no answer yet'})")
    outbox.queue_email(
        facilitator,
        "circle_prep",
        stream="circles",
        key=key,
        params={
            "circle_name": circle.name,
            "meeting_when": schedule.when(meeting.start, meeting.end, facilitator.timezone),
            "meeting_at": meeting.start.astimezone(UTC).isoformat(),
            "video_url": circle.video_url,
            "agenda": list(schedule.AGENDA),
            "members": roll,
            "situation_name": situation.name if situation else "",
            "reply_to": ["c", circle.id],
        },
    )
    return 1


def _drop_late(now: datetime) -> int:
    """Reminders and prep emails still waiting (a pause, retries) when their
    meeting has started are cancelled, not sent late."""
    waiting = db.session.execute(
        select(Delivery.id, Delivery.params).where(
            Delivery.status == "pending", Delivery.template.in_(TEMPLATES)
        )
    ).all()
    late = [
        row.id for row in waiting
        if datetime.fromisoformat(row.params.get("meeting_at", now.isoformat())) <= now
    ]
    if late:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(late), Delivery.status == "pending")
            .values(status="cancelled", last_error="the meeting had started", secret_params=None)
            .execution_options(synchronize_session=False)
        )
    return len(late)


def drop_waiting(circle_id: int, reason: str, *, meeting: schedule.Meeting | None = None,
                 person_id: int | None = None) -> int:
    """A meeting was cancelled, or a person left: their unsent reminders and prep go too."""
    pattern = f"%:circle:{circle_id}:%:{meeting.key}" if meeting else f"%:circle:{circle_id}:%"
    query = (
        update(Delivery)
        .where(
            Delivery.status == "pending",
            Delivery.template.in_(TEMPLATES),
            Delivery.idempotency_key.like(pattern),
        )
        .values(status="cancelled", last_error=reason, secret_params=None)
        .execution_options(synchronize_session=False)
    )
    if person_id is not None:
        query = query.where(Delivery.person_id == person_id)
    return db.session.execute(query).rowcount
