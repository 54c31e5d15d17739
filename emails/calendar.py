"""Support circle meetings as iCalendar (RFC 5545) and iTIP (RFC 5546).

Builds the invite, the cancellations and the subscription feed of a circle's
monthly series, expands the series into real meetings, and parses attendees'
REPLY / COUNTER messages back into values. Pure: values in, bytes or values out.

Times. `dtstamp` and the window of `occurrences()` must be aware. The fields of
`Series` and `Override` (start, exdates, recurrence ids) may be aware (any zone;
they are converted to the series zone) or naive, meaning wall-clock time in the
series zone. A wall-clock time that does not exist or occurs twice on a DST
change day is read the RFC 5545 3.3.5 way (the offset before the change), which
is what zoneinfo does with fold=0.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil import rrule as dateutil_rrule
from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
    vRecur,
)

try:  # Outlook's zone names; a private module, so only a convenience
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
except ImportError:  # pragma: no cover - Outlook also sends its VTIMEZONE, read below
    WINDOWS_TO_OLSON = {}

PRODID = "-//Hearth//Support circles//EN"
STATUSES = ("CONFIRMED", "TENTATIVE", "CANCELLED")
PARTSTATS = ("NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED")
REPLY_METHODS = ("REPLY", "COUNTER", "REFRESH")
FEED_REFRESH = timedelta(hours=6)

# An infinite series gets a VTIMEZONE checked this many years past its last
# known date; its yearly rules keep going after that.
_TIMEZONE_HORIZON_YEARS = 10


@dataclass(frozen=True)
class Override:
    """One meeting of a series moved away from its regular slot."""

    recurrence_id: datetime  # the original start of that occurrence
    start: datetime
    minutes: int
    location: str | None = None  # None: the series' location


@dataclass(frozen=True)
class Series:
    """A circle's recurring meeting, as every member's calendar should show it."""

    uid: str
    sequence: int
    summary: str
    description: str
    location: str
    url: str | None
    timezone: str
    start: datetime
    minutes: int
    rrule: str
    organizer_email: str
    organizer_name: str
    exdates: tuple[datetime, ...] = ()
    overrides: tuple[Override, ...] = ()
    status: str = "CONFIRMED"

    def __post_init__(self) -> None:
        _check_series(self)


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str
    partstat: str = "NEEDS-ACTION"

    def __post_init__(self) -> None:
        if "@" not in self.email:
            raise ValueError(f"an attendee needs an email address, not {self.email!r}")
        if self.partstat.upper() not in PARTSTATS:
            raise ValueError(f"PARTSTAT must be one of {', '.join(PARTSTATS)}")


@dataclass(frozen=True)
class CalendarReply:
    """One attendee's answer, from one VEVENT of an iTIP REPLY/COUNTER/REFRESH."""

    uid: str
    attendee_email: str  # lower-cased, without mailto:
    partstat: str  # ACCEPTED | DECLINED | TENTATIVE | ... (for COUNTER: the one sent with it)
    method: str  # REPLY | COUNTER | REFRESH
    recurrence_id: datetime | None  # aware UTC for one occurrence; None for the whole series
    sequence: int
    proposed_start: datetime | None  # COUNTER only, aware UTC
    proposed_end: datetime | None
    comment: str


class CalendarParseError(Exception):
    """The bytes are not an iTIP reply we can read; the message says why."""


# --- building ------------------------------------------------------------------


def invite(series: Series, attendee: Attendee, *, dtstamp: datetime) -> bytes:
    """METHOD:REQUEST of the whole series (master + moved meetings) to one attendee."""
    cal = _calendar_of("REQUEST")
    _add_timezone(cal, series.timezone, _years_of(series, dtstamp))
    cal.add_component(_master(series, [attendee], dtstamp=dtstamp, rsvp=True))
    for override in series.overrides:
        cal.add_component(_moved(series, override, [attendee], dtstamp=dtstamp, rsvp=True))
    return cal.to_ical()


def cancel_occurrence(
    series: Series, attendee: Attendee, occurrence_start: datetime, *, dtstamp: datetime
) -> bytes:
    """METHOD:CANCEL of one meeting, named by its original start (RFC 5546 3.2.5)."""
    rule = _rule(series)
    original = _local(series, occurrence_start)
    if not rule.is_occurrence(original):
        raise ValueError(
            f"{original:%Y-%m-%d %H:%M} is not a meeting of {series.uid} ({series.rrule})"
        )
    moved = {_utc(o.recurrence_id, series): o for o in series.overrides}.get(_utc(original))
    start = _local(series, moved.start) if moved else original
    minutes = moved.minutes if moved else series.minutes
    event = _event_head(series, dtstamp=dtstamp, start=start, minutes=minutes)
    event.add("recurrence-id", original)
    _add_people(event, series, [attendee], rsvp=False)
    event.add("summary", series.summary)
    event.add("location", (moved.location if moved else None) or series.location)
    event.add("status", "CANCELLED")
    cal = _calendar_of("CANCEL")
    _add_timezone(cal, series.timezone, _years_of(series, dtstamp))
    cal.add_component(event)
    return cal.to_ical()


def cancel_series(series: Series, attendee: Attendee, *, dtstamp: datetime) -> bytes:
    """METHOD:CANCEL of the whole series for one attendee: they left, or the circle ended."""
    cal = _calendar_of("CANCEL")
    _add_timezone(cal, series.timezone, _years_of(series, dtstamp))
    cal.add_component(_master(series, [attendee], dtstamp=dtstamp, rsvp=False, status="CANCELLED"))
    return cal.to_ical()


def feed(events: list[tuple[Series, list[Attendee]]], *, name: str, dtstamp: datetime) -> bytes:
    """A subscription feed (no METHOD, so no iTIP): every series, one VTIMEZONE per zone."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("name", name)  # RFC 7986
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", vDuration(FEED_REFRESH), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(FEED_REFRESH))
    years: dict[str, tuple[int, int]] = {}
    for series, _attendees in events:
        first, last = _years_of(series, dtstamp)
        known = years.get(series.timezone, (first, last))
        years[series.timezone] = (min(first, known[0]), max(last, known[1]))
    for zone_name in sorted(years):
        _add_timezone(cal, zone_name, years[zone_name])
    for series, attendees in events:
        cal.add_component(_master(series, attendees, dtstamp=dtstamp, rsvp=False))
        for override in series.overrides:
            cal.add_component(_moved(series, override, attendees, dtstamp=dtstamp, rsvp=False))
    return cal.to_ical()


def occurrences(series: Series, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The real meetings that start in [start, end): EXDATEs removed, moved ones moved.

    Each is (start, end), aware in the series zone. The rule is expanded in local
    wall-clock time, so 18:00 stays 18:00 across DST changes.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("occurrences() needs an aware window")
    zone = ZoneInfo(series.timezone)
    rule = _rule(series)
    cancelled = {_utc(d, series) for d in series.exdates}
    moved = {_utc(o.recurrence_id, series) for o in series.overrides}
    # One day of slack each side: the rule runs on naive local time.
    local_from = start.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    local_to = end.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    meetings = []
    for naive in rule.rrule.between(local_from, local_to):
        begins = _canonical(naive.replace(tzinfo=zone), zone)
        if _utc(begins) in cancelled or _utc(begins) in moved:
            continue
        if start <= begins < end:
            meetings.append((begins, _plus_minutes(begins, series.minutes, zone)))
    for override in series.overrides:
        begins = _canonical(_local(series, override.start), zone)
        if start <= begins < end:
            meetings.append((begins, _plus_minutes(begins, override.minutes, zone)))
    return sorted(meetings, key=lambda meeting: meeting[0].astimezone(UTC))


def _calendar_of(method: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    return cal


def _event_head(series: Series, *, dtstamp: datetime, start: datetime, minutes: int) -> Event:
    if dtstamp.tzinfo is None:
        raise ValueError("dtstamp must be aware (UTC)")
    zone = ZoneInfo(series.timezone)
    event = Event()
    event.add("uid", series.uid)
    event.add("sequence", series.sequence)
    event.add("dtstamp", dtstamp.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", _plus_minutes(start, minutes, zone))
    return event


def _master(
    series: Series,
    attendees: list[Attendee],
    *,
    dtstamp: datetime,
    rsvp: bool,
    status: str | None = None,
) -> Event:
    event = _event_head(
        series, dtstamp=dtstamp, start=_local(series, series.start), minutes=series.minutes
    )
    event.add("rrule", vRecur(_rule(series).for_ical))  # a copy: the parsed rule is cached
    for exdate in sorted(_local(series, d) for d in series.exdates):
        event.add("exdate", exdate)
    _add_people(event, series, attendees, rsvp=rsvp)
    _add_words(event, series, location=series.location)
    event.add("status", status or series.status)
    event.add("transp", "OPAQUE")
    return event


def _moved(
    series: Series, override: Override, attendees: list[Attendee], *, dtstamp: datetime, rsvp: bool
) -> Event:
    event = _event_head(
        series, dtstamp=dtstamp, start=_local(series, override.start), minutes=override.minutes
    )
    event.add("recurrence-id", _local(series, override.recurrence_id))
    _add_people(event, series, attendees, rsvp=rsvp)
    _add_words(event, series, location=override.location or series.location)
    event.add("status", series.status)
    event.add("transp", "OPAQUE")
    return event


def _add_people(event: Event, series: Series, attendees: list[Attendee], *, rsvp: bool) -> None:
    organizer = vCalAddress(f"mailto:{series.organizer_email}")
    organizer.params["CN"] = series.organizer_name
    event.add("organizer", organizer)
    for attendee in attendees:
        address = vCalAddress(f"mailto:{attendee.email}")
        address.params["CN"] = attendee.name
        address.params["CUTYPE"] = "INDIVIDUAL"
        address.params["ROLE"] = "REQ-PARTICIPANT"
        address.params["PARTSTAT"] = attendee.partstat.upper()
        if rsvp:
            address.params["RSVP"] = "TRUE"
        event.add("attendee", address)


def _add_words(event: Event, series: Series, *, location: str) -> None:
    event.add("summary", series.summary)
    event.add("description", series.description)
    event.add("location", location)
    if series.url:
        event.add("url", series.url)


# --- checking and normalising a series -------------------------------------------


def _check_series(series: Series) -> None:
    if not series.uid or "@" not in series.organizer_email:
        raise ValueError("a series needs a uid and an organizer email address")
    if series.sequence < 0:
        raise ValueError(f"sequence must be 0 or more, not {series.sequence}")
    if series.minutes <= 0:
        raise ValueError(f"a meeting lasts a positive number of minutes, not {series.minutes}")
    if series.status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {series.status!r}")
    _zone(series.timezone)
    rule = _rule(series)  # raises on a malformed rule
    first = _local(series, series.start)
    if not rule.is_occurrence(first):
        after = rule.rrule.after(first.replace(tzinfo=None))
        raise ValueError(
            f"start {first:%Y-%m-%d %H:%M} is not a meeting of {series.rrule}"
            + (f"; the first one after it is {after:%Y-%m-%d %H:%M}" if after else "")
        )
    for exdate in series.exdates:
        if not rule.is_occurrence(_local(series, exdate)):
            raise ValueError(f"exdate {exdate:%Y-%m-%d %H:%M} is not a meeting of this series")
    cancelled = {_utc(d, series) for d in series.exdates}
    seen: set[datetime] = set()
    for override in series.overrides:
        original = _utc(override.recurrence_id, series)
        if not rule.is_occurrence(_local(series, override.recurrence_id)):
            raise ValueError(
                f"override {override.recurrence_id:%Y-%m-%d %H:%M} is not a meeting of this series"
            )
        if original in cancelled or original in seen:
            raise ValueError(
                f"meeting {override.recurrence_id:%Y-%m-%d %H:%M} is both moved and "
                "cancelled, or moved twice"
            )
        if override.minutes <= 0:
            raise ValueError("a moved meeting lasts a positive number of minutes")
        seen.add(original)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError) as error:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from error


def _local(series: Series, moment: datetime) -> datetime:
    """`moment` as an aware datetime in the series zone (naive = wall-clock there)."""
    zone = ZoneInfo(series.timezone)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def _utc(moment: datetime, series: Series | None = None) -> datetime:
    """`moment` in UTC; a naive one is wall-clock time in `series`' zone."""
    if moment.tzinfo is None:
        if series is None:
            raise ValueError("a naive datetime needs the series zone")
        moment = _local(series, moment)
    return moment.astimezone(UTC)


def _canonical(moment: datetime, zone: tzinfo) -> datetime:
    """The same instant with the wall-clock time zoneinfo gives it (fixes gap times)."""
    return moment.astimezone(UTC).astimezone(zone)


def _plus_minutes(start: datetime, minutes: int, zone: tzinfo) -> datetime:
    """Elapsed time, not wall-clock time: a 90-minute meeting lasts 90 minutes on DST days."""
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(zone)


@dataclass(frozen=True)
class _Rule:
    for_ical: vRecur  # UNTIL as aware UTC (RFC 5545 3.3.10)
    rrule: dateutil_rrule.rrule  # on naive local wall-clock time
    until: datetime | None  # aware UTC
    count: int | None

    def is_occurrence(self, local: datetime) -> bool:
        naive = local.replace(tzinfo=None)
        return self.rrule.after(naive, inc=True) == naive

    def last(self) -> datetime | None:
        """The last regular start (naive local), or None for an endless series."""
        if self.until is None and self.count is None:
            return None
        return list(self.rrule)[-1] if self.count else self.rrule.before(datetime.max, inc=True)


_RULE_PART = re.compile(r"^[A-Z-]+=[A-Z0-9,+\-]+$")


def _rule(series: Series) -> _Rule:
    return _parse_rule(
        series.rrule, series.timezone, _local(series, series.start).replace(tzinfo=None)
    )


@lru_cache(maxsize=256)
def _parse_rule(text: str, zone_name: str, naive_start: datetime) -> _Rule:
    zone = _zone(zone_name)
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parts: dict[str, str] = {}
    for piece in body.upper().split(";"):
        if not _RULE_PART.match(piece):
            raise ValueError(f"cannot read {piece!r} in the rule {text!r}")
        name, _, value = piece.partition("=")
        parts[name] = value
    if "FREQ" not in parts:
        raise ValueError(f"the rule {text!r} has no FREQ")
    if "UNTIL" in parts and "COUNT" in parts:
        raise ValueError(f"the rule {text!r} has both UNTIL and COUNT (RFC 5545 3.3.10)")
    until = _until_utc(parts.pop("UNTIL"), zone) if "UNTIL" in parts else None
    local_parts = dict(parts)
    if until is not None:
        local_parts["UNTIL"] = f"{until.astimezone(zone).replace(tzinfo=None):%Y%m%dT%H%M%S}"
    local_text = ";".join(f"{k}={v}" for k, v in local_parts.items())
    try:
        expanded = dateutil_rrule.rrulestr(local_text, dtstart=naive_start)
    except (ValueError, TypeError) as error:
        raise ValueError(f"cannot read the rule {text!r}: {error}") from error
    if not isinstance(expanded, dateutil_rrule.rrule):
        raise ValueError(f"the rule {text!r} is not a single RRULE")
    for_ical = vRecur.from_ical(";".join(f"{k}={v}" for k, v in parts.items()))
    if until is not None:
        for_ical["UNTIL"] = [until]
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    return _Rule(for_ical=for_ical, rrule=expanded, until=until, count=count)


def _until_utc(value: str, zone: ZoneInfo) -> datetime:
    """UNTIL as aware UTC. A date means through that local day; a floating time is local."""
    try:
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if "T" in value:
            return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone).astimezone(UTC)
        day = datetime.strptime(value, "%Y%m%d")
    except ValueError as error:
        raise ValueError(f"cannot read UNTIL={value}") from error
    return day.replace(hour=23, minute=59, second=59, tzinfo=zone).astimezone(UTC)


def _years_of(series: Series, dtstamp: datetime) -> tuple[int, int]:
    """The years a VTIMEZONE must describe for this series (one year of slack before)."""
    moments = [_local(series, series.start), *(_local(series, d) for d in series.exdates)]
    for override in series.overrides:
        moments += [_local(series, override.start), _local(series, override.recurrence_id)]
    last = _rule(series).last()
    first_year = min(m.year for m in moments) - 1
    if last is None:
        last_year = max(max(m.year for m in moments), dtstamp.year) + _TIMEZONE_HORIZON_YEARS
    else:
        last_year = max(last.year, *(m.year for m in moments)) + 1
    return first_year, last_year


# --- VTIMEZONE -------------------------------------------------------------------


def _add_timezone(cal: Calendar, zone_name: str, years: tuple[int, int]) -> None:
    cal.add_component(_vtimezone(zone_name, *years))


@lru_cache(maxsize=64)  # shared between calendars: never modified after it is built
def _vtimezone(zone_name: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for `zone_name` that is exact from first_year through last_year.

    Written with yearly RRULEs, the way Google and Outlook write them, whenever the
    zone's changes in those years follow one yearly rule each way: Outlook shifts
    meetings by an hour when a VTIMEZONE lists its changes as RDATEs (see
    iCalcreator issues #86 and #106). Zones without such a rule (Casablanca,
    Santiago, a year DST was abolished) get every change of those years listed.
    Both forms put each onset at the wall-clock time before it (RFC 5545 3.6.5).
    """
    zone = _zone(zone_name)
    changes = _offset_changes(zone, first_year, last_year)
    tz = Timezone()
    tz.add("tzid", zone_name)
    if not changes:
        tz.add_component(_observance_from(zone, first_year))
        return tz
    rules = _yearly_rules(changes, first_year, last_year)
    if rules is None:
        rules = _listed_changes(zone, changes, first_year)
        tz.add("comment", f"Exact from {first_year} through {last_year}.")
    for rule in rules:
        tz.add_component(rule)
    return tz


@dataclass(frozen=True)
class _Change:
    onset: datetime  # naive local wall-clock time before the change (RFC 5545 3.6.5)
    offset_from: timedelta
    offset_to: timedelta
    name: str


def _offset_changes(zone: ZoneInfo, first_year: int, last_year: int) -> list[_Change]:
    """Every UTC-offset change of `zone` in those years, to the second."""

    def offset(second: int) -> timedelta:
        return datetime.fromtimestamp(second, zone).utcoffset() or timedelta()

    changes = []
    day = int(datetime(first_year, 1, 1, tzinfo=UTC).timestamp())
    stop = int(datetime(last_year + 1, 1, 1, tzinfo=UTC).timestamp())
    after = offset(day)
    while day < stop:
        following = day + 86_400
        before, after = after, offset(following)
        if before != after:
            low, high = day, following  # offset(low) == before != offset(high)
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == before:
                    low = middle
                else:
                    high = middle
            changes.append(
                _Change(
                    onset=datetime.fromtimestamp(high, UTC).replace(tzinfo=None) + before,
                    offset_from=before,
                    offset_to=offset(high),
                    name=datetime.fromtimestamp(high, zone).tzname() or "",
                )
            )
        day = following
    return changes


def _observance_from(zone: ZoneInfo, year: int) -> TimezoneStandard | TimezoneDaylight:
    """The offset in force on 1 January of `year`, as an observance that starts then."""
    moment = datetime(year, 1, 1, tzinfo=zone)
    observance = TimezoneDaylight() if moment.dst() else TimezoneStandard()
    observance.add("dtstart", datetime(year, 1, 1))
    observance.add("tzoffsetfrom", moment.utcoffset())
    observance.add("tzoffsetto", moment.utcoffset())
    observance.add("tzname", moment.tzname() or zone.key)
    return observance


def _listed_changes(
    zone: ZoneInfo, changes: list[_Change], first_year: int
) -> list[TimezoneStandard | TimezoneDaylight]:
    """Irregular zones: each change listed with its own date (DTSTART, then RDATEs).

    Written here rather than with icalendar's Timezone.from_tzinfo, whose 6.3
    DTSTARTs are the wall-clock time after some changes, not before (RFC 5545
    3.6.5), which puts those changes an hour off.
    """
    groups: dict[tuple, list[_Change]] = {}
    for change in changes:
        key = (change.offset_from, change.offset_to, change.name)
        groups.setdefault(key, []).append(change)
    components = [_observance_from(zone, first_year)]
    for (offset_from, offset_to, name), group in groups.items():
        component = TimezoneDaylight() if offset_to > offset_from else TimezoneStandard()
        component.add("dtstart", group[0].onset)
        component.add("tzoffsetfrom", offset_from)
        component.add("tzoffsetto", offset_to)
        component.add("tzname", name)
        for change in group[1:]:
            component.add("rdate", change.onset)
        components.append(component)
    return components


_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _yearly_rules(
    changes: list[_Change], first_year: int, last_year: int
) -> list[TimezoneStandard | TimezoneDaylight] | None:
    """One STANDARD and one DAYLIGHT with RRULE:FREQ=YEARLY, or None if they do not fit."""
    years = list(range(first_year, last_year + 1))
    groups: dict[bool, list[_Change]] = {True: [], False: []}
    for change in changes:
        groups[change.offset_to > change.offset_from].append(change)
    components: list[TimezoneStandard | TimezoneDaylight] = []
    for is_daylight, group in groups.items():
        shape = {
            (c.offset_from, c.offset_to, c.name, c.onset.month, c.onset.time(), c.onset.weekday())
            for c in group
        }
        if len(shape) != 1 or [c.onset.year for c in group] != years:
            return None
        byday: set[int] | None = None
        for change in group:
            day = change.onset.day
            fits = {(day - 1) // 7 + 1}
            if day + 7 > monthrange(change.onset.year, change.onset.month)[1]:
                fits.add(-1)
            byday = fits if byday is None else byday & fits
        if not byday:
            return None
        first = group[0]
        component = TimezoneDaylight() if is_daylight else TimezoneStandard()
        component.add("dtstart", first.onset)
        component.add("tzoffsetfrom", first.offset_from)
        component.add("tzoffsetto", first.offset_to)
        component.add("tzname", first.name)
        weekday = _WEEKDAYS[first.onset.weekday()]
        component.add(
            "rrule",
            {"FREQ": "YEARLY", "BYMONTH": first.onset.month, "BYDAY": f"{min(byday)}{weekday}"},
        )
        components.append(component)
    return components


# --- parsing replies --------------------------------------------------------------


def parse_reply(data: bytes) -> list[CalendarReply]:
    """One CalendarReply per VEVENT and ATTENDEE of an iTIP REPLY, COUNTER or REFRESH."""
    if not data or not data.strip():
        raise CalendarParseError("the calendar part is empty")
    try:
        components = Calendar.from_ical(data.removeprefix(b"\xef\xbb\xbf"), multiple=True)
    except Exception as error:  # icalendar raises ValueError, KeyError, IndexError ...
        raise CalendarParseError(f"not an iCalendar object: {error}") from error
    calendars = [c for c in components if c.name == "VCALENDAR"]
    if not calendars:
        raise CalendarParseError("no VCALENDAR in the calendar part")
    replies = []
    for cal in calendars:
        _refuse_broken(cal, ("METHOD",), "the VCALENDAR")
        method = str(cal.get("METHOD", "")).strip().upper()
        if not method:
            raise CalendarParseError("the VCALENDAR has no METHOD, so it is not an iTIP reply")
        if method not in REPLY_METHODS:
            raise CalendarParseError(
                f"METHOD:{method} is not a reply (expected {', '.join(REPLY_METHODS)})"
            )
        zones = {str(z["TZID"]): z for z in cal.walk("VTIMEZONE") if "TZID" in z}
        events = cal.walk("VEVENT")
        if not events:
            raise CalendarParseError(f"the {method} has no VEVENT")
        for event in events:
            replies += _replies_of(event, method, zones)
    return replies


_READ_FROM_EVENT = (
    "UID",
    "ATTENDEE",
    "RECURRENCE-ID",
    "DTSTART",
    "DTEND",
    "DURATION",
    "SEQUENCE",
    "COMMENT",
)


def _refuse_broken(component, names: tuple[str, ...], where: str) -> None:
    """icalendar drops a property it cannot read and notes it in `errors`: a lost
    RECURRENCE-ID would turn a reply for one meeting into one for the whole series."""
    broken = [f"{name}: {reason}" for name, reason in component.errors if name in names]
    if broken:
        raise CalendarParseError(f"cannot read {where}: {'; '.join(broken)}")


def _replies_of(event: Event, method: str, zones: dict[str, Timezone]) -> list[CalendarReply]:
    _refuse_broken(event, _READ_FROM_EVENT, f"a VEVENT of the {method}")
    uid = str(event.get("UID", "")).strip()
    if not uid:
        raise CalendarParseError(f"a VEVENT of the {method} has no UID")
    attendees = event.get("ATTENDEE")
    if attendees is None:
        raise CalendarParseError(f"the {method} for {uid} names no ATTENDEE")
    if not isinstance(attendees, list):
        attendees = [attendees]
    recurrence_id = (
        _instant(event["RECURRENCE-ID"], zones, "RECURRENCE-ID")
        if "RECURRENCE-ID" in event
        else None
    )
    proposed_start = proposed_end = None
    if method == "COUNTER":
        if "DTSTART" not in event:
            raise CalendarParseError(f"the COUNTER for {uid} proposes no DTSTART")
        proposed_start = _instant(event["DTSTART"], zones, "DTSTART")
        if "DTEND" in event:
            proposed_end = _instant(event["DTEND"], zones, "DTEND")
        elif "DURATION" in event:
            proposed_end = proposed_start + event["DURATION"].dt
    try:
        sequence = int(event.get("SEQUENCE", 0))
    except (TypeError, ValueError) as error:
        raise CalendarParseError(f"SEQUENCE of {uid} is not a number") from error
    comments = event.get("COMMENT", [])
    if not isinstance(comments, list):
        comments = [comments]
    comment = "\n".join(str(c).strip() for c in comments).strip()
    return [
        CalendarReply(
            uid=uid,
            attendee_email=_email_of(attendee, uid),
            partstat=str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
            method=method,
            recurrence_id=recurrence_id,
            sequence=sequence,
            proposed_start=proposed_start,
            proposed_end=proposed_end,
            comment=comment,
        )
        for attendee in attendees
    ]


def _email_of(attendee: vCalAddress, uid: str) -> str:
    value = str(attendee).strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    elif "EMAIL" in attendee.params:  # RFC 7986: a urn:uuid address with its email beside it
        value = str(attendee.params["EMAIL"])
    value = value.strip().lower()
    if "@" not in value:
        raise CalendarParseError(f"the ATTENDEE {str(attendee)!r} of {uid} has no email address")
    return value


def _instant(prop, zones: dict[str, Timezone], what: str) -> datetime:
    """A DATE-TIME property as aware UTC.

    A custom TZID is resolved with this message's own VTIMEZONE: icalendar keeps
    custom zones in a process-wide cache keyed by TZID alone, and Outlook calls
    many different zones "Customized Time Zone".
    """
    value = prop.dt
    if not isinstance(value, datetime):
        raise CalendarParseError(f"{what} is a date, not a date and time")
    tzid = prop.params.get("TZID")
    if tzid:
        zone = _known_zone(str(tzid))
        if zone is None and str(tzid) in zones:
            try:
                zone = zones[str(tzid)].to_tz(lookup_tzid=False)
            except Exception as error:  # a broken VTIMEZONE
                raise CalendarParseError(f"cannot read the VTIMEZONE {tzid!r}: {error}") from error
        if zone is None:
            raise CalendarParseError(
                f"{what} uses the time zone {tzid!r}, which is neither known nor defined"
            )
        value = value.replace(tzinfo=zone)
    elif value.tzinfo is None:
        raise CalendarParseError(f"{what} is a floating time (no time zone)")
    return value.astimezone(UTC)


def _known_zone(tzid: str) -> tzinfo | None:
    """An IANA zone for a TZID: the name itself, a Windows name, or a prefixed
    name like Thunderbird's old "/mozilla.org/20070129_1/Europe/Berlin"."""
    tzid = tzid.strip().strip('"')
    if tzid in WINDOWS_TO_OLSON:
        return ZoneInfo(WINDOWS_TO_OLSON[tzid])
    pieces = tzid.strip("/").split("/")
    for index in range(len(pieces)):
        try:
            return ZoneInfo("/".join(pieces[index:]))
        except Exception:  # ValueError, ZoneInfoNotFoundError, IsADirectoryError ...
            continue
    return None
