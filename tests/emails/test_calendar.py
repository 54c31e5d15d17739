"""The calendar layer, read back by parsers other than the one that wrote it.

Every .ics that `emails.calendar` builds is parsed again with
recurring_ical_events (on icalendar) and with vobject (dateutil's rruleset,
which builds its time zones from our VTIMEZONE rather than from zoneinfo), and
every expected time is worked out here without dateutil.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject
from dateutil import tz as dateutil_tz

from emails.calendar import (
    Attendee,
    CalendarParseError,
    CalendarReply,
    Override,
    Series,
    cancel_occurrence,
    cancel_series,
    feed,
    invite,
    occurrences,
    parse_reply,
)
from emails.calendar_mime import attach_calendar

FIXTURES = Path(__file__).parent.parent / "fixtures" / "calendar"
NOW = datetime(2025, 1, 2, 9, 30, tzinfo=UTC)
UID = "circle-7@hearth.example"
ORGANIZER = "reply+c7-abcdefghijklmnop@hearth.example"
ZOE = Attendee(email="zoe@example.org", name="Zoë Example")
BERLIN, NEW_YORK, SYDNEY = "Europe/Berlin", "America/New_York", "Australia/Sydney"
YEAR_2025 = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC))


def circle(timezone: str = BERLIN, **changes) -> Series:
    """Recovery circle: first Tuesday of the month, 18:00 local, 90 minutes."""
    values = dict(
        uid=UID,
        sequence=0,
        summary="Hearth support circle: Recovery circle",
        description=(
            "A monthly peer support circle for Hearth champions.\n"
            "Agenda: check-in round, one shared topic, check-out.\n"
            "Call: https://meet.example/hearth-c7\n"
            "Answer Yes/No/Maybe in your calendar to RSVP."
        ),
        location="https://meet.example/hearth-c7",
        url="https://hearth.example/circles/7",
        timezone=timezone,
        minutes=90,
        rrule="FREQ=MONTHLY;BYDAY=1TU",
        organizer_email=ORGANIZER,
        organizer_name="Hearth circles",
    )
    values.update(changes)
    if "start" not in values:
        values["start"] = datetime(2025, 1, 7, 18, 0, tzinfo=ZoneInfo(timezone))
    return Series(**values)


def at(timezone: str, *fields: int) -> datetime:
    return datetime(*fields, tzinfo=ZoneInfo(timezone))


def first_tuesdays_at_six(timezone: str, count: int, year: int = 2025) -> list[datetime]:
    """Worked out by hand, month by month: no rrule library involved."""
    moments = []
    for index in range(count):
        y, m = year + index // 12, index % 12 + 1
        day = next(d for d in range(1, 8) if date(y, m, d).weekday() == 1)
        moments.append(at(timezone, y, m, day, 18, 0))
    return moments


def utc(moments) -> list[datetime]:
    return [m.astimezone(UTC) for m in moments]


# --- the two independent readers -----------------------------------------------------


def read_with_recurring_ical_events(ics: bytes, start: datetime, end: datetime):
    events = recurring_ical_events.of(icalendar.Calendar.from_ical(ics)).between(start, end)
    return sorted((e["DTSTART"].dt, e["DTEND"].dt) for e in events)


def read_with_vobject(ics: bytes):
    return vobject.readOne(ics.decode("utf-8"))


def vobject_master(cal):
    return next(e for e in cal.vevent_list if not hasattr(e, "recurrence_id"))


def vobject_starts(ics: bytes, count: int) -> list[datetime]:
    """The series' regular starts via vobject's rruleset (RRULE, EXDATE), moves applied."""
    cal = read_with_vobject(ics)
    moved = {
        e.recurrence_id.value.astimezone(UTC): e.dtstart.value
        for e in cal.vevent_list
        if hasattr(e, "recurrence_id")
    }
    starts = []
    for start in vobject_master(cal).getrruleset():
        starts.append(moved.get(start.astimezone(UTC), start))
        if len(starts) == count:
            break
    return sorted(starts, key=lambda s: s.astimezone(UTC))


def vtimezone_of(ics: bytes) -> icalendar.Timezone:
    (timezone,) = icalendar.Calendar.from_ical(ics).walk("VTIMEZONE")
    return timezone


# --- the series falls where the circle meets ----------------------------------------


@pytest.mark.parametrize("timezone", [BERLIN, NEW_YORK, SYDNEY])
def test_next_twelve_meetings_are_at_six_pm_local_across_dst(timezone):
    ics = invite(circle(timezone), ZOE, dtstamp=NOW)
    expected = first_tuesdays_at_six(timezone, 12)

    by_rie = read_with_recurring_ical_events(ics, *YEAR_2025)
    by_vobject = vobject_starts(ics, 12)

    assert utc(start for start, _ in by_rie) == utc(expected)
    assert utc(by_vobject) == utc(expected)
    for start, end in by_rie:
        local = start.astimezone(ZoneInfo(timezone))
        assert (local.hour, local.minute) == (18, 0)
        assert end - start == timedelta(minutes=90)
    for start in by_vobject:
        assert start.astimezone(ZoneInfo(timezone)).strftime("%H:%M") == "18:00"
    offsets = {start.astimezone(ZoneInfo(timezone)).utcoffset() for start, _ in by_rie}
    assert len(offsets) == 2, "the twelve meetings should straddle a DST change"


@pytest.mark.parametrize(
    ("timezone", "member_zone", "expected"),
    [
        # Berlin switches on 30 March, New York already on 9 March: lunch both times.
        (BERLIN, NEW_YORK, ["2025-03-04 12:00 EST", "2025-04-01 12:00 EDT"]),
        (BERLIN, "Asia/Tokyo", ["2025-03-05 02:00 JST", "2025-04-02 01:00 JST"]),
        (NEW_YORK, BERLIN, ["2025-03-05 00:00 CET", "2025-04-02 00:00 CEST"]),
        # Sydney leaves summer time on 6 April, Berlin enters it on 30 March.
        (SYDNEY, BERLIN, ["2025-04-01 09:00 CEST", "2025-05-06 10:00 CEST"]),
        (SYDNEY, "UTC", ["2025-04-01 07:00 UTC", "2025-05-06 08:00 UTC"]),
    ],
)
def test_members_in_other_zones_see_the_right_instant(timezone, member_zone, expected):
    ics = invite(circle(timezone), ZOE, dtstamp=NOW)
    window = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 5, 31, tzinfo=UTC))
    starts = [s for s, _ in read_with_recurring_ical_events(ics, *window)]
    shown = [s.astimezone(ZoneInfo(member_zone)).strftime("%Y-%m-%d %H:%M %Z") for s in starts]
    assert [s for s in shown if s in expected] == expected


def test_naive_local_start_means_the_same_as_aware():
    aware = circle(SYDNEY)
    naive = circle(SYDNEY, start=datetime(2025, 1, 7, 18, 0))
    assert invite(naive, ZOE, dtstamp=NOW) == invite(aware, ZOE, dtstamp=NOW)


# --- the invite's fields -----------------------------------------------------------------


def test_invite_is_an_itip_request_with_the_fields_clients_need():
    ics = invite(circle(sequence=4), ZOE, dtstamp=NOW)
    cal = read_with_vobject(ics)
    event = vobject_master(cal)

    assert cal.method.value == "REQUEST"
    assert cal.version.value == "2.0"
    assert cal.prodid.value
    assert event.uid.value == UID
    assert event.sequence.value == "4"
    assert event.dtstamp.value == NOW
    assert event.dtstart.params["X-VOBJ-ORIGINAL-TZID"] == [BERLIN]
    assert event.dtend.value - event.dtstart.value == timedelta(minutes=90)
    assert event.summary.value == "Hearth support circle: Recovery circle"
    assert "Agenda: check-in round, one shared topic" in event.description.value
    assert event.location.value == "https://meet.example/hearth-c7"
    assert event.url.value == "https://hearth.example/circles/7"
    assert event.status.value == "CONFIRMED"
    assert b"DTSTAMP:20250102T093000Z" in ics

    assert event.organizer.value == f"mailto:{ORGANIZER}"
    assert event.organizer.params["CN"] == ["Hearth circles"]
    (attendee,) = event.attendee_list
    assert attendee.value == "mailto:zoe@example.org"
    assert attendee.params["CN"] == ["Zoë Example"]
    assert attendee.params["ROLE"] == ["REQ-PARTICIPANT"]
    assert attendee.params["PARTSTAT"] == ["NEEDS-ACTION"]
    assert attendee.params["RSVP"] == ["TRUE"]


def test_every_line_is_folded_and_ends_in_crlf():
    ics = invite(circle(description="Lange Beschreibung für alle " * 20), ZOE, dtstamp=NOW)
    lines = ics.split(b"\r\n")
    assert lines[-1] == b""
    assert all(b"\n" not in line and len(line) <= 75 for line in lines)


@pytest.mark.parametrize("timezone", [BERLIN, NEW_YORK, SYDNEY])
def test_vtimezone_is_full_with_standard_and_daylight(timezone):
    ics = invite(circle(timezone), ZOE, dtstamp=NOW)
    calendar = icalendar.Calendar.from_ical(ics)
    vtimezone = vtimezone_of(ics)

    assert calendar.get_missing_tzids() == set()
    assert vtimezone["TZID"] == timezone
    assert len(vtimezone.walk("STANDARD")) == 1
    assert len(vtimezone.walk("DAYLIGHT")) == 1
    # Yearly rules, not a list of dates: Outlook misreads RDATE-only zones.
    assert all("RRULE" in part for part in vtimezone.subcomponents)


@pytest.mark.parametrize(
    ("timezone", "first_year"),
    [
        (BERLIN, 2025),
        (NEW_YORK, 2025),
        (SYDNEY, 2025),
        ("Europe/Dublin", 2025),  # tzdata calls winter the "negative DST" here
        ("Australia/Lord_Howe", 2025),  # half an hour of DST
        ("America/Santiago", 2025),  # changes at 24:00 on a Saturday
        ("Asia/Tokyo", 2025),  # no DST at all
        ("America/Sao_Paulo", 2019),  # DST abolished that year
        ("America/Mexico_City", 2022),  # DST abolished that year
        ("Africa/Casablanca", 2025),  # moves around Ramadan
    ],
)
def test_vtimezone_agrees_with_tzdata_around_every_change(timezone, first_year):
    """dateutil's tzical reads our VTIMEZONE; zoneinfo is the reference."""
    start = datetime(first_year, 1, 1, 18, 0)
    day = next(start + timedelta(days=d) for d in range(7) if (start.weekday() + d) % 7 == 1)
    series = circle(timezone, start=day, rrule="FREQ=MONTHLY;BYDAY=1TU;COUNT=36")
    ics = invite(series, ZOE, dtstamp=NOW)
    written = dateutil_tz.tzical(StringIO(vtimezone_of(ics).to_ical().decode())).get()
    reference = ZoneInfo(timezone)

    for moment in instants_to_check(reference, first_year, first_year + 3):
        assert moment.astimezone(written).utcoffset() == moment.astimezone(reference).utcoffset(), (
            f"{timezone} at {moment:%Y-%m-%d %H:%M}Z"
        )


def instants_to_check(reference: ZoneInfo, first_year: int, last_year: int):
    """Every six hours, and every minute of each hour in which tzdata changes the offset."""
    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    while moment.year <= last_year:
        following = moment + timedelta(hours=1)
        if moment.hour % 6 == 0:
            yield moment
        if moment.astimezone(reference).utcoffset() != following.astimezone(reference).utcoffset():
            yield from (moment + timedelta(minutes=m) for m in range(61))
        moment = following


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=MONTHLY;BYDAY=1TU;UNTIL=20251202",  # a date: through that local day
        "FREQ=MONTHLY;BYDAY=1TU;UNTIL=20251202T180000",  # floating: local
        "FREQ=MONTHLY;BYDAY=1TU;UNTIL=20251202T170000Z",  # already UTC
    ],
)
def test_until_is_written_in_utc_and_keeps_the_last_meeting(rrule):
    ics = invite(circle(rrule=rrule), ZOE, dtstamp=NOW)
    (rrule_line,) = [line for line in ics.split(b"\r\n") if line.startswith(b"RRULE:FREQ=MONTHLY")]
    until = rrule_line.split(b"UNTIL=")[1].split(b";")[0]
    assert until.endswith(b"Z")

    by_rie = read_with_recurring_ical_events(
        ics, datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    by_vobject = list(vobject_master(read_with_vobject(ics)).getrruleset())
    expected = utc(first_tuesdays_at_six(BERLIN, 12))
    assert utc(s for s, _ in by_rie) == expected
    assert utc(by_vobject) == expected


def test_count_ends_the_series():
    ics = invite(circle(NEW_YORK, rrule="FREQ=MONTHLY;BYDAY=1TU;COUNT=6"), ZOE, dtstamp=NOW)
    by_vobject = list(vobject_master(read_with_vobject(ics)).getrruleset())
    assert utc(by_vobject) == utc(first_tuesdays_at_six(NEW_YORK, 6))


# --- cancelled and moved meetings ----------------------------------------------------


def test_exdate_removes_the_cancelled_meeting():
    cancelled = at(BERLIN, 2025, 4, 1, 18, 0)
    series = circle(exdates=(cancelled,))
    ics = invite(series, ZOE, dtstamp=NOW)
    expected = [m for m in first_tuesdays_at_six(BERLIN, 12) if m != cancelled]

    assert b"EXDATE;TZID=Europe/Berlin:20250401T180000" in ics
    by_rie = read_with_recurring_ical_events(ics, *YEAR_2025)
    assert utc(s for s, _ in by_rie) == utc(expected)
    assert utc(vobject_starts(ics, 11)) == utc(expected)
    assert utc(s for s, _ in occurrences(series, *YEAR_2025)) == utc(expected)


def test_an_override_moves_exactly_one_meeting():
    original = at(BERLIN, 2025, 5, 6, 18, 0)
    moved_to = at(BERLIN, 2025, 5, 8, 19, 0)
    series = circle(
        sequence=1,
        overrides=(Override(recurrence_id=original, start=moved_to, minutes=60),),
    )
    ics = invite(series, ZOE, dtstamp=NOW)
    plain = [(m, m + timedelta(minutes=90)) for m in first_tuesdays_at_six(BERLIN, 12)]
    expected = sorted(
        [p for p in plain if p[0] != original] + [(moved_to, moved_to + timedelta(minutes=60))]
    )

    cal = read_with_vobject(ics)
    assert [e.uid.value for e in cal.vevent_list] == [UID, UID]
    (moved,) = [e for e in cal.vevent_list if hasattr(e, "recurrence_id")]
    assert moved.recurrence_id.value.astimezone(UTC) == original.astimezone(UTC)
    assert moved.sequence.value == "1"
    assert moved.attendee.params["RSVP"] == ["TRUE"]

    by_rie = read_with_recurring_ical_events(ics, *YEAR_2025)
    assert [(utc([s]), utc([e])) for s, e in by_rie] == [(utc([s]), utc([e])) for s, e in expected]
    assert utc(vobject_starts(ics, 12)) == utc(s for s, _ in expected)
    assert occurrences(series, *YEAR_2025) == [
        (s.astimezone(ZoneInfo(BERLIN)), e.astimezone(ZoneInfo(BERLIN))) for s, e in expected
    ]


@pytest.mark.parametrize("timezone", [BERLIN, NEW_YORK, SYDNEY])
def test_occurrences_agree_with_an_independent_expansion(timezone):
    series = circle(
        timezone,
        exdates=(at(timezone, 2025, 11, 4, 18, 0),),
        overrides=(
            Override(at(timezone, 2025, 3, 4, 18, 0), at(timezone, 2025, 3, 6, 17, 30), 120),
        ),
    )
    window = (datetime(2024, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    ours = occurrences(series, *window)
    theirs = read_with_recurring_ical_events(invite(series, ZOE, dtstamp=NOW), *window)

    assert [(s.astimezone(UTC), e.astimezone(UTC)) for s, e in ours] == [
        (s.astimezone(UTC), e.astimezone(UTC)) for s, e in theirs
    ]
    assert len(ours) == 24 - 1
    assert all(start.tzinfo == ZoneInfo(timezone) for start, _ in ours)


def test_occurrences_respect_the_window_by_start():
    series = circle()
    window = (at(BERLIN, 2025, 2, 4, 18, 0), at(BERLIN, 2025, 4, 1, 18, 0))
    assert [s.date() for s, _ in occurrences(series, *window)] == [
        date(2025, 2, 4),
        date(2025, 3, 4),
    ]


# --- updates and cancellations -----------------------------------------------------


def test_uid_stays_and_sequence_is_what_the_caller_gives():
    meeting = at(BERLIN, 2025, 6, 3, 18, 0)
    first = invite(circle(sequence=0), ZOE, dtstamp=NOW)
    update = invite(circle(sequence=1, location="https://meet.example/new-room"), ZOE, dtstamp=NOW)
    one_off = cancel_occurrence(circle(sequence=2, exdates=(meeting,)), ZOE, meeting, dtstamp=NOW)
    all_off = cancel_series(circle(sequence=3, exdates=(meeting,)), ZOE, dtstamp=NOW)

    events = [read_with_vobject(ics).vevent for ics in (first, update, one_off, all_off)]
    seen = [(event.uid.value, event.sequence.value) for event in events]
    assert seen == [(UID, "0"), (UID, "1"), (UID, "2"), (UID, "3")]


def test_cancel_one_meeting():
    meeting = at(SYDNEY, 2025, 4, 1, 18, 0)
    series = circle(SYDNEY, sequence=5, exdates=(meeting,))
    ics = cancel_occurrence(series, ZOE, meeting, dtstamp=NOW)
    cal = read_with_vobject(ics)

    assert cal.method.value == "CANCEL"
    (event,) = cal.vevent_list
    assert event.uid.value == UID
    assert event.sequence.value == "5"
    assert event.status.value == "CANCELLED"
    assert event.recurrence_id.value.astimezone(UTC) == datetime(2025, 4, 1, 7, 0, tzinfo=UTC)
    assert event.organizer.value == f"mailto:{ORGANIZER}"
    assert event.attendee.value == "mailto:zoe@example.org"
    assert not hasattr(event, "rrule")
    assert vtimezone_of(ics)["TZID"] == SYDNEY


def test_cancel_a_moved_meeting_names_its_original_slot():
    original = at(BERLIN, 2025, 5, 6, 18, 0)
    series = circle(overrides=(Override(original, at(BERLIN, 2025, 5, 8, 19, 0), 60),))
    event = read_with_vobject(cancel_occurrence(series, ZOE, original, dtstamp=NOW)).vevent
    assert event.recurrence_id.value.astimezone(UTC) == original.astimezone(UTC)
    assert event.dtstart.value.astimezone(UTC) == datetime(2025, 5, 8, 17, 0, tzinfo=UTC)


def test_cancel_something_that_is_not_a_meeting_is_refused():
    with pytest.raises(ValueError, match="not a meeting"):
        cancel_occurrence(circle(), ZOE, at(BERLIN, 2025, 4, 2, 18, 0), dtstamp=NOW)


def test_cancel_the_whole_series():
    ics = cancel_series(circle(sequence=7), ZOE, dtstamp=NOW)
    cal = read_with_vobject(ics)
    assert cal.method.value == "CANCEL"
    (event,) = cal.vevent_list
    assert event.uid.value == UID
    assert event.sequence.value == "7"
    assert event.status.value == "CANCELLED"
    assert not hasattr(event, "recurrence_id")
    assert event.attendee.value == "mailto:zoe@example.org"
    assert "RSVP" not in event.attendee.params


# --- the feed ------------------------------------------------------------------------


def test_feed_holds_every_series_with_one_vtimezone_per_zone():
    berlin_evening = circle()
    berlin_morning = circle(
        uid="circle-8@hearth.example",
        start=at(BERLIN, 2025, 1, 9, 8, 0),
        rrule="FREQ=MONTHLY;BYDAY=2TH",
    )
    sydney = circle(SYDNEY, uid="circle-9@hearth.example")
    ics = feed(
        [(berlin_evening, [ZOE]), (berlin_morning, [ZOE]), (sydney, [])],
        name="Hearth circles",
        dtstamp=NOW,
    )
    calendar = icalendar.Calendar.from_ical(ics)

    assert "METHOD" not in calendar
    assert calendar["X-WR-CALNAME"] == "Hearth circles"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT6H" in ics
    assert b"X-PUBLISHED-TTL:PT6H" in ics
    assert sorted(str(t["TZID"]) for t in calendar.walk("VTIMEZONE")) == [SYDNEY, BERLIN]
    assert calendar.get_missing_tzids() == set()
    meetings = recurring_ical_events.of(calendar).between(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    )
    assert sorted(str(m["UID"]) for m in meetings) == [
        "circle-7@hearth.example",
        "circle-8@hearth.example",
        "circle-9@hearth.example",
    ]
    assert len(read_with_vobject(ics).vevent_list) == 3


# --- a series that cannot be right is refused at once ---------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"start": at(BERLIN, 2025, 1, 8, 18, 0)}, "first one after it is 2025-02-04 18:00"),
        ({"timezone": "Mars/Olympus_Mons", "start": datetime(2025, 1, 7, 18)}, "unknown time zone"),
        ({"rrule": "every first tuesday"}, "cannot read"),
        ({"rrule": "FREQ=MONTHLY;BYDAY=1TU;COUNT=3;UNTIL=20251231"}, "both UNTIL and COUNT"),
        ({"exdates": (at(BERLIN, 2025, 4, 2, 18, 0),)}, "not a meeting"),
        ({"minutes": 0}, "positive number of minutes"),
        ({"status": "MAYBE"}, "status must be"),
    ],
)
def test_bad_series_is_refused_with_a_reason(changes, reason):
    with pytest.raises(ValueError, match=reason):
        circle(**changes)


def test_naive_dtstamp_is_refused():
    with pytest.raises(ValueError, match="dtstamp"):
        invite(circle(), ZOE, dtstamp=datetime(2025, 1, 2, 9, 30))


# --- into an email and back --------------------------------------------------------


def composed_message() -> EmailMessage:
    """What emails.compose builds: multipart/alternative, SMTP policy."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Hearth circles <reply+c7-abcdefghijklmnop@hearth.example>"
    msg["To"] = "Zoë Example <zoe@example.org>"
    msg["Subject"] = "Invitation: Recovery circle, first Tuesdays at 18:00"
    msg["Date"] = "Thu, 02 Jan 2025 09:30:00 +0000"
    msg["Message-ID"] = "<d42.0123456789abcdef@hearth.example>"
    msg["List-Unsubscribe"] = "<https://hearth.example/u/abc>"
    msg.set_content("You're invited.\n", cte="quoted-printable")
    msg.add_alternative("<p>You're invited.</p>\n", subtype="html", cte="quoted-printable")
    return msg


@pytest.mark.parametrize(
    ("build", "method", "filename"),
    [
        (lambda s: invite(s, ZOE, dtstamp=NOW), "REQUEST", "invite.ics"),
        (lambda s: cancel_series(s, ZOE, dtstamp=NOW), "CANCEL", "cancel.ics"),
        (
            lambda s: invite(replace(s, description="Zoë — für alle"), ZOE, dtstamp=NOW),
            "REQUEST",
            "invite.ics",
        ),
    ],
    ids=["request", "cancel", "non-ascii"],
)
def test_email_has_the_shape_gmail_outlook_and_apple_accept(build, method, filename):
    ics = build(circle())
    msg = composed_message()
    attach_calendar(msg, ics, method=method)
    raw = msg.as_bytes()
    back = email.message_from_bytes(raw, policy=email.policy.default)

    assert back["Subject"] == "Invitation: Recovery circle, first Tuesdays at 18:00"
    assert back["Message-ID"] == "<d42.0123456789abcdef@hearth.example>"
    assert back["List-Unsubscribe"] == "<https://hearth.example/u/abc>"
    assert back["To"] == "Zoë Example <zoe@example.org>"

    assert back.get_content_type() == "multipart/mixed"
    alternative, attachment = back.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html, calendar = alternative.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert "You're invited." in text.get_content()

    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_content_disposition() in (None, "inline")
    assert calendar.get_param("charset") == "utf-8"
    assert calendar.get_param("method") == method
    assert f"method={method}".encode() in raw  # bare, the way Google and Outlook write it
    assert calendar.get_payload(decode=True) == ics
    inside = icalendar.Calendar.from_ical(calendar.get_payload(decode=True))
    assert inside["METHOD"] == calendar.get_param("method")

    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == filename
    assert attachment.get_param("name") == filename
    assert attachment.get_content() == ics
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_method_must_match_the_calendar():
    msg = composed_message()
    with pytest.raises(ValueError, match="METHOD:REQUEST"):
        attach_calendar(msg, invite(circle(), ZOE, dtstamp=NOW), method="CANCEL")


def test_only_a_text_and_html_message_can_carry_an_invite():
    msg = EmailMessage()
    msg.set_content("just text")
    with pytest.raises(ValueError, match="multipart/alternative"):
        attach_calendar(msg, invite(circle(), ZOE, dtstamp=NOW), method="REQUEST")


# --- replies from real clients ------------------------------------------------------


def calendar_part(name: str) -> tuple[str, bytes]:
    """The text/calendar part of a fixture message: (its method= parameter, its bytes)."""
    msg = email.message_from_bytes((FIXTURES / name).read_bytes(), policy=email.policy.default)
    (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    return part.get_param("method"), part.get_payload(decode=True)


def test_google_accepts_the_series():
    msg = email.message_from_bytes(
        (FIXTURES / "google_accept.eml").read_bytes(), policy=email.policy.default
    )
    assert msg["Subject"].startswith("Accepted: Hearth support circle: Recovery circle @ ")
    method, data = calendar_part("google_accept.eml")

    assert parse_reply(data) == [
        CalendarReply(
            uid=UID,
            attendee_email="sam.example@gmail.example",
            partstat="ACCEPTED",
            method="REPLY",
            recurrence_id=None,
            sequence=0,
            proposed_start=None,
            proposed_end=None,
            comment="",
        )
    ]
    assert method == "REPLY"


def test_outlook_declines_with_a_windows_time_zone():
    method, data = calendar_part("outlook_decline.eml")
    (reply,) = parse_reply(data)
    assert method == reply.method == "REPLY"
    assert b"TZID:W. Europe Standard Time" in data
    assert b"X-MICROSOFT-CDO-BUSYSTATUS" in data
    assert (reply.uid, reply.attendee_email, reply.partstat) == (
        UID,
        "robin@contoso.example",
        "DECLINED",
    )
    assert reply.recurrence_id is None
    assert reply.sequence == 1
    assert reply.comment == "Sorry, Tuesday evenings are taken by our board meetings this year."


def test_apple_is_tentative_for_one_meeting():
    method, data = calendar_part("apple_tentative.eml")
    (reply,) = parse_reply(data)
    assert method == reply.method == "REPLY"
    assert reply.attendee_email == "kim.example@example.net"  # sent as Kim.Example@...
    assert reply.partstat == "TENTATIVE"
    # RECURRENCE-ID;TZID=Europe/Berlin:20250304T180000 is 17:00 UTC (CET).
    assert reply.recurrence_id == datetime(2025, 3, 4, 17, 0, tzinfo=UTC)
    assert reply.recurrence_id in [s for s, _ in occurrences(circle(), *YEAR_2025)]
    assert reply.sequence == 2


def test_outlook_proposes_a_new_time():
    method, data = calendar_part("outlook_counter.eml")
    (reply,) = parse_reply(data)
    assert method == reply.method == "COUNTER"
    assert reply.partstat == "TENTATIVE"
    # W. Europe Standard Time in May is CEST, UTC+2.
    assert reply.recurrence_id == datetime(2025, 5, 6, 16, 0, tzinfo=UTC)
    assert reply.proposed_start == datetime(2025, 5, 8, 17, 0, tzinfo=UTC)
    assert reply.proposed_end == datetime(2025, 5, 8, 18, 30, tzinfo=UTC)
    assert reply.comment.startswith("Could we meet on the Thursday this time?")


def test_garbage_is_refused_with_a_reason():
    with pytest.raises(CalendarParseError, match="not an iCalendar object"):
        parse_reply((FIXTURES / "garbage.ics").read_bytes())


def reply_ics(*event_lines: str, method: str = "REPLY", extra: str = "") -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Test//EN",
        *([f"METHOD:{method}"] if method else []),
        *([extra] if extra else []),
        "BEGIN:VEVENT",
        f"UID:{UID}",
        "DTSTAMP:20250102T101503Z",
        *event_lines,
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n", "no VCALENDAR"),
        (reply_ics("ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org", method=""), "no METHOD"),
        (invite(circle(), ZOE, dtstamp=NOW), "METHOD:REQUEST is not a reply"),
        (reply_ics("SUMMARY:nobody answered"), "names no ATTENDEE"),
        (reply_ics("ATTENDEE;PARTSTAT=ACCEPTED:urn:uuid:1234"), "no email address"),
        (
            reply_ics(
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org",
                "RECURRENCE-ID;TZID=Europe/Berlin:2025-03-04 18:00",
            ),
            "RECURRENCE-ID",
        ),
        (
            reply_ics(
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org",
                "RECURRENCE-ID;TZID=Atlantis Standard Time:20250304T180000",
            ),
            "neither known nor defined",
        ),
        (
            reply_ics(
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.org",
                "RECURRENCE-ID:20250304T180000",
            ),
            "floating",
        ),
    ],
    ids=[
        "empty",
        "unterminated",
        "no-method",
        "request",
        "no-attendee",
        "no-email",
        "bad-recurrence-id",
        "unknown-tzid",
        "floating",
    ],
)
def test_unreadable_replies_say_why(data, reason):
    with pytest.raises(CalendarParseError, match=reason):
        parse_reply(data)


def test_reply_details_clients_vary_on():
    (reply,) = parse_reply(
        reply_ics(
            "ATTENDEE;CN=Ana;PARTSTAT=accepted:MAILTO:Ana@Example.ORG",
            "RECURRENCE-ID:20250304T170000Z",
            "COMMENT:See you there",
        )
    )
    assert reply.attendee_email == "ana@example.org"
    assert reply.partstat == "ACCEPTED"
    assert reply.recurrence_id == datetime(2025, 3, 4, 17, 0, tzinfo=UTC)
    assert reply.comment == "See you there"
    assert reply.sequence == 0

    (counter,) = parse_reply(
        reply_ics(
            "ATTENDEE;PARTSTAT=TENTATIVE:mailto:ana@example.org",
            "DTSTART;TZID=America/New_York:20250306T120000",
            "DURATION:PT1H",
            method="COUNTER",
        )
    )
    assert counter.proposed_start == datetime(2025, 3, 6, 17, 0, tzinfo=UTC)
    assert counter.proposed_end == datetime(2025, 3, 6, 18, 0, tzinfo=UTC)


def custom_zone(offset: str) -> str:
    return "\r\n".join(
        [
            "BEGIN:VTIMEZONE",
            "TZID:Customized Time Zone",
            "BEGIN:STANDARD",
            "DTSTART:16010101T000000",
            f"TZOFFSETFROM:{offset}",
            f"TZOFFSETTO:{offset}",
            "END:STANDARD",
            "END:VTIMEZONE",
        ]
    )


def test_each_reply_reads_its_own_custom_time_zone():
    """icalendar caches custom zones by TZID for the whole process; Outlook
    names many different zones "Customized Time Zone"."""
    replies = [
        parse_reply(
            reply_ics(
                "ATTENDEE;PARTSTAT=TENTATIVE:mailto:a@example.org",
                "RECURRENCE-ID;TZID=Customized Time Zone:20250304T180000",
                extra=custom_zone(offset),
            )
        )[0]
        for offset in ("+0100", "-0500")
    ]
    assert [r.recurrence_id for r in replies] == [
        datetime(2025, 3, 4, 17, 0, tzinfo=UTC),
        datetime(2025, 3, 4, 23, 0, tzinfo=UTC),
    ]
