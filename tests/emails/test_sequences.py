"""Journeys as data: loading, validation, send windows across DST, safe edits, real content."""

from __future__ import annotations

import os
import textwrap
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from emails import render, sequences
from emails.sequences import SequenceError, due_again_at, due_at, next_window, parse_duration

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: str, *args) -> datetime:
    """A wall-clock time in `tz` as aware UTC (first occurrence when ambiguous)."""
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def on_the_clock(instant: datetime, tz: str) -> str:
    return instant.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M %Z")


def write_sequence(directory, body: str, name: str = "trial"):
    path = directory / f"{name}.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def a_step(**changes) -> sequences.Step:
    values = dict(
        key="k",
        template="t",
        stream="onboarding",
        after=timedelta(0),
        from_="previous",
        at=time(9, 0),
        weekdays=False,
        skip_when_paused=False,
        stop_on=(),
        repeat=None,
        until=None,
        max_repeats=None,
        priority=20,
    )
    return sequences.Step(**{**values, **changes})


ONE_STEP = """
    stream = "onboarding"
    [[step]]
    key = "hello"
    template = "onboarding_welcome"
"""


# -- durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 days", timedelta(days=2)),
        ("1 week", timedelta(weeks=1)),
        ("3 weeks", timedelta(weeks=3)),
        ("90 minutes", timedelta(minutes=90)),
        ("1 hour", timedelta(hours=1)),
        ("0 days", timedelta(0)),
        ("  14 Days ", timedelta(days=14)),
        ("5min", timedelta(minutes=5)),
    ],
)
def test_durations_read_like_plain_english(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "garbage",
    ["", "soon", "2", "days", "-1 day", "1.5 days", "2 fortnights", "1 week 2 days", None, 3],
)
def test_a_duration_that_is_not_one_says_how_to_write_it(garbage):
    with pytest.raises(SequenceError, match="not a duration.*e.g."):
        parse_duration(garbage)


def test_an_absurdly_long_wait_is_refused_not_crashed():
    with pytest.raises(SequenceError, match="longer than any journey can wait"):
        parse_duration("99999999999 weeks")


# -- loading -------------------------------------------------------------------


def test_the_onboarding_journey_loads_with_its_defaults():
    journey = sequences.load("onboarding")

    assert journey.name == "onboarding"
    assert journey.first_step().key == "welcome"
    assert journey.first_step().after == timedelta(0)
    assert journey.first_step().from_ == "start"
    assert len(journey.steps) in (9, 10)
    for step in journey.steps:
        assert (step.stream, step.at, step.weekdays, step.priority) == (
            "onboarding",
            time(9, 0),
            True,
            20,
        ), step.key
    assert "left_programme" in journey.stop_on
    assert "onboarding" in sequences.load_all()


def test_a_step_takes_defaults_from_the_file_then_from_its_stream(tmp_path):
    write_sequence(
        tmp_path,
        """
        name = "trial"
        description = "A trial."
        stream = "buddy"
        stop_on = ["left_programme"]

        [[step]]
        key = "first"
        template = "t1"

        [[step]]
        key = "survey"
        template = "t2"
        stream = "surveys"
        after = "2 days"
        from = "start"
        at = "17:30"
        weekdays = true
        skip_when_paused = true
        stop_on = ["graduated"]

        [[step]]
        key = "checkin"
        template = "t3"
        priority = 5
        repeat = "14 days"
        until = "buddy_ended"
        max_repeats = 6
    """,
    )
    journey = sequences.load("trial", tmp_path)
    first, survey, checkin = journey.steps

    assert journey.description == "A trial."
    assert (first.stream, first.priority, first.after, first.from_) == (
        "buddy",
        10,
        timedelta(0),
        "previous",
    )
    assert (first.at, first.weekdays, first.skip_when_paused) == (None, False, False)
    assert (survey.stream, survey.priority, survey.at, survey.weekdays) == (
        "surveys",
        30,
        time(17, 30),
        True,
    )
    assert survey.skip_when_paused and survey.from_ == "start"
    assert journey.stop_events(survey) == {"left_programme", "graduated"}
    assert (checkin.priority, checkin.repeat, checkin.until, checkin.max_repeats) == (
        5,
        timedelta(days=14),
        "buddy_ended",
        6,
    )


def test_a_file_level_priority_beats_the_stream_default(tmp_path):
    write_sequence(tmp_path, "priority = 3\n" + ONE_STEP)
    assert sequences.load("trial", tmp_path).first_step().priority == 3


def test_an_edited_file_is_read_again_and_an_unchanged_one_is_not(tmp_path):
    path = write_sequence(tmp_path, ONE_STEP)
    first = sequences.load("trial", tmp_path)
    assert sequences.load("trial", tmp_path) is first

    path.write_text(path.read_text() + '\n[[step]]\nkey = "later"\ntemplate = "x"\n')
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))

    assert [s.key for s in sequences.load("trial", tmp_path).steps] == ["hello", "later"]


def test_a_missing_sequence_names_where_it_looked(tmp_path):
    with pytest.raises(SequenceError, match=r"no sequence named 'nope' \(looked for .*nope.toml"):
        sequences.load("nope", tmp_path)


# -- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("step_lines", "message"),
    [
        ('after = "two days"', r"trial.toml: step 'bad': after: 'two days' is not a duration"),
        ('after = "2 fortnights"', r"step 'bad': after: '2 fortnights' is not a duration"),
        ('at = "9am"', r"step 'bad': at = '9am' is not a time of day.*HH:MM"),
        ('at = "25:00"', r"step 'bad': at = '25:00' is not a time of day"),
        ('stream = "newsletter"', r"step 'bad': stream 'newsletter' is not one of buddy, circles"),
        ('from = "yesterday"', r"step 'bad': from = 'yesterday' must be \"previous\" or \"start\""),
        ('repeat = "14 days"', r"step 'bad': repeat needs until = \"event\" or max_repeats = N"),
        ('until = "graduated"', r"step 'bad': until and max_repeats only make sense with repeat"),
        (
            'repeat = "7 days"\nmax_repeats = 0',
            r"step 'bad': max_repeats = 0 must be a whole number",
        ),
        ('weekdays = "yes"', r"step 'bad': weekdays = 'yes' must be true or false"),
        ("skip_when_pasued = true", r"step 'bad': unknown setting 'skip_when_pasued'"),
        ('priority = "high"', r"step 'bad': priority = 'high' must be a whole number"),
        (
            'stop_on = "Left Programme"',
            r"step 'bad': stop_on = \['Left Programme'\] must be a list",
        ),
    ],
)
def test_a_bad_step_is_refused_with_the_file_and_step_named(tmp_path, step_lines, message):
    write_sequence(tmp_path, ONE_STEP + '\n[[step]]\nkey = "bad"\ntemplate = "x"\n' + step_lines)
    with pytest.raises(SequenceError, match=message):
        sequences.load("trial", tmp_path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            ONE_STEP + '\n[[step]]\nkey = "hello"\ntemplate = "again"\n',
            r"trial.toml: step 'hello': duplicate key",
        ),
        ('stream = "onboarding"\n[[step]]\ntemplate = "x"\n', r"trial.toml: step #1: needs a key"),
        ('stream = "onboarding"\n[[step]]\nkey = "x"\n', r"step 'x': needs a template"),
        ('[[step]]\nkey = "x"\ntemplate = "x"\n', r"step 'x': needs a stream"),
        ('name = "other"\n' + ONE_STEP, r"trial.toml: name = 'other' must match the file name"),
        ('stream = "onboarding"\n', r"trial.toml: has no steps"),
        ('stream = "onboarding"\n[[step]\n', r"trial.toml: not valid TOML"),
        ('at = "noon"\n' + ONE_STEP, r"trial.toml: at = 'noon' is not a time of day"),
        ('colour = "red"\n' + ONE_STEP, r"trial.toml: unknown setting 'colour'"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_message(tmp_path, body, message):
    write_sequence(tmp_path, body)
    with pytest.raises(SequenceError, match=message):
        sequences.load("trial", tmp_path)


def test_every_problem_in_a_file_is_listed_at_once(tmp_path):
    write_sequence(
        tmp_path,
        ONE_STEP + '\n[[step]]\nkey = "b"\ntemplate = "x"\nafter = "soon"\n'
        '\n[[step]]\nkey = "c"\ntemplate = "x"\nat = "noonish"\n',
    )
    with pytest.raises(SequenceError) as raised:
        sequences.load("trial", tmp_path)
    assert "step 'b'" in str(raised.value) and "step 'c'" in str(raised.value)


# -- send windows ----------------------------------------------------------------


MORNING = a_step(after=timedelta(days=1), at=time(9, 0))


def test_nine_oclock_stays_nine_oclock_in_berlin_when_the_clocks_go_forward():
    saturday_nine = local(BERLIN, 2027, 3, 27, 9, 0)  # CET, UTC+1
    sent = due_at(MORNING, anchor=saturday_nine, tz=BERLIN, not_before=saturday_nine)

    assert sent == utc(2027, 3, 28, 7, 0)  # CEST, UTC+2: only 23 hours later
    assert on_the_clock(sent, BERLIN) == "Sun 2027-03-28 09:00 CEST"


def test_a_week_across_the_change_lands_on_the_same_local_time():
    monday = local(BERLIN, 2027, 3, 22, 9, 0)
    weekly = a_step(after=timedelta(weeks=1), weekdays=True)
    sent = due_at(weekly, anchor=monday, tz=BERLIN, not_before=monday)
    assert on_the_clock(sent, BERLIN) == "Mon 2027-03-29 09:00 CEST"


@pytest.mark.parametrize(
    ("tz", "day", "at", "expected_utc", "expected_local"),
    [
        # 02:00-03:00 does not exist: the first valid instant after it is 03:00.
        (BERLIN, (2027, 3, 28), time(2, 30), utc(2027, 3, 28, 1, 0), "Sun 2027-03-28 03:00 CEST"),
        (NEW_YORK, (2027, 3, 14), time(2, 30), utc(2027, 3, 14, 7, 0), "Sun 2027-03-14 03:00 EDT"),
        (SYDNEY, (2027, 10, 3), time(2, 0), utc(2027, 10, 2, 16, 0), "Sun 2027-10-03 03:00 AEDT"),
        # 01:30 happens twice: the first one (still daylight time).
        (NEW_YORK, (2027, 11, 7), time(1, 30), utc(2027, 11, 7, 5, 30), "Sun 2027-11-07 01:30 EDT"),
        (SYDNEY, (2027, 4, 4), time(2, 30), utc(2027, 4, 3, 15, 30), "Sun 2027-04-04 02:30 AEDT"),
        # Ordinary mornings on the change days.
        (NEW_YORK, (2027, 3, 14), time(9, 0), utc(2027, 3, 14, 13, 0), "Sun 2027-03-14 09:00 EDT"),
        (NEW_YORK, (2027, 11, 7), time(9, 0), utc(2027, 11, 7, 14, 0), "Sun 2027-11-07 09:00 EST"),
        (SYDNEY, (2027, 4, 4), time(9, 0), utc(2027, 4, 3, 23, 0), "Sun 2027-04-04 09:00 AEST"),
        (SYDNEY, (2027, 10, 3), time(9, 0), utc(2027, 10, 2, 22, 0), "Sun 2027-10-03 09:00 AEDT"),
    ],
)
def test_windows_on_the_days_the_clocks_change(tz, day, at, expected_utc, expected_local):
    midnight = local(tz, *day, 0, 0)
    slot = next_window(at, False, tz, midnight)
    assert slot == expected_utc
    assert on_the_clock(slot, tz) == expected_local


def test_the_day_before_and_after_the_change_are_nine_oclock_too():
    step = a_step(after=timedelta(days=1))
    for tz, day in [(NEW_YORK, (2027, 3, 13)), (NEW_YORK, (2027, 11, 6)), (SYDNEY, (2027, 4, 3))]:
        anchor = local(tz, *day, 9, 0)
        first = due_at(step, anchor=anchor, tz=tz, not_before=anchor)
        second = due_at(step, anchor=first, tz=tz, not_before=first)
        assert on_the_clock(first, tz)[15:20] == "09:00"
        assert on_the_clock(second, tz)[15:20] == "09:00"
        assert second - anchor != timedelta(days=2)  # one of the two days had 23 or 25 hours


def test_an_ambiguous_time_already_passed_waits_for_the_next_day():
    after_first = utc(2027, 11, 7, 5, 45)  # 01:45 EDT; 01:30 EST is still to come
    slot = next_window(time(1, 30), False, NEW_YORK, after_first)
    assert on_the_clock(slot, NEW_YORK) == "Mon 2027-11-08 01:30 EST"


@pytest.mark.parametrize(
    ("confirmed", "expected"),
    [
        ((2027, 6, 4, 10, 0), "Mon 2027-06-07 09:00 CEST"),  # Friday, after the window
        ((2027, 6, 5, 8, 0), "Mon 2027-06-07 09:00 CEST"),  # Saturday
        ((2027, 6, 6, 23, 0), "Mon 2027-06-07 09:00 CEST"),  # Sunday night
        ((2027, 6, 7, 8, 59), "Mon 2027-06-07 09:00 CEST"),  # Monday, just before
        ((2027, 6, 7, 9, 0), "Mon 2027-06-07 09:00 CEST"),  # exactly on time
        ((2027, 6, 7, 9, 1), "Tue 2027-06-08 09:00 CEST"),  # a minute late
    ],
)
def test_weekday_windows_skip_saturday_and_sunday(confirmed, expected):
    welcome = a_step(weekdays=True)
    at = local(BERLIN, *confirmed)
    assert on_the_clock(due_at(welcome, anchor=at, tz=BERLIN, not_before=at), BERLIN) == expected


def test_without_weekdays_a_saturday_is_a_day_like_any_other():
    friday_late = local(BERLIN, 2027, 6, 4, 10, 0)
    slot = due_at(a_step(), anchor=friday_late, tz=BERLIN, not_before=friday_late)
    assert on_the_clock(slot, BERLIN) == "Sat 2027-06-05 09:00 CEST"


def test_a_person_who_moves_gets_nine_oclock_on_their_new_clock():
    step = a_step(after=timedelta(days=3), weekdays=True)
    anchor = utc(2027, 6, 7, 12, 0)

    in_berlin = due_at(step, anchor=anchor, tz=BERLIN, not_before=anchor)
    in_new_york = due_at(step, anchor=anchor, tz=NEW_YORK, not_before=anchor)

    assert in_berlin == utc(2027, 6, 11, 7, 0)
    assert in_new_york == utc(2027, 6, 10, 13, 0)
    assert on_the_clock(in_new_york, NEW_YORK) == "Thu 2027-06-10 09:00 EDT"


def test_a_pause_that_ends_late_holds_the_step_until_the_next_window():
    anchor = local(BERLIN, 2027, 6, 7, 9, 0)
    pause_ends = local(BERLIN, 2027, 7, 1, 15, 0)  # a Thursday afternoon
    step = a_step(after=timedelta(days=2), weekdays=True)
    slot = due_at(step, anchor=anchor, tz=BERLIN, not_before=pause_ends)
    assert on_the_clock(slot, BERLIN) == "Fri 2027-07-02 09:00 CEST"


def test_a_step_without_a_window_is_due_as_soon_as_it_may_be():
    anchor = utc(2027, 6, 5, 3, 17)
    step = a_step(after=timedelta(minutes=90), at=None, weekdays=True)
    assert due_at(step, anchor=anchor, tz=SYDNEY, not_before=anchor) == utc(2027, 6, 5, 4, 47)
    later = utc(2027, 6, 6, 0, 0)
    assert due_at(step, anchor=anchor, tz=SYDNEY, not_before=later) == later


def test_naive_times_and_unknown_zones_are_refused():
    with pytest.raises(ValueError, match="aware"):
        due_at(a_step(), anchor=datetime(2027, 1, 1), tz=BERLIN, not_before=utc(2027, 1, 1))
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        next_window(time(9), False, "Mars/Olympus", utc(2027, 1, 1))


def test_a_repeating_step_stops_after_max_repeats():
    step = a_step(repeat=timedelta(days=14), until="buddy_ended", max_repeats=2, weekdays=True)
    first = local(BERLIN, 2027, 6, 7, 9, 0)

    second = due_again_at(step, last_sent=first, times_sent=1, tz=BERLIN, not_before=first)
    third = due_again_at(step, last_sent=second, times_sent=2, tz=BERLIN, not_before=second)

    assert on_the_clock(second, BERLIN) == "Mon 2027-06-21 09:00 CEST"
    assert on_the_clock(third, BERLIN) == "Mon 2027-07-05 09:00 CEST"
    assert due_again_at(step, last_sent=third, times_sent=3, tz=BERLIN, not_before=third) is None
    assert (
        due_again_at(a_step(), last_sent=first, times_sent=1, tz=BERLIN, not_before=first) is None
    )


def test_first_step_starts_counting_from_the_start_and_later_ones_from_the_previous():
    started, previous = utc(2027, 1, 1), utc(2027, 1, 9)
    assert a_step().anchor(started_at=started, previous_at=None) == started
    assert a_step().anchor(started_at=started, previous_at=previous) == previous
    assert a_step(from_="start").anchor(started_at=started, previous_at=previous) == started


# -- editing a journey while people are in it ------------------------------------------


def test_removed_steps_are_skipped_and_added_steps_reach_those_who_have_not_passed_them(tmp_path):
    path = write_sequence(
        tmp_path,
        """
        stream = "onboarding"
        [[step]]
        key = "a"
        template = "x"
        [[step]]
        key = "b"
        template = "x"
        [[step]]
        key = "c"
        template = "x"
        [[step]]
        key = "d"
        template = "x"
    """,
    )
    before = sequences.load("trial", tmp_path)
    assert before.next_unpassed({"a", "b"}).key == "c"

    # The coordinator removes "c" and adds "new" between "a" and "b".
    path.write_text(
        textwrap.dedent("""
        stream = "onboarding"
        [[step]]
        key = "a"
        template = "x"
        [[step]]
        key = "new"
        template = "x"
        [[step]]
        key = "b"
        template = "x"
        [[step]]
        key = "d"
        template = "x"
    """)
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    after = sequences.load("trial", tmp_path)

    waiting_for_c = {"a", "b"}
    assert after.next_unpassed(waiting_for_c).key == "new"
    assert after.next_unpassed(waiting_for_c | {"new"}).key == "d"
    already_had_c = {"a", "b", "c"}
    assert after.next_unpassed(already_had_c).key == "new"
    just_started = {"a"}
    assert [s.key for s in _walk(after, just_started)] == ["new", "b", "d"]
    assert after.next_unpassed({"a", "new", "b", "c", "d"}) is None

    assert after.next_after("a").key == "new"
    assert after.next_after("d") is None
    assert after.step("c") is None
    with pytest.raises(SequenceError, match=r"trial.toml: no step 'c'.*next_unpassed"):
        after.next_after("c")


def _walk(sequence, passed):
    passed = set(passed)
    while (step := sequence.next_unpassed(passed)) is not None:
        passed.add(step.key)
        yield step


# -- checking content ------------------------------------------------------------


CHAMPION = {
    "first_name": "Amara",
    "name": "Amara Okafor",
    "organisation": "Riverside Housing Co-op",
    "organisation_kind": "Cooperative",
    "me_url": "https://hearth.example/me",
    "base_url": "https://hearth.example",
    "footer": {
        "reason": "You get this because you joined Hearth as a champion.",
        "links": [("Preferences", "https://hearth.example/me")],
    },
}


def render_problems(template: str) -> list[str]:
    try:
        rendered = render.render(template, CHAMPION)
    except render.TemplateError as error:
        return [str(error)]
    leftovers = [part for part in ("subject", "text", "html") if "{{" in getattr(rendered, part)]
    return [f"{part} still contains {{{{" for part in leftovers]


def test_the_real_content_passes_every_check():
    assert sequences.check(render_check=render_problems) == []


def test_every_onboarding_email_renders_short_warm_and_asks_for_a_reply():
    journey = sequences.load("onboarding")
    subjects = set()
    for step in journey.steps:
        email = render.render(step.template, CHAMPION)
        body = email.text.split("\n-- \n")[0]

        assert "{{" not in email.text and "{{" not in email.html, step.key
        assert "Amara" in body, step.key
        assert "Reply and tell me:" in body, step.key
        assert body.rstrip().endswith("— your coordinator at Hearth"), step.key
        assert 150 <= len(body.split()) <= 300, (step.key, len(body.split()))
        assert email.preheader, step.key
        assert "You get this because you joined Hearth" in email.text
        subjects.add(email.subject)
    assert len(subjects) == len(journey.steps)


def test_an_empty_organisation_name_reads_naturally():
    for step in sequences.load("onboarding").steps:
        email = render.render(step.template, {**CHAMPION, "organisation": ""})
        assert "  " not in email.subject and " ?" not in email.subject, step.key
    legitimacy = render.render("onboarding_legitimacy", {**CHAMPION, "organisation": ""})
    assert legitimacy.subject == "Who decides how your organisation decides?"


@pytest.mark.parametrize("confirmed_day", range(7))
def test_the_journey_spans_ten_weeks_of_weekday_mornings(confirmed_day):
    journey = sequences.load("onboarding")
    tz = NEW_YORK
    started = local(tz, 2027, 2, 1, 14, 30) + timedelta(days=confirmed_day)
    previous = None
    sends = []
    for step in journey.steps:
        anchor = step.anchor(started_at=started, previous_at=previous)
        previous = due_at(step, anchor=anchor, tz=tz, not_before=previous or started)
        sends.append(previous)

    for sent in sends:
        wall = sent.astimezone(ZoneInfo(tz))
        assert (wall.hour, wall.minute) == (9, 0) and wall.weekday() < 5
    assert sends[0] - started < timedelta(days=3, hours=19)  # the next weekday morning
    assert timedelta(weeks=9) <= sends[-1] - started <= timedelta(weeks=11)
    assert sends == sorted(sends) and len(set(sends)) == len(sends)


def test_check_reports_missing_templates_and_unknown_variables(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    journeys = tmp_path / "sequences"
    journeys.mkdir()
    (templates / "good.md").write_text(
        '+++\nsubject = "Hi {{ first_name }}"\n+++\nHello {{ first_name }}, {{ button("Go", me_url) }}\n'
    )
    (templates / "nosy.md").write_text('+++\nsubject = "Hi"\n+++\nYour salary is {{ salary }}.\n')
    (templates / "blank.md").write_text('+++\npreheader = "no subject"\n+++\nHello\n')
    (templates / "bare.md").write_text("Hello, no front matter\n")
    (templates / "broken.md").write_text('+++\nsubject = "Hi"\n+++\n{% if %}\n')
    write_sequence(
        journeys,
        """
        stream = "onboarding"
        [[step]]
        key = "hello"
        template = "good"
        [[step]]
        key = "gone"
        template = "deleted_last_week"
    """,
    )
    write_sequence(journeys, 'stream = "nope"\n[[step]]\nkey = "x"\ntemplate = "good"\n', "other")

    rendered = []
    problems = sequences.check(
        templates,
        directory=journeys,
        render_check=lambda name: rendered.append(name) or ["looks odd"],
    )

    assert rendered == ["good"]
    assert problems == [
        "other.toml: stream 'nope' is not one of buddy, circles, onboarding, surveys",
        "other.toml: step 'x': needs a stream (buddy, circles, onboarding, surveys), "
        "here or at the top of the file",
        f"trial.toml: step 'gone': no template 'deleted_last_week' "
        f"(looked for {templates / 'deleted_last_week.md'})",
        "bare.md: front matter between +++ lines is missing",
        'blank.md: front matter needs a subject = "..."',
        "broken.md: line 4: Expected an expression, got 'end of statement block'",
        "nosy.md: body uses {{ salary }}, which is not a known variable (known: "
        + ", ".join(sorted(sequences.KNOWN_VARIABLES))
        + "; add it to KNOWN_VARIABLES in emails/sequences.py if the engine provides it)",
        "good.md: looks odd",
    ]


def test_whole_days_count_on_the_clock_and_the_rest_is_elapsed_time():
    saturday_nine = local(BERLIN, 2027, 3, 27, 9, 0)
    assert sequences.add_on_clock(saturday_nine, timedelta(days=1), BERLIN) - saturday_nine == (
        timedelta(hours=23)
    )
    assert sequences.add_on_clock(saturday_nine, timedelta(hours=24), BERLIN) - saturday_nine == (
        timedelta(hours=23)  # "24 hours" is the same duration as "1 day": calendar days
    )
    assert sequences.add_on_clock(saturday_nine, timedelta(hours=20), BERLIN) - saturday_nine == (
        timedelta(hours=20)
    )
    second_half_past_one = utc(2027, 11, 7, 6, 30)  # 01:30 EST, the second one that night
    assert sequences.add_on_clock(second_half_past_one, timedelta(0), NEW_YORK) == (
        second_half_past_one
    )
