"""Placement: a circle whose meetings fall in the person's waking hours on
their own clock, with room (proposals hold a place), preferring their cohort;
coordinators confirm or change it, or switch on automatic placement; a
person asks for a recovery circle by replying `circle`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app import clock
from app.accounts.models import Person
from app.circles import service as circles
from app.circles.models import Placement
from app.extensions import db
from tests.circles.conftest import circle, emails_to, join, person, run, send, tick_at, words
from tests.inbound.conftest import send_programme_email
from tests.inbound.mail import reply_from


def propose(app, person_id: int, **options) -> tuple[str | None, str]:
    def action():
        proposal = circles.propose_placement(person_id, **options)
        return (proposal.circle.name if proposal.circle_id else None), proposal.reason

    return run(app, action)


def test_a_circle_in_waking_hours_with_room(app):
    evening = circle(app, name="Evening", start=datetime(2025, 1, 7, 18, 0), capacity=2)
    circle(app, name="Morning", start=datetime(2025, 1, 7, 9, 0))
    ada = person(app, "ada@example.org", "Ada Okafor", "Europe/Berlin")
    ben = person(app, "ben@example.org", "Ben Carter", "Europe/Berlin")
    kei = person(app, "kei@example.org", "Kei Tanaka", "Asia/Tokyo")
    nia = person(app, "nia@example.org", "Nia Brooks", "America/New_York")

    # Berlin: both fit; the sooner meeting wins (Tuesday 09:00 before 18:00).
    assert propose(app, ada)[0] == "Morning"
    # Tokyo: Berlin's 18:00 is 02:00 there; Berlin's 09:00 is 17:00 (16:00 in summer).
    name, reason = propose(app, kei)
    assert name == "Morning"
    assert "next meeting Tuesday 7 January 2025, 17:00-18:30 (Asia/Tokyo)" in reason
    # New York: 09:00 Berlin is 03:00; the evening circle is at noon but fills up.
    join(app, evening, ben)
    assert propose(app, nia)[0] == "Evening"  # the proposal holds the last place
    lou = person(app, "lou@example.org", "Lou Ortiz", "America/New_York")
    name, reason = propose(app, lou)
    assert name is None
    assert "Evening is full (2 of 2)" in reason
    assert "Morning meets Tue 7 Jan 03:00-04:30 on their clock (America/New_York)" in reason

    # Nia's proposal is dismissed: her place is free again, and Lou gets it.
    with app.app_context():
        nia_proposal = db.session.scalar(select(Placement).where(Placement.person_id == nia))
        circles.dismiss_placement(nia_proposal.id)
        db.session.commit()
    assert propose(app, lou)[0] == "Evening"


def test_a_meeting_that_ends_after_nine_pm_does_not_fit(app):
    circle(app, name="Late", start=datetime(2025, 1, 7, 19, 45), minutes=90)  # ends 21:15
    ada = person(app, "ada@example.org", "Ada Okafor")
    name, reason = propose(app, ada)
    assert name is None and "Late meets Tue 7 Jan 19:45-21:15" in reason


def test_their_cohort_s_circle_comes_first(app):
    ada = person(app, "ada@example.org", "Ada Okafor", cohort="2025-01")
    circle(app, name="Soon")
    circle(app, name="January cohort", purpose="cohort", cohort="2025-01",
           start=datetime(2025, 2, 4, 18, 0))
    ben = person(app, "ben@example.org", "Ben Carter", cohort="2024-12")
    name, reason = propose(app, ada)
    assert name == "January cohort" and reason.endswith("their cohort's circle.")
    assert propose(app, ben)[0] == "Soon"  # another cohort's circle is not for Ben


def test_a_coordinator_confirms_or_changes_the_proposal(app, runner, smtp, drain):
    circle(app, name="Morning", start=datetime(2025, 1, 7, 9, 0))
    circle(app, name="Evening")
    ada = person(app, "ada@example.org", "Ada Okafor")
    assert propose(app, ada)[0] == "Morning"
    listed = runner.invoke(args=["circles", "placements"])
    assert "ada@example.org\tplacement\tMorning\t" in listed.output
    placed = runner.invoke(args=["circles", "place", "ada@example.org", "--circle", "Evening"])
    assert placed.exit_code == 0, placed.output
    assert "ada@example.org joined 'Evening'" in placed.output
    drain()
    assert emails_to(smtp, "ada@example.org", "Your support circle: Evening")
    with app.app_context():
        proposal = db.session.scalar(select(Placement))
        assert (proposal.status, proposal.circle.name) == ("confirmed", "Evening")
    again = runner.invoke(args=["circles", "add-member", "Evening", "ada@example.org"])
    assert again.exit_code != 0 and "already a member of Evening" in again.output


def test_automatic_placement_and_the_champion_s_turn(app, runner, smtp, drain):
    """Four weeks after confirming, the clock proposes; with automatic placement on, they join."""
    circle(app, name="Evening", start=datetime(2025, 3, 4, 18, 0))
    ada = person(app, "ada@example.org", "Ada Okafor")
    assert runner.invoke(args=["circles", "auto-placement", "on"]).output.startswith(
        "Automatic circle placement is on.")
    tick_at(app, drain, clock.now() + timedelta(days=27))
    assert emails_to(smtp, "ada@example.org") == []
    tick_at(app, drain, datetime(2025, 1, 30, 9, 31, tzinfo=UTC))
    (invite,) = emails_to(smtp, "ada@example.org", "Your support circle: Evening")
    assert "Tuesday 4 March 2025, 18:00-19:30 (Europe/Berlin)" in words(invite)
    tick_at(app, drain, datetime(2025, 1, 31, 9, 31, tzinfo=UTC))
    assert len(emails_to(smtp, "ada@example.org")) == 1
    with app.app_context():
        assert [c.name for c in circles.circles_of(ada)] == ["Evening"]


def test_replying_circle_asks_for_a_recovery_circle(app, inbound, smtp, drain):
    circle(app, name="Evening")  # not a recovery circle: never proposed for this
    circle(app, name="Ember", purpose="recovery", start=datetime(2025, 1, 8, 19, 0),
           rrule="FREQ=MONTHLY;BYDAY=2WE")
    ada = person(app, "ada@example.org", "Ada Okafor")
    sent = send_programme_email(app, smtp, drain, ada)
    response = inbound.post(reply_from("ada@example.org", sent, "circle"))
    assert response.status_code == 202
    drain()
    from app.inbound.models import InboundMessage

    with app.app_context():
        message = db.session.get(InboundMessage, response.get_json()["id"])
        assert message.status == "processed", message.reason
        assert message.reason.startswith("command circle: recovery circle request ")
        assert message.reason.endswith(": Ember proposed to the coordinators")
        proposal = db.session.scalar(select(Placement))
        assert (proposal.kind, proposal.via, proposal.circle.name) == ("recovery", "reply", "Ember")
    send(app, drain)
    (confirmation,) = emails_to(smtp, "ada@example.org", "recovery circle")
    assert confirmation.subject == "We have your request for a recovery circle"
    assert "A coordinator has your request" in words(confirmation)


def test_with_automatic_placement_the_recovery_circle_invites_at_once(app, smtp, drain):
    circle(app, name="Ember", purpose="recovery")
    ada = person(app, "ada@example.org", "Ada Okafor")
    run(app, lambda: circles.set_auto_placement(True))
    outcome = run(app, lambda: circles.request_recovery_circle(ada))
    assert outcome.endswith(": placed in Ember")
    send(app, drain)
    assert emails_to(smtp, "ada@example.org", "Your recovery circle: Ember")
    assert emails_to(smtp, "ada@example.org", "Your support circle: Ember")
    assert run(app, lambda: circles.request_recovery_circle(ada)) == (
        "command circle: already in the recovery circle Ember")
    with app.app_context():
        assert db.session.get(Person, ada).status == "active"
