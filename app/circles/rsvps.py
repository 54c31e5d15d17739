"""RSVPs: a member's answer per meeting, from a calendar reply (iTIP REPLY or
COUNTER by email) or from the RSVP page. A reply without RECURRENCE-ID
answers for the whole series; an answer for one meeting wins over it.
A COUNTER's proposed time is recorded for the coordinators, never applied.
The newest answer wins, so reprocessing an old message changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app import clock
from app.accounts.models import Person
from app.circles import invites, schedule, tokens
from app.circles.errors import (
    NotAMeeting,
    NotAMeetingOfTheSeries,
    NotAMember,
    RsvpLinkInvalid,
    UnknownSeries,
    UnreadableCalendarReply,
)
from app.circles.models import ANSWERS, Circle, Membership, Rsvp
from app.extensions import db
from app.inbound.models import InboundMessage
from emails.calendar import CalendarParseError, CalendarReply, parse_reply

WORDS = {"yes": "ACCEPTED", "no": "DECLINED", "maybe": "TENTATIVE"}
SAID = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative"}


def active_membership(circle_id: int, person_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(
            Membership.circle_id == circle_id,
            Membership.person_id == person_id,
            Membership.left_at.is_(None),
        )
    )


def record_calendar_reply(circle_id: int, author_id: int, ics: bytes, inbound_id: int | None) -> str:
    """Record what a member answered in their calendar; returns what happened.

    Raises a CalendarReplyRejected (UnknownSeries, NotAMember,
    NotAMeetingOfTheSeries, UnreadableCalendarReply) with the reason when the
    reply is not recorded. The caller commits.
    """
    circle = db.session.get(Circle, circle_id)
    if circle is None:
        raise UnknownSeries(f"the reply went to circle {circle_id}, which no longer exists")
    author = db.session.get(Person, author_id)
    if author is None:
        raise NotAMember(f"person {author_id} no longer exists")
    try:
        replies = parse_reply(ics)
    except CalendarParseError as error:
        raise UnreadableCalendarReply(f"the calendar reply cannot be read: {error}") from error
    inbound = db.session.get(InboundMessage, inbound_id) if inbound_id else None
    answered_at = inbound.received_at if inbound is not None else clock.now()
    outcomes = []
    for reply in replies:
        if reply.uid != circle.uid:
            raise UnknownSeries(
                f"the reply answers {reply.uid}, which is not the series of {circle.name} ({circle.uid})"
            )
        if reply.attendee_email != author.email:
            raise NotAMember(
                f"the reply answers for {reply.attendee_email}, but {author.email} sent it"
            )
        member = active_membership(circle.id, author.id)
        if member is None:
            raise NotAMember(f"{author.email} is not a member of {circle.name}")
        if reply.method == "REFRESH":
            invites.send_invite(circle, member, kind=f"refresh-{inbound_id or 0}")
            outcomes.append(f"{author.email} asked for the invitation again; sent")
            continue
        if reply.partstat not in ANSWERS:
            raise NotAMeetingOfTheSeries(
                f"PARTSTAT {reply.partstat} from {author.email} is not a yes, no or maybe"
            )
        outcomes.append(_record(circle, member, reply, answered_at, inbound_id))
    return "; ".join(outcomes)


def _record(circle: Circle, member: Membership, reply: CalendarReply, answered_at: datetime,
            inbound_id: int | None) -> str:
    email = member.person.email
    said = SAID[reply.partstat]
    proposal = ""
    if reply.method == "COUNTER" and reply.proposed_start is not None:
        proposal = (
            f" with a proposed new time {_local(circle, reply.proposed_start)} "
            "(recorded, not applied)"
        )
    if reply.recurrence_id is None:
        if member.series_answered_at is not None and member.series_answered_at > answered_at:
            return f"an older answer for every meeting from {email}; kept the newer one"
        member.series_partstat = reply.partstat
        comment = reply.comment
        if proposal:
            comment = f"{comment}\nProposed{proposal}".strip()
        member.series_comment = comment or None
        member.series_answered_at = answered_at
        return f"RSVP {said} for every meeting of {circle.name} from {email}{proposal}"
    meeting = schedule.meeting_at(circle, reply.recurrence_id)
    if meeting is None:
        raise NotAMeetingOfTheSeries(
            f"{_local(circle, reply.recurrence_id)} is not a meeting of {circle.name}"
        )
    if meeting.cancelled:
        raise NotAMeetingOfTheSeries(
            f"the meeting of {meeting.start:%Y-%m-%d} of {circle.name} was cancelled"
        )
    recorded = upsert(
        circle.id,
        member.person_id,
        meeting.original_start,
        reply.partstat,
        via="calendar",
        comment=reply.comment,
        answered_at=answered_at,
        proposed=(reply.proposed_start, reply.proposed_end) if proposal else (None, None),
        inbound_id=inbound_id,
    )
    if not recorded:
        return f"an older answer for {meeting.start:%Y-%m-%d} from {email}; kept the newer one"
    return f"RSVP {said} for {meeting.start:%Y-%m-%d} from {email}{proposal}"


def _local(circle: Circle, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(circle.timezone)).strftime("%Y-%m-%d %H:%M")


def upsert(circle_id: int, person_id: int, original_start: datetime, partstat: str, *, via: str,
           comment: str = "", answered_at: datetime, proposed=(None, None),
           inbound_id: int | None = None) -> bool:
    """Write the answer unless a newer one is already there; True when written."""
    row = db.session.scalar(
        select(Rsvp).where(
            Rsvp.circle_id == circle_id,
            Rsvp.person_id == person_id,
            Rsvp.occurrence_start == original_start,
        )
    )
    if row is not None and row.answered_at > answered_at:
        return False
    if row is None:
        row = Rsvp(circle_id=circle_id, person_id=person_id, occurrence_start=original_start)
        db.session.add(row)
    row.partstat, row.via, row.comment = partstat, via, comment or ""
    row.proposed_start, row.proposed_end = proposed
    row.inbound_id = inbound_id
    row.answered_at = answered_at
    db.session.flush()
    return True


@dataclass(frozen=True)
class LinkTarget:
    circle: Circle
    member: Membership
    meeting: schedule.Meeting
    answer: str | None  # yes | no | maybe | None


def open_link(token: str) -> LinkTarget:
    """What an RSVP link points at; raises RsvpLinkInvalid / NotAMeeting with the reason."""
    link = tokens.read_rsvp_token(token)
    circle = db.session.get(Circle, link.circle_id)
    if circle is None or circle.status != "active":
        raise RsvpLinkInvalid("This circle has ended, so there is nothing to answer.")
    member = active_membership(circle.id, link.person_id)
    if member is None:
        raise RsvpLinkInvalid(f"You are no longer a member of {circle.name}.")
    meeting = schedule.meeting_at(circle, link.original_start)
    if meeting is None or meeting.cancelled:
        raise NotAMeeting("This meeting was cancelled: there is nothing to answer.")
    if meeting.end <= clock.now():
        raise NotAMeeting("This meeting is over. Thank you for coming, or for letting us know.")
    return LinkTarget(circle, member, meeting, answer_of(circle.id, member, meeting.original_start))


def record_link_rsvp(token: str, answer: str) -> LinkTarget:
    """The member pressed Yes, No or Maybe on the RSVP page. The caller commits."""
    if answer not in WORDS:
        raise RsvpLinkInvalid("Please press Yes, No or Maybe.")
    target = open_link(token)
    upsert(target.circle.id, target.member.person_id, target.meeting.original_start, WORDS[answer],
           via="link", answered_at=clock.now())
    return LinkTarget(target.circle, target.member, target.meeting, answer)


def answer_of(circle_id: int, member: Membership, original_start: datetime) -> str | None:
    """yes | no | maybe | None: the meeting's own answer, else the series answer."""
    partstat = db.session.scalar(
        select(Rsvp.partstat).where(
            Rsvp.circle_id == circle_id,
            Rsvp.person_id == member.person_id,
            Rsvp.occurrence_start == original_start,
        )
    )
    partstat = partstat or member.series_partstat
    return ANSWERS.get(partstat) if partstat else None


def answers_for(circle: Circle, members: list[Membership], meetings: list[schedule.Meeting]) -> dict:
    """{(person_id, meeting.key): Rsvp-like row or None} for a page of meetings."""
    starts = [m.original_start for m in meetings]
    rows = db.session.scalars(
        select(Rsvp).where(Rsvp.circle_id == circle.id, Rsvp.occurrence_start.in_(starts))
    ).all() if starts else []
    by_key = {(r.person_id, r.occurrence_start): r for r in rows}
    found = {}
    for meeting in meetings:
        for member in members:
            row = by_key.get((member.person_id, meeting.original_start))
            if row is not None:
                found[(member.person_id, meeting.key)] = {
                    "answer": ANSWERS.get(row.partstat), "via": row.via, "comment": row.comment,
                    "proposed_start": row.proposed_start, "series": False,
                }
            elif member.series_partstat in ANSWERS:
                found[(member.person_id, meeting.key)] = {
                    "answer": ANSWERS[member.series_partstat], "via": "calendar",
                    "comment": member.series_comment or "", "proposed_start": None, "series": True,
                }
    return found
