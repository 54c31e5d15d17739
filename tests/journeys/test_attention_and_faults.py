"""The attention cap across journeys, and faults: Redis lost, ticks racing."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app import clock
from app.accounts.models import Person
from app.extensions import db
from app.journeys import service as journeys
from app.outbox.models import Delivery
from app.tick import tick
from emails import sequences
from tests.forms import client_from
from tests.story import signed_up_champion, travel

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

BUSY = """
name = "busy"
stream = "buddy"
at = "09:00"
weekdays = true

[[step]]
key = "one"
template = "onboarding_consent"
after = "0 days"
from = "start"

[[step]]
key = "two"
template = "onboarding_legitimacy"
after = "1 day"

[[step]]
key = "three"
template = "onboarding_first_experiment"
after = "1 day"
"""


@pytest.fixture
def two_journeys(client, smtp, drain, app, tmp_path, monkeypatch):
    """Onboarding plus a busier buddy journey, both starting at once."""
    folder = tmp_path / "sequences"
    folder.mkdir()
    (folder / "onboarding.toml").write_text((sequences.SEQUENCES / "onboarding.toml").read_text())
    (folder / "busy.toml").write_text(BUSY)
    monkeypatch.setattr(sequences, "SEQUENCES", folder)
    clock.set(START)
    signed_up_champion(client, smtp, drain)
    with app.app_context():
        person = Person.by_email("ada@example.org")
        journeys.start_journey(person.id, "busy")
        db.session.commit()
    return person


def programme_mail(smtp):
    return [m for m in smtp.to("ada@example.org") if "List-Unsubscribe" in m.message]


def test_the_cap_holds_when_journeys_fall_due_together(two_journeys, smtp, drain, app, runner):
    travel(app, drain, START + timedelta(weeks=4))
    sent = sorted(
        (parsedate_to_datetime(m.message["Date"]).astimezone(BERLIN), m.message["List-Id"])
        for m in programme_mail(smtp)
    )
    days = [t.date() for t, _ in sent]
    assert len(days) == len(set(days)), "two programme emails on one day"
    for i, (t, _) in enumerate(sent):
        in_week = [u for u, _ in sent if t <= u < t + timedelta(days=7)]
        assert len(in_week) <= 3, (i, in_week)
        assert (t.hour, t.minute) == (9, 0) and t.weekday() < 5
    # Buddy steps go before onboarding when both are due at once.
    assert "buddy" in sent[0][1]
    # The wait is visible on the Delivery rows and in the export.
    with app.app_context():
        held = db.session.scalars(select(Delivery).where(Delivery.held_reason.is_not(None))).all()
        assert held and all(d.next_attempt_at > d.due_at for d in held)
    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["export", "deliveries"]).output)))
    assert any("programme email" in r["held_reason"] for r in rows)


def test_sign_in_links_are_exempt_from_the_cap(two_journeys, smtp, drain, app, client):
    from tests.forms import submit

    travel(app, drain, START + timedelta(days=1, hours=1))  # the day's programme email went out
    fresh = app.test_client()
    submit(fresh, "/login", {"email": "ada@example.org"})
    drain()
    assert smtp.to("ada@example.org")[-1].subject == "Your sign-in link for Hearth"


def test_redis_flushed_mid_journey_loses_nothing_and_doubles_nothing(client, smtp, drain, app, redis):
    clock.set(START)
    signed_up_champion(client, smtp, drain)
    travel(app, drain, START + timedelta(days=8))
    with app.app_context():
        clock.set(START + timedelta(days=10, hours=8))  # the third step is due
        tick()  # writes the Delivery and enqueues its send...
    redis.flushdb()  # ...which is lost
    drain()
    assert len(programme_mail(smtp)) == 2
    travel(app, drain, START + timedelta(weeks=11))
    subjects = [m.subject for m in programme_mail(smtp) if "onboarding" in m.message["List-Id"]]
    assert len(subjects) == len(set(subjects)) == 10


def test_a_tick_repeated_writes_nothing_new(client, smtp, drain, app):
    clock.set(START)
    signed_up_champion(client, smtp, drain)
    clock.set(START + timedelta(days=1, hours=1))
    with app.app_context():
        first = tick()
        second = tick()
        assert (first.journeys.written, second.journeys.written) == (1, 0)


@pytest.mark.parametrize("racers", [2, 4])
def test_ticks_racing_in_threads_write_each_delivery_once(client, smtp, drain, app, racers):
    clock.set(START)
    for i in range(12):
        signed_up_champion(client_from(app, f"10.9.0.{i + 1}"), smtp, drain, email=f"c{i}@example.org")
    clock.set(START + timedelta(days=1, hours=1))
    barrier = threading.Barrier(racers)
    errors: list[BaseException] = []

    def race():
        try:
            with app.app_context():
                barrier.wait()
                tick()
                db.session.remove()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    drain()
    with app.app_context():
        welcome = db.session.scalar(
            select(func.count(Delivery.id)).where(Delivery.template == "onboarding_welcome")
        )
        assert welcome == 12
    for i in range(12):
        assert len([m for m in smtp.to(f"c{i}@example.org") if "List-Unsubscribe" in m.message]) == 1


def test_a_stop_event_ends_the_journey(client, smtp, drain, app):
    clock.set(START)
    signed_up_champion(client, smtp, drain)
    with app.app_context():
        person = Person.by_email("ada@example.org")
        assert journeys.record_event(person.id, "left_programme") == 1
        db.session.commit()
    travel(app, drain, START + timedelta(weeks=3))
    assert programme_mail(smtp) == []
