"""Decisions about support circles: creating them, who is in them, changes to
their meetings (each raising the series' SEQUENCE and telling every member's
calendar), placement proposals, and what the clock does for them.

Functions add to the session and leave the commit to the caller, so every
calendar email (a Delivery) commits with the change that caused it
(invariant 1). `tick_circles(now)`, run by the clock, owns its transaction.

The interface other features use: `propose_placement`, `request_recovery_circle`,
`record_calendar_reply` (the inbound pipeline), `tick_circles` (app.tick),
`feed_url` / `webcal_url` (the /me page), `circle_for_reply` (reply routing).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.accounts.forms import timezone_names
from app.accounts.models import Cohort, Person
from app.circles import invites, placement, reminders, schedule, tokens
from app.circles.errors import (
    AlreadyMember,
    CircleEnded,
    CircleFull,
    CircleNotFound,
    InvalidSchedule,
    NotAMeeting,
    PersonNotFound,
    PlacementNotFound,
    RsvpLinkInvalid,
)
from app.circles.models import (
    PURPOSES,
    CalendarFeed,
    Circle,
    CircleSetting,
    MeetingChange,
    Membership,
    Placement,
    Rsvp,
)
from app.circles.rsvps import record_calendar_reply, record_link_rsvp  # noqa: F401 - the interface
from app.circles.tokens import feed_url, read_leave_token, webcal_url  # noqa: F401 - the interface
from app.extensions import db
from app.outbox import service as outbox
from emails.calendar import Attendee, feed

log = logging.getLogger(__name__)

AUTO_PLACEMENT = "auto_placement"
PLACE_AFTER_DAYS = "place_after_days"
# A champion's turn for a circle: four weeks into the programme, once the
# first emails and a buddy have settled (a coordinator can change it).
DEFAULT_PLACE_AFTER_DAYS = 28
PLACEMENTS_PER_TICK = 200
MINUTES = (15, 480)
CAPACITY = (2, 50)


# -- lookups ---------------------------------------------------------------------


def get_circle(ref: int | str) -> Circle:
    """A circle by id or by name (the CLI's CIRCLE argument)."""
    circle = None
    text = str(ref).strip()
    if text.isdigit():
        circle = db.session.get(Circle, int(text))
    if circle is None:
        circle = Circle.by_name(text)
    if circle is None:
        raise CircleNotFound(f"No circle with the id or name {text!r}.")
    return circle


def _person(email: str) -> Person:
    person = Person.by_email(email)
    if person is None or person.status != "active":
        raise PersonNotFound(f"No confirmed person with the address {email.strip().lower()}.")
    return person


def active_members(circle_id: int) -> list[Membership]:
    return list(
        db.session.scalars(
            select(Membership)
            .where(Membership.circle_id == circle_id, Membership.left_at.is_(None))
            .order_by(Membership.joined_at, Membership.id)
        )
    )


def membership_of(circle_id: int, person_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(
            Membership.circle_id == circle_id,
            Membership.person_id == person_id,
            Membership.left_at.is_(None),
        )
    )


def circles_of(person_id: int) -> list[Circle]:
    """The active circles a person is a member of now."""
    return list(
        db.session.scalars(
            select(Circle)
            .join(Membership, Membership.circle_id == Circle.id)
            .where(
                Membership.person_id == person_id,
                Membership.left_at.is_(None),
                Circle.status == "active",
            )
            .order_by(Circle.id)
        )
    )


def circle_for_reply(circle_id: int) -> tuple[Circle, list[Person]] | None:
    """For reply routing (`reply+c<id>`): the circle and the people who may write to it."""
    circle = db.session.get(Circle, circle_id)
    if circle is None:
        return None
    return circle, [m.person for m in active_members(circle.id)]


# -- settings --------------------------------------------------------------------


def _setting(key: str) -> str | None:
    row = db.session.get(CircleSetting, key)
    return row.value if row is not None else None


def _set(key: str, value: str, by_id: int | None) -> None:
    row = db.session.get(CircleSetting, key)
    if row is None:
        row = CircleSetting(key=key)
        db.session.add(row)
    row.value, row.updated_at, row.updated_by_id = value, clock.now(), by_id


def is_auto_placement() -> bool:
    """On: proposals are confirmed at once when a circle fits; off: coordinators confirm."""
    return _setting(AUTO_PLACEMENT) == "on"


def set_auto_placement(on: bool, by_id: int | None = None) -> None:
    _set(AUTO_PLACEMENT, "on" if on else "off", by_id)


def place_after_days() -> int | None:
    """Days after confirming when a champion's circle is proposed; None: never by itself."""
    value = _setting(PLACE_AFTER_DAYS)
    if value is None:
        return DEFAULT_PLACE_AFTER_DAYS
    return int(value) if value.isdigit() else None


def set_place_after_days(days: int | None, by_id: int | None = None) -> None:
    _set(PLACE_AFTER_DAYS, "off" if days is None else str(int(days)), by_id)


# -- checking what a coordinator typed ----------------------------------------------


def _check_timezone(name: str) -> str:
    name = (name or "").strip()
    if name not in timezone_names():
        raise InvalidSchedule(f"{name!r} is not a time zone; use an IANA name like Europe/Berlin.")
    return name


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in url):
        raise InvalidSchedule(f"{url!r} is not a video-call link; give a full https:// address.")
    return url


def _check_minutes(minutes: int) -> int:
    if not MINUTES[0] <= int(minutes) <= MINUTES[1]:
        raise InvalidSchedule(f"A meeting lasts {MINUTES[0]} to {MINUTES[1]} minutes, not {minutes}.")
    return int(minutes)


def _check_capacity(capacity: int) -> int:
    if not CAPACITY[0] <= int(capacity) <= CAPACITY[1]:
        raise InvalidSchedule(f"A circle has room for {CAPACITY[0]} to {CAPACITY[1]} people, not {capacity}.")
    return int(capacity)


def _check_future(circle: Circle, start: datetime) -> None:
    if start <= clock.now():
        raise InvalidSchedule(
            f"{start.astimezone(ZoneInfo(circle.timezone)):%Y-%m-%d %H:%M} ({circle.timezone}) "
            "has passed; give a time in the future."
        )


def _normalise_rrule(rrule: str) -> str:
    text = " ".join((rrule or "").split()).upper()
    text = text.removeprefix("RRULE:")
    if not text:
        raise InvalidSchedule("Give the recurrence as an RFC 5545 rule, e.g. FREQ=MONTHLY;BYDAY=1TU.")
    return text


# -- creating ------------------------------------------------------------------------


def create_circle(
    *,
    name: str,
    timezone: str,
    rrule: str,
    start: datetime,
    minutes: int,
    url: str,
    capacity: int = 8,
    purpose: str = "peer",
    cohort: str | None = None,
    facilitator_email: str | None = None,
) -> Circle:
    """A new circle whose first meeting is `start` (naive: the circle's wall clock)."""
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise InvalidSchedule("Give the circle a name of 1 to 80 characters.")
    if Circle.by_name(name) is not None:
        raise InvalidSchedule(f"There is already a circle named {name!r}.")
    if purpose not in PURPOSES:
        raise InvalidSchedule(f"The purpose is one of {', '.join(PURPOSES)}, not {purpose!r}.")
    now = clock.now()
    circle = Circle(
        name=name,
        purpose=purpose,
        timezone=_check_timezone(timezone),
        rrule=_normalise_rrule(rrule),
        minutes=_check_minutes(minutes),
        video_url=_check_url(url),
        capacity=_check_capacity(capacity),
        sequence=0,
        status="active",
        rotates_facilitation=False,
        uid=f"new-{secrets.token_hex(8)}",
        created_at=now,
        updated_at=now,
    )
    circle.starts_at = schedule.local_start(circle, start).astimezone(UTC)
    _check_future(circle, circle.starts_at)
    if cohort:
        circle.cohort_id = _cohort_id(cohort)
    elif purpose == "cohort":
        raise InvalidSchedule("A cohort circle needs its cohort (a month, like 2027-03).")
    if facilitator_email:
        circle.facilitator_id = _person(facilitator_email).id
    schedule.series_of(circle, changes=[])  # raises InvalidSchedule with the reason
    db.session.add(circle)
    db.session.flush()
    circle.uid = f"circle-{circle.id}@{current_app.config['INBOUND_DOMAIN']}"
    db.session.flush()
    _retry_unplaced()
    return circle


def _cohort_id(name: str) -> int:
    cohort_id = db.session.scalar(select(Cohort.id).where(Cohort.name == name.strip()))
    if cohort_id is None:
        raise InvalidSchedule(f"There is no cohort {name!r}; cohorts are named by month, like 2027-03.")
    return cohort_id


# -- members -------------------------------------------------------------------------


def add_member(circle_ref: int | str, person_id: int) -> Membership:
    """The person joins; they get one invitation for the whole series."""
    circle = get_circle(circle_ref)
    if circle.status != "active":
        raise CircleEnded(f"{circle.name} has ended; choose another circle.")
    person = db.session.get(Person, person_id)
    if person is None or person.status != "active":
        raise PersonNotFound(f"Person {person_id} is not a confirmed member of Hearth.")
    if membership_of(circle.id, person.id) is not None:
        raise AlreadyMember(f"{person.email} is already a member of {circle.name}.")
    taken = len(active_members(circle.id))
    if taken >= circle.capacity:
        raise CircleFull(f"{circle.name} is full ({taken} of {circle.capacity}); raise its capacity or choose another.")
    member = Membership(circle_id=circle.id, person_id=person.id, joined_at=clock.now())
    db.session.add(member)
    db.session.flush()
    invites.send_invite(circle, member)
    return member


def add_member_by_email(circle_ref: int | str, email: str) -> Membership:
    return add_member(circle_ref, _person(email).id)


def remove_member(circle_ref: int | str, person_id: int, reason: str) -> Membership:
    """The person leaves: the series is cancelled in their calendar only."""
    circle = get_circle(circle_ref)
    member = membership_of(circle.id, person_id)
    if member is None:
        raise PersonNotFound(f"Person {person_id} is not a member of {circle.name}.")
    member.left_at, member.left_reason = clock.now(), reason[:200]
    _raise_sequence(circle)
    invites.send_series_cancellation(circle, member, ended=False)
    reminders.drop_waiting(circle.id, f"left the circle: {reason}", person_id=person_id)
    return member


def remove_member_by_email(circle_ref: int | str, email: str, reason: str = "removed by a coordinator") -> Membership:
    person = Person.by_email(email)
    if person is None:
        raise PersonNotFound(f"No one with the address {email.strip().lower()}.")
    return remove_member(circle_ref, person.id, reason)


def leave_by_token(token: str) -> Membership:
    """The member pressed Leave on the page their email linked to. The caller commits."""
    person_id, membership_id = read_leave_token(token)
    member = db.session.get(Membership, membership_id)
    if member is None or member.person_id != person_id:
        raise PersonNotFound("This link is not valid any more.")
    if member.left_at is not None:
        return member
    return remove_member(member.circle_id, person_id, "left by the link in an email")


def set_willing(circle_ref: int | str, person_id: int, willing: bool) -> Membership:
    circle = get_circle(circle_ref)
    member = membership_of(circle.id, person_id)
    if member is None:
        raise PersonNotFound(f"Person {person_id} is not a member of {circle.name}.")
    member.willing_to_facilitate = willing
    return member


def set_facilitation(circle_ref: int | str, facilitator_email: str | None, rotates: bool) -> Circle:
    """Who facilitates: one person, and/or the willing members in turn."""
    circle = get_circle(circle_ref)
    circle.facilitator_id = _person(facilitator_email).id if facilitator_email else None
    circle.rotates_facilitation = rotates
    circle.updated_at = clock.now()
    return circle


# -- changes every member's calendar hears about -----------------------------------------


def _raise_sequence(circle: Circle) -> None:
    circle.sequence += 1
    circle.updated_at = clock.now()


def _require_active(circle: Circle) -> None:
    if circle.status != "active":
        raise CircleEnded(f"{circle.name} has ended; nothing to change.")


def _tell_members(circle: Circle, change: str, *, new_time: bool) -> int:
    """Send every member the updated series. After a new time, answers given
    for the old time no longer hold: the calendar (and the next reminder) asks again."""
    series = schedule.series_of(circle)
    members = active_members(circle.id)
    for member in members:
        if new_time:
            member.series_partstat = member.series_comment = member.series_answered_at = None
        invites.send_update(circle, member, change, series)
    return len(members)


def reschedule(circle_ref: int | str, start: datetime, *, rrule: str | None = None,
               minutes: int | None = None) -> str:
    """New time (and rule, length) from `start` on: every member gets an update.
    Cancelled or moved meetings that are still meetings after it are kept."""
    circle = get_circle(circle_ref)
    _require_active(circle)
    new_start = schedule.local_start(circle, start).astimezone(UTC)
    _check_future(circle, new_start)
    old = (circle.starts_at, circle.rrule, circle.minutes)
    circle.starts_at = new_start
    circle.rrule = _normalise_rrule(rrule) if rrule else circle.rrule
    circle.minutes = _check_minutes(minutes) if minutes else circle.minutes
    try:
        schedule.series_of(circle, changes=[])
    except InvalidSchedule:
        circle.starts_at, circle.rrule, circle.minutes = old
        raise
    dropped = _drop_stale_changes(circle)
    _raise_sequence(circle)
    first = schedule.upcoming(circle, clock.now(), 1, include_cancelled=False)
    local = new_start.astimezone(ZoneInfo(circle.timezone))
    change = f"From {local:%A %-d %B %Y} the circle meets at {local:%H:%M} ({circle.timezone})"
    if circle.rrule != old[1]:
        change += f", on a new schedule ({circle.rrule})"
    change += f", for {circle.minutes} minutes."
    told = _tell_members(circle, change, new_time=True)
    text = f"{circle.name} now meets from {local:%Y-%m-%d %H:%M} {circle.timezone} ({circle.rrule}, " \
           f"{circle.minutes} minutes); sequence {circle.sequence}; {told} member(s) get an update"
    if first:
        text += f"; next meeting {first[0].start:%Y-%m-%d %H:%M}"
    if dropped:
        text += f"; {dropped} earlier change(s) to single meetings no longer apply"
    return text + "."


def _drop_stale_changes(circle: Circle) -> int:
    """After a new rule or start, changes to meetings that no longer exist go."""
    dropped = 0
    for change in schedule.changes_of(circle.id):
        keep = change.original_start >= circle.starts_at
        if keep:
            try:
                schedule.series_of(circle, changes=[change])
            except InvalidSchedule:
                keep = False
        if not keep:
            db.session.delete(change)
            dropped += 1
    db.session.flush()
    return dropped


def _future_meeting(circle: Circle, day: date) -> schedule.Meeting:
    meeting = schedule.meeting_on(circle, day)
    if meeting.start <= clock.now():
        raise NotAMeeting(f"The meeting of {day.isoformat()} has already started or passed.")
    return meeting


def cancel_meeting(circle_ref: int | str, day: date) -> schedule.Meeting:
    """Cancel the meeting on `day` (the circle's local date): METHOD:CANCEL with its
    RECURRENCE-ID to every member, and no reminder for it."""
    circle = get_circle(circle_ref)
    _require_active(circle)
    meeting = _future_meeting(circle, day)
    if meeting.cancelled:
        raise NotAMeeting(f"The meeting of {day.isoformat()} is already cancelled.")
    before = schedule.series_of(circle)
    change = db.session.scalar(
        select(MeetingChange).where(
            MeetingChange.circle_id == circle.id, MeetingChange.original_start == meeting.original_start
        )
    )
    if change is None:
        change = MeetingChange(circle_id=circle.id, original_start=meeting.original_start,
                               created_at=clock.now())
        db.session.add(change)
    change.kind, change.start, change.minutes = "cancelled", None, None
    db.session.flush()
    _raise_sequence(circle)
    for member in active_members(circle.id):
        invites.send_meeting_cancellation(circle, member, before, meeting)
    reminders.drop_waiting(circle.id, "the meeting was cancelled", meeting=meeting)
    return meeting


def move_meeting(circle_ref: int | str, day: date, start: datetime, minutes: int | None = None) -> schedule.Meeting:
    """Move the one meeting on `day` to `start`: an exception with its own
    RECURRENCE-ID, sent to every member as an update of the series."""
    circle = get_circle(circle_ref)
    _require_active(circle)
    meeting = _future_meeting(circle, day)
    if meeting.cancelled:
        raise NotAMeeting(f"The meeting of {day.isoformat()} is cancelled; reschedule the circle instead.")
    new_start = schedule.local_start(circle, start).astimezone(UTC)
    _check_future(circle, new_start)
    if abs(new_start - meeting.original_start) > schedule.MAX_MOVE:
        raise InvalidSchedule("A meeting moves by at most 31 days; cancel it and reschedule instead.")
    change = db.session.scalar(
        select(MeetingChange).where(
            MeetingChange.circle_id == circle.id, MeetingChange.original_start == meeting.original_start
        )
    )
    if change is None:
        change = MeetingChange(circle_id=circle.id, original_start=meeting.original_start,
                               created_at=clock.now())
        db.session.add(change)
    change.kind, change.start = "moved", new_start
    change.minutes = _check_minutes(minutes) if minutes else circle.minutes
    db.session.flush()
    schedule.series_of(circle)  # raises InvalidSchedule when it no longer makes a series
    _raise_sequence(circle)
    moved = schedule.meeting_at(circle, meeting.original_start)
    local_old = meeting.start.astimezone(ZoneInfo(circle.timezone))
    local_new = moved.start.astimezone(ZoneInfo(circle.timezone))
    # Answers were for the old time of this one meeting.
    db.session.execute(
        delete(Rsvp).where(Rsvp.circle_id == circle.id, Rsvp.occurrence_start == meeting.original_start)
    )
    _tell_members(
        circle,
        f"The meeting of {local_old:%A %-d %B} moves to {local_new:%A %-d %B, %H:%M} ({circle.timezone}).",
        new_time=False,
    )
    return moved


def change_link(circle_ref: int | str, url: str) -> Circle:
    circle = get_circle(circle_ref)
    _require_active(circle)
    url = _check_url(url)
    if url == circle.video_url:
        raise InvalidSchedule(f"{circle.name} already uses {url}.")
    circle.video_url = url
    _raise_sequence(circle)
    _tell_members(circle, f"The circle has a new video-call link: {url}", new_time=False)
    return circle


def end_circle(circle_ref: int | str) -> int:
    """The circle ends: each member's calendar gets the series cancelled."""
    circle = get_circle(circle_ref)
    _require_active(circle)
    now = clock.now()
    circle.status, circle.ended_at = "ended", now
    _raise_sequence(circle)
    members = active_members(circle.id)
    for member in members:
        member.left_at, member.left_reason = now, "the circle ended"
        invites.send_series_cancellation(circle, member, ended=True)
    reminders.drop_waiting(circle.id, "the circle ended")
    for proposal in db.session.scalars(
        select(Placement).where(Placement.circle_id == circle.id, Placement.status == "proposed")
    ):
        proposal.circle_id, proposal.reason = None, f"{circle.name} ended before this was confirmed."
    return len(members)


# -- placement ---------------------------------------------------------------------------


def _open_proposal(person_id: int, kind: str) -> Placement | None:
    return db.session.scalar(
        select(Placement).where(
            Placement.person_id == person_id, Placement.kind == kind, Placement.status == "proposed"
        )
    )


def propose_placement(person_id: int, *, via: str = "programme", recovery: bool = False,
                      inbound_id: int | None = None, cache: dict | None = None) -> Placement:
    """Propose the circle that suits the person (waking hours, room, cohort).

    Proposing twice returns the open proposal (looked at again when it had no
    circle). With automatic placement on, a fitting proposal is confirmed at
    once and the invitation goes out. The caller commits.
    """
    person = db.session.get(Person, person_id)
    if person is None or person.status != "active":
        raise PersonNotFound(f"Person {person_id} is not a confirmed member of Hearth.")
    kind = "recovery" if recovery else "placement"
    proposal = _open_proposal(person.id, kind)
    if proposal is not None and proposal.circle_id is not None:
        return proposal
    choice = placement.choose(person, recovery=recovery, now=clock.now(), cache=cache)
    if proposal is None:
        proposal = Placement(person_id=person.id, kind=kind, status="proposed", via=via,
                             inbound_id=inbound_id, created_at=clock.now())
        db.session.add(proposal)
    proposal.circle_id = choice.circle.id if choice.circle else None
    proposal.reason = choice.reason
    db.session.flush()
    if choice.circle is not None and is_auto_placement():
        confirm_placement(proposal.id)
    return proposal


def confirm_placement(placement_id: int, *, by_id: int | None = None,
                      circle_ref: int | str | None = None) -> Membership:
    """A coordinator confirms the proposal (or changes it to `circle_ref`)."""
    proposal = db.session.get(Placement, placement_id)
    if proposal is None or proposal.status != "proposed":
        raise PlacementNotFound(f"There is no open placement proposal {placement_id}.")
    target = get_circle(circle_ref) if circle_ref else proposal.circle
    if target is None:
        raise PlacementNotFound("No circle fits this person yet; choose one to place them in.")
    member = add_member(target.id, proposal.person_id)
    proposal.circle_id, proposal.status = target.id, "confirmed"
    proposal.decided_at, proposal.decided_by_id = clock.now(), by_id
    if circle_ref:
        proposal.reason = f"{proposal.reason} Placed in {target.name} by a coordinator."
    return member


def dismiss_placement(placement_id: int, *, by_id: int | None = None) -> Placement:
    proposal = db.session.get(Placement, placement_id)
    if proposal is None or proposal.status != "proposed":
        raise PlacementNotFound(f"There is no open placement proposal {placement_id}.")
    proposal.status, proposal.decided_at, proposal.decided_by_id = "dismissed", clock.now(), by_id
    return proposal


def place_by_email(email: str, circle_ref: int | str | None = None, by_id: int | None = None) -> Membership:
    """Propose (or take the open proposal) and confirm it, optionally into another circle."""
    person = _person(email)
    proposal = _open_proposal(person.id, "recovery") or _open_proposal(person.id, "placement")
    if proposal is None:
        proposal = Placement(person_id=person.id, kind="placement", status="proposed",
                             via="coordinator", created_at=clock.now(),
                             reason="Placed by a coordinator.")
        db.session.add(proposal)
        db.session.flush()
        if circle_ref is None:
            choice = placement.choose(person, recovery=False, now=clock.now())
            proposal.circle_id, proposal.reason = (choice.circle.id if choice.circle else None), choice.reason
    return confirm_placement(proposal.id, by_id=by_id, circle_ref=circle_ref)


def request_recovery_circle(person_id: int, *, inbound_id: int | None = None) -> str:
    """The person replied `circle`: record the request for the coordinators and
    confirm it by email; returns what happened (for the inbound status)."""
    person = db.session.get(Person, person_id)
    if person is None:
        raise PersonNotFound(f"Person {person_id} no longer exists.")
    already = [c for c in circles_of(person.id) if c.purpose == "recovery"]
    if already:
        outcome, placed = f"already in the recovery circle {already[0].name}", already[0].name
    else:
        proposal = propose_placement(person.id, via="reply", recovery=True, inbound_id=inbound_id)
        circle = db.session.get(Circle, proposal.circle_id) if proposal.circle_id else None
        placed = circle.name if circle is not None and proposal.status == "confirmed" else ""
        if placed:
            outcome = f"recovery circle request {proposal.id}: placed in {placed}"
        elif circle is not None:
            outcome = f"recovery circle request {proposal.id}: {circle.name} proposed to the coordinators"
        else:
            outcome = f"recovery circle request {proposal.id} recorded: {proposal.reason}"
    key = f"{person.id}:inbound:{inbound_id}:confirm" if inbound_id else f"{person.id}:circle-request:{clock.now():%Y%m%d}"
    outbox.queue_email(person, "circle_request_received", stream="replies", key=key,
                       params={"circle_name": placed})
    return f"command circle: {outcome}"


def _retry_unplaced(limit: int = PLACEMENTS_PER_TICK) -> int:
    """Open proposals that found no circle look again (a circle was created)."""
    waiting = db.session.scalars(
        select(Placement)
        .where(Placement.status == "proposed", Placement.circle_id.is_(None))
        .order_by(Placement.id)
        .limit(limit)
    ).all()
    cache: dict = {}
    for proposal in waiting:
        propose_placement(proposal.person_id, recovery=proposal.kind == "recovery", cache=cache)
    return len(waiting)


def propose_due_placements(now: datetime, limit: int = PLACEMENTS_PER_TICK) -> int:
    """Champions whose turn for a circle has come, never proposed nor placed."""
    days = place_after_days()
    if days is None or not db.session.scalar(select(func.count(Circle.id)).where(Circle.status == "active")):
        return 0  # with no circle yet, people are proposed once the first one exists
    cutoff = now - timedelta(days=days)
    due = db.session.scalars(
        select(Person.id)
        .where(
            Person.status == "active",
            Person.is_champion.is_(True),
            Person.confirmed_at <= cutoff,
            ~exists().where(Placement.person_id == Person.id),
            ~exists().where(Membership.person_id == Person.id),
        )
        .order_by(Person.id)
        .limit(limit)
    ).all()
    cache: dict = {}
    for person_id in due:
        propose_placement(person_id, cache=cache)
    return len(due)


# -- the clock -------------------------------------------------------------------------------


@dataclass
class CircleReport:
    reminders: int = 0
    preps: int = 0
    dropped: int = 0
    proposals: int = 0
    errors: list[str] | None = None


def tick_circles(now: datetime | None = None) -> CircleReport:
    """Write the reminders and prep emails due at `now` and propose circles to
    champions whose turn it is; commits. Two ticks at once are harmless: the
    Delivery keys are UNIQUE, and the loser is rolled back for the next tick."""
    now = now or clock.now()
    report = CircleReport(errors=[])
    try:
        written = reminders.write_due(now)
        report.reminders, report.preps, report.dropped = written.reminders, written.preps, written.dropped
        report.errors.extend(written.errors)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        report.errors.append("reminders: a concurrent tick wrote them first")
    except Exception as error:  # noqa: BLE001 - the clock must go on sending everything else
        log.exception("circle reminders failed")
        db.session.rollback()
        report.errors.append(f"reminders: {type(error).__name__}: {error}")
    try:
        report.proposals = propose_due_placements(now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        report.errors.append("placements: a concurrent tick proposed them first")
    except Exception as error:  # noqa: BLE001 - as above
        log.exception("circle placement failed")
        db.session.rollback()
        report.errors.append(f"placements: {type(error).__name__}: {error}")
    for problem in report.errors:
        log.warning("tick_circles: %s", problem)
    return report


# -- the personal calendar feed --------------------------------------------------------------


def feed_for(person_id: int, generation: int = 1) -> bytes:
    """Every circle meeting of the person, as a subscribable calendar (no METHOD).
    `generation`: the one the link names; a replaced link opens nothing."""
    person = db.session.get(Person, person_id)
    if person is None:
        raise PersonNotFound("There is no account for this calendar link any more.")
    if generation != tokens.feed_generation(person_id):
        raise RsvpLinkInvalid("This calendar link was replaced by a newer one, on your Hearth page.")
    events = []
    for circle in circles_of(person.id):
        member = membership_of(circle.id, person.id)
        partstat = member.series_partstat or "NEEDS-ACTION"
        events.append((schedule.series_of(circle), [Attendee(person.email, person.name, partstat)]))
    return feed(events, name="Hearth circles", dtstamp=clock.now())


def replace_feed(person_id: int) -> int:
    """A new calendar feed link for the person; every older one stops working
    (it was shared by mistake). Returns the new generation; the caller commits."""
    feed = db.session.get(CalendarFeed, person_id)
    now = clock.now()
    if feed is None:
        try:
            with db.session.begin_nested():
                db.session.add(CalendarFeed(person_id=person_id, generation=2, replaced_at=now))
            return 2
        except IntegrityError:  # a second press at the same moment made the row
            feed = db.session.get(CalendarFeed, person_id, populate_existing=True)
    feed.generation += 1
    feed.replaced_at = now
    db.session.flush()
    return feed.generation


# -- what Hearth holds about a person (for their data export) -------------------------------


def export_for(person_id: int) -> dict:
    """A person's circles, answers and placement requests, JSON-ready."""

    def iso(value):
        return value.isoformat() if value is not None else None

    names = dict(db.session.execute(select(Circle.id, Circle.name)).all())
    memberships = db.session.scalars(
        select(Membership).where(Membership.person_id == person_id).order_by(Membership.id)
    )
    rsvps = db.session.scalars(
        select(Rsvp).where(Rsvp.person_id == person_id).order_by(Rsvp.occurrence_start)
    )
    placements = db.session.scalars(
        select(Placement).where(Placement.person_id == person_id).order_by(Placement.id)
    )
    return {
        "memberships": [
            {"circle": names.get(m.circle_id), "joined_at": iso(m.joined_at), "left_at": iso(m.left_at),
             "left_reason": m.left_reason, "willing_to_facilitate": m.willing_to_facilitate,
             "answer_for_every_meeting": m.series_partstat}
            for m in memberships
        ],
        "rsvps": [
            {"circle": names.get(r.circle_id), "meeting": iso(r.occurrence_start), "answer": r.partstat,
             "via": r.via, "comment": r.comment, "proposed_start": iso(r.proposed_start)}
            for r in rsvps
        ],
        "placements": [
            {"kind": p.kind, "status": p.status, "circle": names.get(p.circle_id),
             "created_at": iso(p.created_at)}
            for p in placements
        ],
    }
