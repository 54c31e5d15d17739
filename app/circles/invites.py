"""The calendar emails of a circle (iTIP over iMIP, RFC 5546/6047): the invite
for the whole series, updates, one meeting's cancellation, and the series'
cancellation for one person. Each is a Delivery on stream "circles" whose
params carry the .ics (built now, from the series as it is now) and whose
ORGANIZER and Reply-To are the circle's signed `reply+c<id>` address.

Idempotency keys name (person, circle, membership, kind, SEQUENCE), so one
change writes one email per member, and joining again later is a new email.

Calendar emails are written to go now (`send_at` = now), never held by the
attention cap: a late cancellation is worse than one email too many. They
still count towards the cap, so journey emails give way to them.
"""

from __future__ import annotations

from dataclasses import replace

from app import clock
from app.accounts.models import Person
from app.circles import schedule, tokens
from app.circles.models import Circle, Membership
from app.outbox import service as outbox
from app.outbox.models import Delivery
from emails.calendar import Attendee, Series, cancel_occurrence, cancel_series, invite

STREAM = "circles"
NEXT_MEETINGS_SHOWN = 3


def attendee_of(person: Person, partstat: str = "NEEDS-ACTION") -> Attendee:
    return Attendee(email=person.email, name=person.name, partstat=partstat)


def key(person_id: int, circle_id: int, membership_id: int, kind: str, sequence: int) -> str:
    return f"{person_id}:circle:{circle_id}:m{membership_id}:{kind}:{sequence}"


def _params(circle: Circle, member: Membership, **extra) -> dict:
    person = member.person
    following = schedule.upcoming(circle, clock.now(), NEXT_MEETINGS_SHOWN, include_cancelled=False)
    generation = tokens.feed_generation(person.id)
    return {
        "circle_name": circle.name,
        "circle_purpose": circle.purpose_text,
        "video_url": circle.video_url,
        "meetings": [schedule.when(m.start, m.end, person.timezone) for m in following],
        "links": {
            "leave": tokens.leave_url(person.id, member.id),
            "calendar": tokens.webcal_url(person.id, generation),
            "calendar_https": tokens.feed_url(person.id, generation),
        },
        "reply_to": ["c", circle.id],
        **extra,
    }


def _queue(circle: Circle, member: Membership, template: str, kind: str, ics: bytes,
           method: str, **extra) -> Delivery:
    person = member.person
    return outbox.queue_email(
        person,
        template,
        stream=STREAM,
        key=key(person.id, circle.id, member.id, kind, circle.sequence),
        params={**_params(circle, member, **extra), "ics": ics.decode("utf-8"), "ics_method": method},
    )


def send_invite(circle: Circle, member: Membership, series: Series | None = None, *,
                kind: str = "invite") -> Delivery:
    """Joining: one METHOD:REQUEST for the whole series (moved meetings included).
    `kind` names a resend (a calendar's REFRESH) apart from the first invite."""
    series = series or schedule.series_of(circle)
    ics = invite(series, attendee_of(member.person, member.series_partstat or "NEEDS-ACTION"),
                 dtstamp=clock.now())
    return _queue(circle, member, "circle_invite", kind, ics, "REQUEST")


def send_update(circle: Circle, member: Membership, change: str, series: Series | None = None) -> Delivery:
    """A new time, rule, length or link: the same UID with a higher SEQUENCE.
    The member's answer for the series rides along while it still holds (a new
    link); after a new time it was cleared, so the calendar asks again."""
    series = series or schedule.series_of(circle)
    partstat = member.series_partstat or "NEEDS-ACTION"
    ics = invite(series, attendee_of(member.person, partstat), dtstamp=clock.now())
    return _queue(circle, member, "circle_updated", "update", ics, "REQUEST", change=change)


def send_meeting_cancellation(circle: Circle, member: Membership, before: Series,
                              meeting: schedule.Meeting) -> Delivery:
    """METHOD:CANCEL of one meeting (its RECURRENCE-ID), built from the series as
    it was before, so a moved meeting is cancelled where it had moved to."""
    ics = cancel_occurrence(
        replace(before, sequence=circle.sequence),
        attendee_of(member.person),
        meeting.original_start,
        dtstamp=clock.now(),
    )
    when = schedule.when(meeting.start, meeting.end, member.person.timezone)
    return _queue(circle, member, "circle_meeting_cancelled", f"cancel-{meeting.key}", ics, "CANCEL",
                  meeting_when=when)


def send_series_cancellation(circle: Circle, member: Membership, *, ended: bool) -> Delivery:
    """METHOD:CANCEL of the whole series, to this person only: they left, or the circle ended."""
    series = schedule.series_of(circle)
    ics = cancel_series(series, attendee_of(member.person), dtstamp=clock.now())
    template = "circle_ended" if ended else "circle_left"
    return _queue(circle, member, template, "cancel-series", ics, "CANCEL")
