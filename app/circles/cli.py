"""CLI twins of the coordinators' circle actions (DESIGN.md), and
`flask export rsvps`. CIRCLE is the circle's id or name. Each command prints
what it did, or exits non-zero with the reason."""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app import clock
from app.accounts.models import Person
from app.circles import schedule, service
from app.circles.errors import CircleError
from app.circles.models import ANSWERS, PURPOSES, Circle, Membership, Placement, Rsvp
from app.cli import export_cli
from app.extensions import db
from app.outbox import service as outbox

circles_cli = AppGroup("circles", help="Support circles: create, members, meetings, placement.")


def _when(value: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise click.ClickException(
            f"{what} {value!r} is not an ISO 8601 time, e.g. 2027-04-06T18:00 (the circle's clock) "
            "or 2027-04-06T18:00+02:00"
        ) from error


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError as error:
        raise click.ClickException(f"{value!r} is not a date like 2027-04-06.") from error


def _commit(message: str) -> None:
    """Commit, hand the emails to the workers, say what happened."""
    db.session.commit()
    try:
        outbox.enqueue_pending()
    except Exception:  # noqa: BLE001 - no Redis here: the clock enqueues them
        message += " (the clock sends the emails on its next tick)"
    click.echo(message)


def _run(action):
    try:
        return action()
    except CircleError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error


def _next(circle: Circle, count: int = 3) -> str:
    meetings = schedule.upcoming(circle, clock.now(), count, include_cancelled=False)
    return ", ".join(m.start.strftime("%a %Y-%m-%d %H:%M") for m in meetings) or "none"


@circles_cli.command("create")
@click.option("--name", required=True, help="The circle's name.")
@click.option("--timezone", "timezone_name", required=True, help="IANA zone, e.g. Europe/Berlin.")
@click.option("--rrule", required=True, help="RFC 5545 rule, e.g. FREQ=MONTHLY;BYDAY=1TU.")
@click.option("--start", required=True, help="First meeting, ISO 8601 (no offset: the circle's clock).")
@click.option("--minutes", type=int, required=True, help="How long a meeting lasts.")
@click.option("--url", required=True, help="The video-call link.")
@click.option("--capacity", type=int, default=8, show_default=True)
@click.option("--purpose", type=click.Choice(list(PURPOSES)), default="peer", show_default=True)
@click.option("--cohort", help="The cohort of a cohort circle (a month, e.g. 2027-03).")
@click.option("--facilitator", help="The facilitator's email address.")
def create(name, timezone_name, rrule, start, minutes, url, capacity, purpose, cohort, facilitator):
    """Create a circle."""
    first = _when(start, "--start")
    circle = _run(lambda: service.create_circle(
        name=name, timezone=timezone_name, rrule=rrule, start=first, minutes=minutes, url=url,
        capacity=capacity, purpose=purpose, cohort=cohort, facilitator_email=facilitator,
    ))
    _commit(
        f"Created circle {circle.id} {circle.name!r} ({circle.purpose}): {circle.rrule}, "
        f"{circle.minutes} minutes, {circle.timezone}, capacity {circle.capacity}. "
        f"Next meetings: {_next(circle)}."
    )


@circles_cli.command("list")
def list_circles():
    """The circles, with their next meeting and members."""
    for circle in db.session.scalars(select(Circle).order_by(Circle.id)):
        members = len(service.active_members(circle.id))
        click.echo(f"{circle.id}\t{circle.name}\t{circle.status}\t{members}/{circle.capacity}\t"
                   f"{circle.rrule}\t{circle.timezone}\tnext: {_next(circle, 1)}")


@circles_cli.command("add-member")
@click.argument("circle")
@click.argument("email")
def add_member(circle, email):
    """Add EMAIL to CIRCLE and send the invitation."""
    member = _run(lambda: service.add_member_by_email(circle, email))
    found = db.session.get(Circle, member.circle_id)
    _commit(f"{member.person.email} joined {found.name!r} "
            f"({len(service.active_members(found.id))} of {found.capacity}); the invitation is on its way.")


@circles_cli.command("remove-member")
@click.argument("circle")
@click.argument("email")
def remove_member(circle, email):
    """Take EMAIL out of CIRCLE; their calendar gets the series cancelled."""
    member = _run(lambda: service.remove_member_by_email(circle, email))
    _commit(f"{member.person.email} left {db.session.get(Circle, member.circle_id).name!r}; "
            "a cancellation is on its way to them.")


@circles_cli.command("reschedule")
@click.argument("circle")
@click.option("--start", required=True, help="New first meeting, ISO 8601 (no offset: the circle's clock).")
@click.option("--rrule", help="A new rule as well.")
@click.option("--minutes", type=int, help="A new length as well.")
@click.option("--meeting", help="Move only the meeting of this date (YYYY-MM-DD) to --start.")
def reschedule(circle, start, rrule, minutes, meeting):
    """Move CIRCLE's meetings from --start on (or only one, with --meeting); every member gets an update."""
    new_start = _when(start, "--start")
    if meeting:
        day = _day(meeting)
        moved = _run(lambda: service.move_meeting(circle, day, new_start, minutes))
        found = service.get_circle(circle)
        _commit(f"The meeting of {day.isoformat()} of {found.name!r} moves to "
                f"{moved.start:%Y-%m-%d %H:%M} {found.timezone}; sequence {found.sequence}; "
                f"{len(service.active_members(found.id))} member(s) get an update.")
        return
    _commit(_run(lambda: service.reschedule(circle, new_start, rrule=rrule, minutes=minutes)))


@circles_cli.command("cancel-meeting")
@click.argument("circle")
@click.argument("day", metavar="DATE")
def cancel_meeting(circle, day):
    """Cancel CIRCLE's meeting on DATE (YYYY-MM-DD, the circle's clock)."""
    when = _day(day)
    meeting = _run(lambda: service.cancel_meeting(circle, when))
    found = service.get_circle(circle)
    _commit(f"Cancelled the meeting of {found.name!r} on {meeting.start:%Y-%m-%d %H:%M} {found.timezone}; "
            f"{len(service.active_members(found.id))} member(s) get a cancellation.")


@circles_cli.command("set-link")
@click.argument("circle")
@click.argument("url")
def set_link(circle, url):
    """Give CIRCLE a new video-call link; every member gets an update."""
    found = _run(lambda: service.change_link(circle, url))
    _commit(f"{found.name!r} now uses {found.video_url}; every member gets an update.")


@circles_cli.command("end")
@click.argument("circle")
def end(circle):
    """End CIRCLE; every member's calendar gets the series cancelled."""
    name = _run(lambda: service.get_circle(circle)).name
    told = _run(lambda: service.end_circle(circle))
    _commit(f"{name!r} has ended; {told} member(s) get a cancellation.")


@circles_cli.command("placements")
def placements():
    """Open placement proposals, for coordinators to confirm."""
    rows = db.session.scalars(
        select(Placement).where(Placement.status == "proposed").order_by(Placement.id)
    ).all()
    for p in rows:
        click.echo(f"{p.id}\t{p.person.email}\t{p.kind}\t{p.circle.name if p.circle else '-'}\t{p.reason}")
    if not rows:
        click.echo("No open placement proposals.")


@circles_cli.command("place")
@click.argument("email")
@click.option("--circle", help="Place in this circle instead of the proposed one.")
def place(email, circle):
    """Confirm EMAIL's proposed circle (or place them in --circle)."""
    member = _run(lambda: service.place_by_email(email, circle))
    _commit(f"{member.person.email} joined {db.session.get(Circle, member.circle_id).name!r}; "
            "the invitation is on its way.")


@circles_cli.command("auto-placement")
@click.argument("switch", type=click.Choice(["on", "off"]))
def auto_placement(switch):
    """Confirm fitting proposals automatically (on), or leave them to coordinators (off)."""
    service.set_auto_placement(switch == "on")
    _commit(f"Automatic circle placement is {switch}.")


def _iso(value) -> str:
    return value.isoformat() if value is not None else ""


@export_cli.command("rsvps")
def export_rsvps() -> None:
    """Every RSVP: one row per member and meeting, and answers for a whole series."""
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["circle_id", "circle", "person_id", "email", "meeting_local", "meeting_utc",
                  "scope", "answer", "partstat", "via", "comment", "proposed_start", "proposed_end",
                  "answered_at"])
    circles = {c.id: c for c in db.session.scalars(select(Circle))}
    emails = dict(db.session.execute(select(Person.id, Person.email)).all())
    rows = db.session.scalars(select(Rsvp).order_by(Rsvp.circle_id, Rsvp.occurrence_start, Rsvp.person_id))
    for r in rows.yield_per(1000):
        circle = circles[r.circle_id]
        local = r.occurrence_start.astimezone(ZoneInfo(circle.timezone)).isoformat()
        out.writerow([circle.id, circle.name, r.person_id, emails.get(r.person_id, ""), local,
                      _iso(r.occurrence_start), "meeting", ANSWERS.get(r.partstat, ""), r.partstat,
                      r.via, r.comment, _iso(r.proposed_start), _iso(r.proposed_end),
                      _iso(r.answered_at)])
    series = db.session.scalars(
        select(Membership).where(Membership.series_partstat.is_not(None)).order_by(Membership.id)
    )
    for m in series:
        circle = circles[m.circle_id]
        out.writerow([circle.id, circle.name, m.person_id, emails.get(m.person_id, ""), "", "",
                      "series", ANSWERS.get(m.series_partstat, ""), m.series_partstat, "calendar",
                      m.series_comment or "", "", "", _iso(m.series_answered_at)])
