"""Before each meeting: the facilitator's prep two days before, each member's
reminder the day before at 09:00 on their own clock; nothing for a cancelled
meeting; each email once, however often the clock ticks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from app.accounts.models import Person
from app.circles import service as circles
from app.extensions import db
from tests.circles.conftest import circle, emails_to, join, person, run, send, tick_at, words
from tests.forms import csrf_token

ADDRESSES = ("ada@example.org", "ben@example.org", "kei@example.org", "fay@example.org")


def received(smtp, subject: str) -> dict[str, int]:
    return {a: len(emails_to(smtp, a, subject)) for a in ADDRESSES if emails_to(smtp, a, subject)}


def test_prep_two_days_before_and_reminders_the_day_before_at_nine_local(app, smtp, drain, client):
    ada = person(app, "ada@example.org", "Ada Okafor", "Europe/Berlin")
    ben = person(app, "ben@example.org", "Ben Carter", "America/New_York")
    kei = person(app, "kei@example.org", "Kei Tanaka", "Asia/Tokyo")
    person(app, "fay@example.org", "Fay Facilitator", "Europe/Berlin")
    circle_id = circle(app, facilitator_email="fay@example.org")
    join(app, circle_id, ada, ben, kei)
    send(app, drain)

    # The meeting of Tuesday 4 February, 18:00 Berlin (17:00 UTC).
    tick_at(app, drain, datetime(2025, 2, 2, 7, 59, tzinfo=UTC))
    assert received(smtp, "You facilitate") == {}
    tick_at(app, drain, datetime(2025, 2, 2, 8, 0, tzinfo=UTC))  # Sunday 09:00 in Berlin
    assert received(smtp, "You facilitate") == {"fay@example.org": 1}
    (prep,) = emails_to(smtp, "fay@example.org", "You facilitate")
    text = words(prep)
    assert " ".join(prep.subject.split()) == ("You facilitate Riverside circle on Tuesday 4 February 2025, "
                            "18:00-19:30 (Europe/Berlin)")
    for item in ("Check-in round", "One member's situation", "Consent round on a next step", "Check-out round"):
        assert item in text
    assert "Ada Okafor (no answer yet)" in text and "Kei Tanaka (no answer yet)" in text
    assert "It is Ben Carter's turn to bring their situation" in text
    assert prep.message["Reply-To"].addresses[0].addr_spec.startswith(f"reply+c{circle_id}-")

    tick_at(app, drain, datetime(2025, 2, 3, 7, 59, tzinfo=UTC))
    assert received(smtp, "Tomorrow") == {}
    tick_at(app, drain, datetime(2025, 2, 3, 8, 0, tzinfo=UTC))  # Monday 09:00 in Berlin
    assert received(smtp, "Tomorrow") == {"ada@example.org": 1}
    tick_at(app, drain, datetime(2025, 2, 3, 14, 0, tzinfo=UTC))  # Monday 09:00 in New York
    assert received(smtp, "Tomorrow") == {"ada@example.org": 1, "ben@example.org": 1}
    tick_at(app, drain, datetime(2025, 2, 3, 23, 59, tzinfo=UTC))
    assert "kei@example.org" not in received(smtp, "Tomorrow")
    tick_at(app, drain, datetime(2025, 2, 4, 0, 0, tzinfo=UTC))  # Tuesday 09:00 in Tokyo: Wed 02:00 meeting
    tick_at(app, drain, datetime(2025, 2, 4, 12, 0, tzinfo=UTC))
    assert received(smtp, "Tomorrow") == {"ada@example.org": 1, "ben@example.org": 1, "kei@example.org": 1}
    assert received(smtp, "You facilitate") == {"fay@example.org": 1}

    (ben_reminder,) = emails_to(smtp, "ben@example.org", "Tomorrow")
    assert " ".join(ben_reminder.subject.split()) == "Tomorrow: Riverside circle, Tuesday 4 February 2025, 12:00-13:30 (America/New_York)"
    (kei_reminder,) = emails_to(smtp, "kei@example.org", "Tomorrow")
    assert "Wednesday 5 February 2025, 02:00-03:30 (Asia/Tokyo)" in " ".join(kei_reminder.subject.split())
    text = words(ben_reminder)
    assert "Join the call: https://meet.example/riverside" in text
    assert "1. Check-in round" in text and "4. Check-out round" in text
    assert "Fay Facilitator facilitates" in text
    yes = re.search(r"Yes: http://hearth\.test(/circles/rsvp/\S+\?answer=yes)", text).group(1)

    # The link shows a button; pressing it records the answer for that meeting.
    page = client.get(yes)
    assert "Press <strong>Yes</strong> to confirm" in page.get_data(as_text=True)
    client.post(yes.split("?")[0], data={"answer": "yes", "csrf_token": csrf_token(client, yes)})
    again = client.get(yes).get_data(as_text=True)
    assert "You said <strong>yes</strong> so far" in again


def test_a_cancelled_meeting_gets_no_reminder_and_no_prep(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    person(app, "fay@example.org", "Fay Facilitator")
    circle_id = circle(app, facilitator_email="fay@example.org")
    join(app, circle_id, ada)
    run(app, lambda: circles.cancel_meeting(circle_id, date(2025, 3, 4)))
    moment = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    while moment < datetime(2025, 3, 4, 18, 0, tzinfo=UTC):
        tick_at(app, drain, moment)
        moment += timedelta(hours=6)
    assert received(smtp, "Tomorrow") == {} and received(smtp, "You facilitate") == {}
    assert received(smtp, "Cancelled") == {"ada@example.org": 1}
    # ...and the next meeting is reminded as usual.
    tick_at(app, drain, datetime(2025, 3, 31, 8, 0, tzinfo=UTC))
    tick_at(app, drain, datetime(2025, 4, 1, 7, 0, tzinfo=UTC))  # 09:00 in Berlin, summer time
    assert received(smtp, "Tomorrow") == {"ada@example.org": 1}
    assert received(smtp, "You facilitate") == {"fay@example.org": 1}


def test_a_paused_member_gets_no_reminder(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    ben = person(app, "ben@example.org", "Ben Carter")
    circle_id = circle(app)
    join(app, circle_id, ada, ben)
    with app.app_context():
        db.session.get(Person, ben).paused_until = date(2025, 3, 1)
        db.session.commit()
    tick_at(app, drain, datetime(2025, 2, 3, 8, 0, tzinfo=UTC))
    assert received(smtp, "Tomorrow") == {"ada@example.org": 1}


def test_facilitation_rotates_among_willing_members(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    ben = person(app, "ben@example.org", "Ben Carter")
    kei = person(app, "kei@example.org", "Kei Tanaka", "Europe/Berlin")
    circle_id = circle(app)
    join(app, circle_id, ada, ben, kei)
    run(app, lambda: circles.set_facilitation(circle_id, None, rotates=True))
    run(app, lambda: circles.set_willing(circle_id, ada, True))
    run(app, lambda: circles.set_willing(circle_id, ben, True))
    tick_at(app, drain, datetime(2025, 2, 2, 8, 0, tzinfo=UTC))
    tick_at(app, drain, datetime(2025, 3, 2, 8, 0, tzinfo=UTC))
    tick_at(app, drain, datetime(2025, 3, 30, 8, 0, tzinfo=UTC))
    tick_at(app, drain, datetime(2025, 5, 4, 7, 0, tzinfo=UTC))
    preps = [(re.search(r" on \w+ (\d+ \w+)", m.subject).group(1), m.rcpt_tos[0])
             for m in smtp.messages if m.subject.startswith("You facilitate")]
    assert preps == [
        ("4 February", "ben@example.org"),
        ("4 March", "ada@example.org"),
        ("1 April", "ben@example.org"),
        ("6 May", "ada@example.org"),
    ]


def test_a_member_who_said_no_is_not_reminded(app, smtp, drain):
    from app.circles import rsvps

    ada = person(app, "ada@example.org", "Ada Okafor")
    ben = person(app, "ben@example.org", "Ben Carter")
    circle_id = circle(app)
    join(app, circle_id, ada, ben)
    feb_4 = datetime(2025, 2, 4, 17, 0, tzinfo=UTC)
    run(app, lambda: rsvps.upsert(circle_id, ben, feb_4, "DECLINED", via="link",
                                  answered_at=datetime(2025, 1, 20, tzinfo=UTC)))
    tick_at(app, drain, datetime(2025, 2, 3, 8, 0, tzinfo=UTC))
    assert received(smtp, "Tomorrow") == {"ada@example.org": 1}


def test_joining_on_the_day_brings_no_late_reminder(app, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    circle_id = circle(app)
    tick_at(app, drain, datetime(2025, 2, 3, 20, 30, tzinfo=UTC))  # Monday 21:30 in Berlin
    join(app, circle_id, ada)
    tick_at(app, drain, datetime(2025, 2, 4, 8, 0, tzinfo=UTC))
    assert received(smtp, "Tomorrow") == {}
    assert received(smtp, "Your support circle") == {"ada@example.org": 1}


def test_a_broken_circle_does_not_hold_back_the_others(app, smtp, drain):
    from app.circles.models import Circle

    ada = person(app, "ada@example.org", "Ada Okafor")
    ben = person(app, "ben@example.org", "Ben Carter")
    join(app, circle(app, name="Fine"), ada)
    broken = circle(app, name="Broken")
    join(app, broken, ben)
    with app.app_context():  # say, a hand edit in the database
        db.session.get(Circle, broken).rrule = "FREQ=NONSENSE"
        db.session.commit()
    tick_at(app, drain, datetime(2025, 2, 3, 8, 0, tzinfo=UTC))
    assert received(smtp, "Tomorrow") == {"ada@example.org": 1}
