"""The CLI twins of DESIGN.md: each prints what it did, or exits non-zero
with the reason."""

from __future__ import annotations

from tests.circles.conftest import emails_to, person, words

CREATE = ["circles", "create", "--name", "Riverside circle", "--timezone", "Europe/Berlin",
          "--rrule", "FREQ=MONTHLY;BYDAY=1TU", "--start", "2025-01-07T18:00", "--minutes", "90",
          "--url", "https://meet.example/riverside"]


def test_create_add_reschedule_and_cancel(app, runner, smtp, drain):
    person(app, "ada@example.org", "Ada Okafor", "America/New_York")
    made = runner.invoke(args=CREATE)
    assert made.exit_code == 0, made.output
    assert made.output.startswith("Created circle 1 'Riverside circle' (peer): FREQ=MONTHLY;BYDAY=1TU, "
                                  "90 minutes, Europe/Berlin, capacity 8. Next meetings: "
                                  "Tue 2025-01-07 18:00, Tue 2025-02-04 18:00, Tue 2025-03-04 18:00.")

    added = runner.invoke(args=["circles", "add-member", "Riverside circle", "ADA@example.org"])
    assert added.exit_code == 0, added.output
    assert "ada@example.org joined 'Riverside circle' (1 of 8); the invitation is on its way." in added.output

    moved = runner.invoke(args=["circles", "reschedule", "1", "--start", "2025-02-04T19:00"])
    assert moved.exit_code == 0, moved.output
    assert ("Riverside circle now meets from 2025-02-04 19:00 Europe/Berlin (FREQ=MONTHLY;BYDAY=1TU, "
            "90 minutes); sequence 1; 1 member(s) get an update; next meeting 2025-02-04 19:00.") in moved.output

    one = runner.invoke(args=["circles", "reschedule", "1", "--start", "2025-03-06T19:00",
                              "--meeting", "2025-03-04"])
    assert one.exit_code == 0, one.output
    assert "The meeting of 2025-03-04 of 'Riverside circle' moves to 2025-03-06 19:00 Europe/Berlin" in one.output

    cancelled = runner.invoke(args=["circles", "cancel-meeting", "Riverside circle", "2025-04-01"])
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.output.startswith("Cancelled the meeting of 'Riverside circle' on 2025-04-01 19:00 "
                                       "Europe/Berlin; 1 member(s) get a cancellation.")
    drain()
    subjects = [" ".join(m.subject.split()) for m in smtp.to("ada@example.org")]
    assert subjects == [
        "Your support circle: Riverside circle",
        "Updated: Riverside circle",
        "Updated: Riverside circle",
        "Cancelled: Riverside circle on Tuesday 1 April 2025, 13:00-14:30 (America/New_York)",
    ]
    assert "the circle meets at 19:00 (Europe/Berlin)" in words(emails_to(smtp, "ada@example.org", "Updated")[0])


def create_with(option: str, value: str) -> list[str]:
    args = list(CREATE)
    args[args.index(option) + 1] = value
    return args


def test_each_command_says_why_it_cannot(app, runner):
    person(app, "ada@example.org", "Ada Okafor")
    cases = [
        (create_with("--url", "meet.example"), "is not a video-call link; give a full https:// address"),
        (create_with("--timezone", "Mars/Olympus"), "'Mars/Olympus' is not a time zone"),
        (create_with("--start", "2025-01-08T18:00"),
         "start 2025-01-08 18:00 is not a meeting of FREQ=MONTHLY;BYDAY=1TU; the first one after it is 2025-02-04 18:00"),
        (create_with("--rrule", "FREQ=SOMETIMES"), "FREQ=SOMETIMES"),
        (create_with("--start", "next tuesday"), "is not an ISO 8601 time"),
        (create_with("--start", "2024-12-03T18:00"), "has passed; give a time in the future"),
        (["circles", "add-member", "Nowhere", "ada@example.org"], "No circle with the id or name 'Nowhere'."),
    ]
    for args, reason in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0, (args, result.output)
        assert reason in result.output, (args, result.output)

    assert runner.invoke(args=CREATE + ["--capacity", "2"]).exit_code == 0
    duplicate = runner.invoke(args=CREATE)
    assert duplicate.exit_code != 0 and "There is already a circle named 'Riverside circle'." in duplicate.output
    unknown = runner.invoke(args=["circles", "add-member", "1", "nobody@example.org"])
    assert unknown.exit_code != 0 and "No confirmed person with the address nobody@example.org." in unknown.output
    assert runner.invoke(args=["circles", "add-member", "1", "ada@example.org"]).exit_code == 0
    person(app, "ben@example.org", "Ben Carter")
    person(app, "cleo@example.org", "Cleo Diaz")
    assert runner.invoke(args=["circles", "add-member", "1", "ben@example.org"]).exit_code == 0
    full = runner.invoke(args=["circles", "add-member", "1", "cleo@example.org"])
    assert full.exit_code != 0 and "Riverside circle is full (2 of 2)" in full.output

    no_meeting = runner.invoke(args=["circles", "cancel-meeting", "1", "2025-03-05"])
    assert no_meeting.exit_code != 0
    assert "Riverside circle does not meet on 2025-03-05; meetings near it: 2025-02-04, 2025-03-04, 2025-04-01" in no_meeting.output
    assert runner.invoke(args=["circles", "cancel-meeting", "1", "2025-03-04"]).exit_code == 0
    twice = runner.invoke(args=["circles", "cancel-meeting", "1", "2025-03-04"])
    assert twice.exit_code != 0 and "The meeting of 2025-03-04 is already cancelled." in twice.output
    bad_day = runner.invoke(args=["circles", "cancel-meeting", "1", "March"])
    assert bad_day.exit_code != 0 and "'March' is not a date like 2027-04-06." in bad_day.output
    bad_rule = runner.invoke(args=["circles", "reschedule", "1", "--start", "2025-02-06T18:00"])
    assert bad_rule.exit_code != 0 and "is not a meeting of FREQ=MONTHLY;BYDAY=1TU" in bad_rule.output
