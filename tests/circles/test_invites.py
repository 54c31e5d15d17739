"""Every invite, update and cancellation, as it leaves through a real SMTP
server, read back by two independent parsers (recurring-ical-events on
icalendar, and vobject with dateutil's zones built from our VTIMEZONE)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import recurring_ical_events
import vobject

from app.circles import service as circles
from app.circles.schedule import organizer_email
from tests.circles.conftest import calendar_email, circle, emails_to, join, person, run, send, words

BERLIN, NEW_YORK, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")
YEAR = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


def first_tuesdays(hour: int, count: int = 12, *, month: int = 1) -> list[datetime]:
    """Worked out by hand: the first Tuesday of each month at `hour`:00 Berlin,
    from `month` of 2025 on."""
    found = []
    for index in range(month - 1, month - 1 + count):
        y, m = 2025 + index // 12, index % 12 + 1
        day = next(d for d in range(1, 8) if date(y, m, d).weekday() == 1)
        found.append(datetime(y, m, day, hour, 0, tzinfo=BERLIN))
    return found


def starts_by_rie(ics: bytes) -> list[datetime]:
    import icalendar

    events = recurring_ical_events.of(icalendar.Calendar.from_ical(ics)).between(*YEAR)
    return sorted(e["DTSTART"].dt for e in events)


def starts_by_vobject(ics: bytes, count: int = 12) -> list[datetime]:
    cal = vobject.readOne(ics.decode("utf-8"))
    moved = {e.recurrence_id.value.astimezone(UTC): e.dtstart.value
             for e in cal.vevent_list if hasattr(e, "recurrence_id")}
    master = next(e for e in cal.vevent_list if not hasattr(e, "recurrence_id"))
    found = []
    for start in master.getrruleset():
        found.append(moved.get(start.astimezone(UTC), start))
        if len(found) == count:
            break
    return sorted(found, key=lambda s: s.astimezone(UTC))


def utc(moments) -> list[datetime]:
    return [m.astimezone(UTC) for m in moments]


def test_joining_sends_one_invite_for_the_whole_series(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor", "Europe/Berlin")
    ben = person(app, "ben@example.org", "Ben Carter", "America/New_York")
    kei = person(app, "kei@example.org", "Kei Tanaka", "Asia/Tokyo")
    circle_id = circle(app)
    join(app, circle_id, ada, ben, kei)
    send(app, drain)

    with app.app_context():
        organizer = organizer_email(circle_id)
    for address, zone, shown in [
        ("ada@example.org", BERLIN, "Tuesday 7 January 2025, 18:00-19:30 (Europe/Berlin)"),
        ("ben@example.org", NEW_YORK, "Tuesday 7 January 2025, 12:00-13:30 (America/New_York)"),
        ("kei@example.org", TOKYO, "Wednesday 8 January 2025, 02:00-03:30 (Asia/Tokyo)"),
    ]:
        (received,) = emails_to(smtp, address)
        assert received.subject == "Your support circle: Riverside circle"
        assert shown in words(received)
        assert "Accept it in your calendar" in words(received)
        mail = calendar_email(received)
        assert mail.mime_method == "REQUEST" == str(mail.calendar["METHOD"])
        assert mail.attachment == mail.ics and mail.attachment_name == "invite.ics"
        assert received.message["Reply-To"].addresses[0].addr_spec == organizer

        event = mail.master
        assert str(event["UID"]) == f"circle-{circle_id}@in.hearth.test"
        assert int(event["SEQUENCE"]) == 0
        assert "DTSTAMP" in event and str(event["STATUS"]) == "CONFIRMED"
        assert str(event["ORGANIZER"]) == f"mailto:{organizer}"
        attendee = event["ATTENDEE"]
        assert str(attendee) == f"mailto:{address}"
        assert attendee.params["RSVP"] == "TRUE" and attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert str(event["LOCATION"]) == "https://meet.example/riverside"
        (timezone,) = mail.calendar.walk("VTIMEZONE")
        assert str(timezone["TZID"]) == "Europe/Berlin"
        assert mail.calendar.get_missing_tzids() == set()

        # The next 12 meetings: 18:00 in Berlin across both DST changes, and
        # the same instants on the member's own clock.
        expected = first_tuesdays(18)
        by_rie, by_vobject = starts_by_rie(mail.ics), starts_by_vobject(mail.ics)
        assert utc(by_rie) == utc(expected) == utc(by_vobject)
        assert {s.astimezone(BERLIN).strftime("%H:%M") for s in by_rie} == {"18:00"}
        assert len({s.astimezone(BERLIN).utcoffset() for s in by_rie}) == 2
        assert [s.astimezone(zone).strftime("%H:%M") for s in by_vobject] == [
            e.astimezone(zone).strftime("%H:%M") for e in expected
        ]
    # Tokyo keeps no summer time: Kei's meeting is at 02:00 in winter, 01:00 in summer.
    kei_hours = {s.astimezone(TOKYO).strftime("%H:%M") for s in first_tuesdays(18)}
    assert kei_hours == {"02:00", "01:00"}


def test_a_new_time_or_link_updates_every_member_with_a_higher_sequence(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    ben = person(app, "ben@example.org", "Ben Carter", "America/New_York")
    circle_id = circle(app)
    join(app, circle_id, ada, ben)
    send(app, drain)
    invite = {a: calendar_email(emails_to(smtp, a)[0]) for a in ("ada@example.org", "ben@example.org")}

    said = run(app, lambda: circles.reschedule(circle_id, datetime(2025, 2, 4, 19, 0)))
    assert "sequence 1; 2 member(s) get an update" in said
    run(app, lambda: circles.change_link(circle_id, "https://meet.example/riverside-2"))
    send(app, drain)

    for address in invite:
        updates = emails_to(smtp, address, "Updated: Riverside circle")
        assert len(updates) == 2
        first, second = (calendar_email(u) for u in updates)
        for mail in (first, second):
            assert mail.mime_method == "REQUEST" == str(mail.calendar["METHOD"])
            assert str(mail.master["UID"]) == str(invite[address].master["UID"])
            assert mail.calendar.walk("VTIMEZONE")
        assert [int(m.master["SEQUENCE"]) for m in (invite[address], first, second)] == [0, 1, 2]
        assert "the circle meets at 19:00 (Europe/Berlin)" in words(updates[0])
        assert str(second.master["LOCATION"]) == "https://meet.example/riverside-2"
        expected = first_tuesdays(19, 12, month=2)  # February 2025 to January 2026
        assert utc(starts_by_rie(second.ics)) == utc(e for e in expected if e < YEAR[1])
        assert utc(starts_by_vobject(second.ics, 12)) == utc(expected)
        assert {s.astimezone(BERLIN).strftime("%H:%M") for s in starts_by_vobject(second.ics)} == {"19:00"}


def test_cancelling_one_meeting_sends_cancel_with_its_recurrence_id(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    ben = person(app, "ben@example.org", "Ben Carter", "America/New_York")
    circle_id = circle(app)
    join(app, circle_id, ada, ben)
    meeting = run(app, lambda: circles.cancel_meeting(circle_id, date(2025, 3, 4)))
    assert meeting.original_start == datetime(2025, 3, 4, 17, 0, tzinfo=UTC)
    send(app, drain)

    (received,) = emails_to(smtp, "ben@example.org", "Cancelled")
    assert "Tuesday 4 March 2025, 12:00-13:30 (America/New_York)" in received.subject
    mail = calendar_email(received)
    assert mail.mime_method == "CANCEL" == str(mail.calendar["METHOD"])
    assert mail.attachment_name == "cancel.ics"
    (event,) = mail.events
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert event["RECURRENCE-ID"].dt == datetime(2025, 3, 4, 18, 0, tzinfo=BERLIN)
    assert mail.calendar.walk("VTIMEZONE")
    cal = vobject.readOne(mail.ics.decode())
    assert cal.method.value == "CANCEL" and cal.vevent.recurrence_id.value.astimezone(UTC).hour == 17

    # Someone who joins now gets the series without that meeting (an EXDATE).
    cleo = person(app, "cleo@example.org", "Cleo Diaz")
    join(app, circle_id, cleo)
    send(app, drain)
    invite = calendar_email(emails_to(smtp, "cleo@example.org")[0])
    starts = starts_by_rie(invite.ics)
    assert datetime(2025, 3, 4, 18, 0, tzinfo=BERLIN) not in starts and len(starts) == 11
    assert len(starts_by_vobject(invite.ics, 11)) == 11
    assert int(invite.master["SEQUENCE"]) == 1


def test_a_moved_meeting_is_an_exception_with_its_own_recurrence_id(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    circle_id = circle(app)
    join(app, circle_id, ada)
    run(app, lambda: circles.move_meeting(circle_id, date(2025, 4, 1), datetime(2025, 4, 3, 19, 0)))
    send(app, drain)

    (received,) = emails_to(smtp, "ada@example.org", "Updated")
    assert "moves to Thursday 3 April, 19:00" in words(received)
    mail = calendar_email(received)
    assert mail.mime_method == "REQUEST"
    (moved,) = [e for e in mail.events if "RECURRENCE-ID" in e]
    assert moved["RECURRENCE-ID"].dt == datetime(2025, 4, 1, 18, 0, tzinfo=BERLIN)
    assert moved["DTSTART"].dt == datetime(2025, 4, 3, 19, 0, tzinfo=BERLIN)
    assert int(moved["SEQUENCE"]) == int(mail.master["SEQUENCE"]) == 1
    starts = starts_by_rie(mail.ics)
    assert datetime(2025, 4, 3, 19, 0, tzinfo=BERLIN) in starts
    assert datetime(2025, 4, 1, 18, 0, tzinfo=BERLIN) not in starts and len(starts) == 12
    assert datetime(2025, 4, 3, 17, 0, tzinfo=UTC) in utc(starts_by_vobject(mail.ics))


def test_leaving_cancels_the_series_for_that_person_only(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    ben = person(app, "ben@example.org", "Ben Carter")
    circle_id = circle(app)
    join(app, circle_id, ada, ben)
    send(app, drain)
    run(app, lambda: circles.remove_member(circle_id, ben, "asked to leave"))
    send(app, drain)

    (left,) = emails_to(smtp, "ben@example.org", "You have left")
    mail = calendar_email(left)
    assert mail.mime_method == "CANCEL" == str(mail.calendar["METHOD"])
    (event,) = mail.events
    assert "RECURRENCE-ID" not in event and "RRULE" in event
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert str(event["ATTENDEE"]) == "mailto:ben@example.org"
    assert len(smtp.to("ada@example.org")) == 1  # only her invitation

    # Joining again later is a new invitation, with the series' current SEQUENCE.
    join(app, circle_id, ben)
    send(app, drain)
    again = emails_to(smtp, "ben@example.org", "Your support circle")
    assert [int(calendar_email(m).master["SEQUENCE"]) for m in again] == [0, 1]


def test_ending_the_circle_cancels_the_series_for_everyone(app, smtp, drain, runner):
    ada = person(app, "ada@example.org", "Ada Okafor")
    ben = person(app, "ben@example.org", "Ben Carter")
    circle_id = circle(app)
    join(app, circle_id, ada, ben)
    result = runner.invoke(args=["circles", "end", "Riverside circle"])
    assert result.exit_code == 0, result.output
    assert "'Riverside circle' has ended; 2 member(s) get a cancellation." in result.output
    drain()
    for address in ("ada@example.org", "ben@example.org"):
        (ended,) = emails_to(smtp, address, "has ended")
        mail = calendar_email(ended)
        assert mail.mime_method == "CANCEL" and str(mail.master["STATUS"]) == "CANCELLED"
    again = runner.invoke(args=["circles", "add-member", str(circle_id), "ada@example.org"])
    assert again.exit_code != 0 and "has ended" in again.output


def test_each_change_writes_one_email_per_member(app):
    """The UNIQUE key names (person, circle, membership, change, SEQUENCE)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.outbox.models import Delivery

    ada = person(app, "ada@example.org", "Ada Okafor")
    circle_id = circle(app)
    join(app, circle_id, ada)
    run(app, lambda: circles.reschedule(circle_id, datetime(2025, 2, 4, 19, 0)))
    run(app, lambda: circles.cancel_meeting(circle_id, date(2025, 3, 4)))
    with app.app_context():
        keys = db.session.scalars(select(Delivery.idempotency_key).order_by(Delivery.id)).all()
    member = keys[0].split(":")[3]
    assert keys == [
        f"{ada}:circle:{circle_id}:{member}:invite:0",
        f"{ada}:circle:{circle_id}:{member}:update:1",
        f"{ada}:circle:{circle_id}:{member}:cancel-20250304T180000Z:2",
    ]
