"""Journeys as data: `emails/sequences/<name>.toml` -> Sequence, and when a step is due.

Pure: no Flask, no database, no `app`. The engine in `app/journeys` keeps, per
person and journey, the keys of the steps already passed (sent or skipped) and
asks `Sequence.next_unpassed(passed)` for the next one, so a coordinator can
edit a file while people are mid-journey: removed steps are never sent, new
steps reach everyone who has not passed them, and a step's position can change
without resending anything. The file format is documented for coordinators in
`emails/sequences/README.md`.

Times: every datetime in and out is aware UTC; send windows ("09:00 on
weekdays") are read in the person's own IANA time zone with `zoneinfo`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2 import meta as jinja_meta

from emails.content_files import load_cached

SEQUENCES = Path(__file__).parent / "sequences"
TEMPLATES = Path(__file__).parent / "templates"

STREAM_PRIORITIES = {"buddy": 10, "circles": 10, "onboarding": 20, "surveys": 30}
STREAMS = frozenset(STREAM_PRIORITIES)
ANCHORS = ("previous", "start")

# The variables a template may use. The engine and the outbox fill them; a
# template that needs a new one adds it here first, with what it means.
KNOWN_VARIABLES: dict[str, str] = {
    "first_name": "the person's first name",
    "name": "the person's full name",
    "organisation": "the name of the champion's organisation",
    "organisation_kind": "a human label for its kind, e.g. 'Cooperative' (may be 'Other')",
    "buddy_name": "the matched buddy's full name",
    "buddy_first_name": "the matched buddy's first name",
    "cohort": "the name of the champion's cohort",
    "weeks": "whole weeks since the journey started",
    "link": "the one URL this email is about (sign-in, confirm, survey)",
    "links": "a dict of named URLs, e.g. links.survey",
    "minutes": "how long a link stays valid",
    "login_url": "where to ask for a new sign-in link",
    "base_url": "the public address of Hearth",
    "me_url": "the person's own page: details, preferences, pause",
    "button": "button(label, url): a call to action (a link in the text part)",
    "footer": "the footer dict (reason, links); used by the layout",
    "until": "the end of a pause, as a date a person reads",
    "stream_name": "the name of an email stream, e.g. 'the onboarding journey'",
    "sender_name": "who wrote the message being forwarded",
    "question": "the words being forwarded",
    "original_subject": "the subject of the message being forwarded",
    "champion_name": "the paired champion's full name (in a buddy's emails)",
    "champion_first_name": "the paired champion's first name (in a buddy's emails)",
    "consent_until": "the end of a match's objection period, as a date in the reader's zone",
    "consent_days": "how many days the objection period lasts",
    "was_active": "true when a pairing had started (not only proposed)",
    "circle_name": "the support circle's name ('' when none is placed yet)",
    "circle_purpose": "what the circle is for, e.g. 'a recovery circle for champions who feel worn out'",
    "video_url": "the circle's video-call link",
    "meetings": "the circle's next meetings, each a date and time on the reader's clock",
    "meeting_when": "one meeting's date and time on the reader's clock, with their zone",
    "change": "what changed in a circle's schedule or link, as one sentence",
    "agenda": "the items of a circle meeting's agenda, in order",
    "facilitator_name": "who facilitates this circle meeting ('' when nobody is set)",
    "situation_name": "whose situation the circle takes up this meeting ('' when none)",
    "answer": "the reader's RSVP for this meeting so far: yes, no, maybe or ''",
    "members": "the circle's members, each a name with their RSVP",
    "survey_title": "the title of the survey an email invites to (emails/surveys/*.toml)",
    "survey_question": "the survey's first question, answered with one click in the email",
    "survey_answers": "the first question's answers, each with a label and the url that opens "
    "the survey with it chosen (nothing is saved until Submit)",
    "checkin_count": "how many check-ins a pairing logged (champion and buddy together)",
    "meetings_attended": "how many support circle meetings the person said yes to and that took place",
}

_DURATION = re.compile(r"\A\s*(\d+)\s*([a-z]+)\s*\Z", re.I)
_UNITS = {
    "minute": "minutes",
    "minutes": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "hour": "hours",
    "hours": "hours",
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
}
_TIME = re.compile(r"\A([01]?\d|2[0-3]):([0-5]\d)\Z")
_KEY = re.compile(r"\A[a-z0-9][a-z0-9_-]*\Z")
_EVENT = re.compile(r"\A[a-z][a-z0-9_.-]*\Z")
_FRONT = re.compile(r"\A\+\+\+\n(.*?)\n\+\+\+\n", re.S)  # same as emails.render

_SEQUENCE_KEYS = {
    "name",
    "description",
    "stream",
    "priority",
    "stop_on",
    "at",
    "weekdays",
    "step",
}
_STEP_KEYS = {
    "key",
    "template",
    "stream",
    "after",
    "from",
    "at",
    "weekdays",
    "skip_when_paused",
    "stop_on",
    "repeat",
    "until",
    "max_repeats",
    "priority",
}


class SequenceError(Exception):
    """A sequence file is missing or malformed; the message names the file and step."""


@dataclass(frozen=True)
class Step:
    key: str
    template: str
    stream: str
    after: timedelta
    from_: str
    at: time | None
    weekdays: bool
    skip_when_paused: bool
    stop_on: tuple[str, ...]
    repeat: timedelta | None
    until: str | None
    max_repeats: int | None
    priority: int

    def anchor(self, *, started_at: datetime, previous_at: datetime | None) -> datetime:
        """The moment `after` counts from: the journey start, or the previous step's
        send (or skip) time; the first step of a journey counts from the start."""
        if self.from_ == "start" or previous_at is None:
            return started_at
        return previous_at


@dataclass(frozen=True)
class Sequence:
    name: str
    description: str
    steps: tuple[Step, ...]
    stop_on: tuple[str, ...]
    path: Path | None = None

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    def first_step(self) -> Step:
        return self.steps[0]  # load() refuses a sequence without steps

    def next_after(self, key: str) -> Step | None:
        """The step after `key` in the file as it is now; None after the last step.

        Raises SequenceError when `key` is no longer in the file: where it was is
        unknowable. Engines should prefer `next_unpassed()`, which never needs it.
        """
        for index, candidate in enumerate(self.steps):
            if candidate.key == key:
                return self.steps[index + 1] if index + 1 < len(self.steps) else None
        raise SequenceError(
            f"{self._file}: no step {key!r} (was it removed?); use next_unpassed() instead"
        )

    def next_unpassed(self, passed: Iterable[str]) -> Step | None:
        """The first step in file order whose key is not in `passed`; None when done.

        This is what makes editing a file mid-journey safe: keys of removed steps
        in `passed` are ignored, and a step added before the person's current
        position still reaches them next.
        """
        done = set(passed)
        return next((s for s in self.steps if s.key not in done), None)

    def stop_events(self, step: Step) -> frozenset[str]:
        """Events that end the journey while `step` is pending (sequence's and step's)."""
        return frozenset(self.stop_on) | frozenset(step.stop_on)

    @property
    def _file(self) -> str:
        return self.path.name if self.path else f"{self.name}.toml"


# -- durations and send windows ------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """Read "2 days", "1 week", "90 minutes" or "0 days"; SequenceError otherwise."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if unit is None:
        raise SequenceError(
            f"{text!r} is not a duration; write a whole number and a unit, "
            'e.g. "90 minutes", "2 hours", "3 days", "1 week"'
        )
    try:
        return timedelta(**{unit: int(match.group(1))})
    except OverflowError:
        raise SequenceError(f"{text!r} is longer than any journey can wait") from None


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {tz!r}") from error


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got {value!r}")


def _instant_of(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the naive wall-clock time `wall` in `zone`.

    Ambiguous (autumn, clocks go back): the first occurrence (fold=0).
    Nonexistent (spring, clocks go forward): the first valid instant after it,
    i.e. the moment of the change itself (02:30 in Berlin -> 03:00 CEST).
    """
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if early.astimezone(zone).replace(tzinfo=None) == wall:
        return early
    # In a gap, fold=0 applies the offset from before the change and fold=1 the
    # one after, so the change lies in (late, early]: find it to the second.
    late = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(early, late), max(early, late)
    after_offset = high.astimezone(zone).utcoffset()
    while (high - low).total_seconds() > 1:
        middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
        if middle.astimezone(zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high


def next_window(at: time, weekdays: bool, tz: str, not_before: datetime) -> datetime:
    """The first send slot at or after `not_before` (aware UTC): wall time `at` in
    zone `tz`, on any day, or Monday to Friday only when `weekdays`."""
    _require_aware("not_before", not_before)
    zone = _zone(tz)
    not_before = not_before.astimezone(UTC)
    day = not_before.astimezone(zone).date()
    for offset in range(9):  # a weekend and a gap day at most: 9 days is plenty
        candidate_day = day + timedelta(days=offset)
        if weekdays and candidate_day.weekday() >= 5:
            continue
        instant = _instant_of(datetime.combine(candidate_day, at), zone)
        if instant >= not_before:
            return instant
    raise AssertionError("unreachable: a window exists within any 9 days")


def add_on_clock(start: datetime, duration: timedelta, tz: str) -> datetime:
    """`start + duration` (aware UTC), counting whole days on the person's clock.

    "1 day" after Saturday 09:00 in Berlin is Sunday 09:00 even when the clocks
    go forward that night (23 hours later), so a daily or weekly step keeps its
    local time; the part below a day ("90 minutes") is elapsed time.
    """
    _require_aware("start", start)
    zone = _zone(tz)
    if duration.days == 0:
        # Also keeps the second 01:30 of an autumn night from turning into the first.
        return start.astimezone(UTC) + duration
    whole_days = timedelta(days=duration.days)
    wall = start.astimezone(zone).replace(tzinfo=None) + whole_days
    return _instant_of(wall, zone) + (duration - whole_days)


def due_at(step: Step, *, anchor: datetime, tz: str, not_before: datetime) -> datetime:
    """When `step` should be sent (aware UTC): the first window slot at or after
    both `anchor + step.after` and `not_before` (e.g. now, or the end of a pause).
    Whole days of `after` are counted on the person's clock (see add_on_clock)."""
    _require_aware("not_before", not_before)
    earliest = max(add_on_clock(anchor, step.after, tz), not_before.astimezone(UTC))
    if step.at is None:
        return earliest
    return next_window(step.at, step.weekdays, tz, earliest)


def due_again_at(
    step: Step, *, last_sent: datetime, times_sent: int, tz: str, not_before: datetime
) -> datetime | None:
    """When a repeating step is due again after `times_sent` sends, or None when
    it does not repeat or `max_repeats` repetitions (after the first send) are done.
    `until` is an event: the engine stops repeating when it happens."""
    if step.repeat is None:
        return None
    if step.max_repeats is not None and times_sent > step.max_repeats:
        return None
    _require_aware("not_before", not_before)
    earliest = max(add_on_clock(last_sent, step.repeat, tz), not_before.astimezone(UTC))
    if step.at is None:
        return earliest
    return next_window(step.at, step.weekdays, tz, earliest)


# -- loading -------------------------------------------------------------------

def load(name: str, directory: Path | None = None) -> Sequence:
    """The sequence in `<directory>/<name>.toml` (default `emails/sequences/`).

    Cached per process; read again when the file's modification time changes,
    so an edited file takes effect without a restart.
    """
    return load_cached((directory or SEQUENCES) / f"{name}.toml", _parse_file, SequenceError,
                       "sequence")


def load_all(directory: Path | None = None) -> dict[str, Sequence]:
    """Every sequence in the directory, by name; SequenceError on the first bad file."""
    folder = directory or SEQUENCES
    return {path.stem: load(path.stem, folder) for path in sorted(folder.glob("*.toml"))}


def _parse_file(path: Path) -> tuple[Sequence | None, list[str]]:
    """Parse one file and collect every problem, so `check()` can list them all."""
    file = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        return None, [f"{file}: not valid TOML: {error}"]
    except (OSError, UnicodeDecodeError) as error:
        return None, [f"{file}: cannot be read: {error}"]

    problems: list[str] = []

    def problem(where: str, message: str) -> None:
        problems.append(f"{file}: {where}{message}")

    for unknown in sorted(set(data) - _SEQUENCE_KEYS):
        problem("", f"unknown setting {unknown!r} (known: {', '.join(sorted(_SEQUENCE_KEYS))})")

    name = data.get("name", path.stem)
    if name != path.stem:
        problem("", f"name = {name!r} must match the file name {path.stem!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        problem("", "description must be text")
        description = ""

    def top(message: str) -> None:
        problem("", message)

    # Top-level stream, priority, at and weekdays are defaults for every step.
    defaults = {
        "stream": data.get("stream"),
        "priority": data.get("priority"),
        "at": _time(data.get("at"), top),
        "weekdays": _flag(data, "weekdays", False, top),
    }
    if defaults["stream"] is not None and defaults["stream"] not in STREAMS:
        top(f"stream {defaults['stream']!r} is not one of {_listed(STREAMS)}")
        defaults["stream"] = None
    if defaults["priority"] is not None and not _is_int(defaults["priority"]):
        top(f"priority = {defaults['priority']!r} must be a whole number (lower goes first)")
        defaults["priority"] = None
    stop_on = _events(data.get("stop_on", []), top)

    raw_steps = data.get("step", [])
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
        problem("", "steps are written as [[step]] tables")
        raw_steps = []
    if not raw_steps:
        problem("", "has no steps; add at least one [[step]] table")

    steps: list[Step] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_steps, start=1):
        key = raw.get("key")
        label = f"step {key!r}: " if isinstance(key, str) else f"step #{position}: "
        step = _parse_step(raw, defaults, lambda m, label=label: problem(label, m))
        if step is None:
            continue
        if step.key in seen:
            problem(label, "duplicate key; every step needs its own key")
            continue
        seen.add(step.key)
        steps.append(step)

    if problems:
        return None, problems
    return Sequence(name, description.strip(), tuple(steps), stop_on, path), []


def _parse_step(raw: dict, defaults: dict, problem: Callable[[str], None]) -> Step | None:
    count = 0

    def fail(message: str) -> None:
        nonlocal count
        count += 1
        problem(message)

    for unknown in sorted(set(raw) - _STEP_KEYS):
        fail(f"unknown setting {unknown!r} (known: {', '.join(sorted(_STEP_KEYS))})")

    key = raw.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        fail('needs a key of lowercase letters, digits, "_" or "-" (e.g. key = "welcome")')
    template = raw.get("template")
    if not isinstance(template, str) or not template.strip():
        fail('needs a template (e.g. template = "onboarding_welcome")')

    stream = raw.get("stream", defaults["stream"])
    if stream is None:
        fail(f"needs a stream ({_listed(STREAMS)}), here or at the top of the file")
    elif stream not in STREAMS:
        fail(f"stream {stream!r} is not one of {_listed(STREAMS)}")

    after = _duration(raw.get("after", "0 days"), "after", fail)
    from_ = raw.get("from", "previous")
    if from_ not in ANCHORS:
        fail(f'from = {from_!r} must be "previous" or "start"')

    at = _time(raw.get("at", defaults["at"]), fail)
    weekdays = _flag(raw, "weekdays", defaults["weekdays"], fail)
    skip_when_paused = _flag(raw, "skip_when_paused", False, fail)
    stop_on = _events(raw.get("stop_on", []), fail)

    repeat = _duration(raw["repeat"], "repeat", fail) if "repeat" in raw else None
    if repeat is not None and repeat <= timedelta(0):
        fail("repeat must be longer than zero")
    until = raw.get("until")
    if until is not None and (not isinstance(until, str) or not _EVENT.match(until)):
        fail(f'until = {until!r} must name an event, e.g. "buddy_ended"')
    max_repeats = raw.get("max_repeats")
    if max_repeats is not None and (not _is_int(max_repeats) or max_repeats < 1):
        fail(f"max_repeats = {max_repeats!r} must be a whole number of at least 1")
    if "repeat" in raw and until is None and max_repeats is None:
        fail(
            'repeat needs until = "event" or max_repeats = N; an endless repeat '
            "must name the event that ends it with until"
        )
    if "repeat" not in raw and (until is not None or max_repeats is not None):
        fail("until and max_repeats only make sense with repeat")

    priority = raw.get("priority", defaults["priority"])
    if priority is None:
        priority = STREAM_PRIORITIES.get(stream, 0)
    elif not _is_int(priority):
        fail(f"priority = {priority!r} must be a whole number (lower goes first)")

    if count:
        return None
    return Step(
        key=key,
        template=template.strip(),
        stream=stream,
        after=after,
        from_=from_,
        at=at,
        weekdays=weekdays,
        skip_when_paused=skip_when_paused,
        stop_on=stop_on,
        repeat=repeat,
        until=until,
        max_repeats=max_repeats,
        priority=priority,
    )


def _duration(value: object, setting: str, fail: Callable[[str], None]) -> timedelta:
    try:
        return parse_duration(value)  # type: ignore[arg-type]
    except SequenceError as error:
        fail(f"{setting}: {error}")
        return timedelta(0)


def _time(value: object, fail: Callable[[str], None]) -> time | None:
    if value is None or value == "":
        return None
    if isinstance(value, time):  # a TOML local time: at = 09:00:00
        return value.replace(tzinfo=None)
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match:
        fail(f'at = {value!r} is not a time of day; write "HH:MM" on a 24-hour clock, e.g. "09:00"')
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _flag(raw: dict, setting: str, default: object, fail: Callable[[str], None]) -> bool:
    value = raw.get(setting, default)
    if not isinstance(value, bool):
        fail(f"{setting} = {value!r} must be true or false")
        return False
    return value


def _events(value: object, fail: Callable[[str], None]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(e, str) and _EVENT.match(e) for e in value
    ):
        fail(f'stop_on = {value!r} must be a list of event names, e.g. ["left_programme"]')
        return ()
    return tuple(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _listed(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


# -- checking content ----------------------------------------------------------


def check(
    templates_dir: Path | None = None,
    *,
    directory: Path | None = None,
    render_check: Callable[[str], list[str]] | None = None,
) -> list[str]:
    """Every problem in the sequences and templates, as sentences; [] when all is well.

    Sequences: everything `load()` refuses, plus templates that do not exist.
    Templates: front matter parses and has a subject, Jinja parses, and only
    KNOWN_VARIABLES are used. `render_check(template)` is called once for each
    template a sequence uses, to render it for real (e.g. with
    `emails.render.render` and a sample context) and return its problems.
    """
    templates_dir = templates_dir or TEMPLATES
    sequences_dir = directory or SEQUENCES
    problems: list[str] = []
    used: dict[str, str] = {}
    for path in sorted(sequences_dir.glob("*.toml")):
        sequence, found = _parse_file(path)
        problems.extend(found)
        for step in sequence.steps if sequence else ():
            if not (templates_dir / f"{step.template}.md").is_file():
                problems.append(
                    f"{path.name}: step {step.key!r}: no template {step.template!r} "
                    f"(looked for {templates_dir / (step.template + '.md')})"
                )
            else:
                used.setdefault(step.template, f"{path.name}: step {step.key!r}")
    for path in sorted(templates_dir.glob("*.md")):
        problems.extend(check_template(path))
    if render_check is not None:
        for template in sorted(used):
            problems.extend(f"{template}.md: {message}" for message in render_check(template))
    return problems


def check_template(path: Path) -> list[str]:
    """Problems in one template file: front matter, subject, Jinja syntax, variables."""
    file = path.name
    raw = path.read_text(encoding="utf-8")
    match = _FRONT.match(raw)
    if not match:
        return [f"{file}: front matter between +++ lines is missing"]
    try:
        front = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as error:
        return [f"{file}: front matter is not valid TOML: {error}"]
    problems = []
    if not isinstance(front.get("subject"), str) or not front["subject"].strip():
        problems.append(f'{file}: front matter needs a subject = "..."')
    parts = {"body": raw[match.end() :]}
    body_offset = raw[: match.end()].count("\n")  # report lines of the file, not of the body
    for part in ("subject", "preheader"):
        if isinstance(front.get(part), str):
            parts[part] = front[part]
    env = jinja2.Environment()
    for part, source in parts.items():
        try:
            names = jinja_meta.find_undeclared_variables(env.parse(source))
        except jinja2.TemplateSyntaxError as error:
            where = f"line {error.lineno + body_offset}" if part == "body" else part
            problems.append(f"{file}: {where}: {error.message}")
            continue
        for unknown in sorted(names - KNOWN_VARIABLES.keys()):
            problems.append(
                f"{file}: {part} uses {{{{ {unknown} }}}}, which is not a known variable "
                f"(known: {', '.join(sorted(KNOWN_VARIABLES))}; add it to "
                "KNOWN_VARIABLES in emails/sequences.py if the engine provides it)"
            )
    return problems


__all__ = [
    "KNOWN_VARIABLES",
    "STREAM_PRIORITIES",
    "add_on_clock",
    "Sequence",
    "SequenceError",
    "Step",
    "check",
    "check_template",
    "due_again_at",
    "due_at",
    "load",
    "load_all",
    "next_window",
    "parse_duration",
]
