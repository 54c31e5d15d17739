"""Who graduates when (the clock's rule), the journey in numbers, the CLI
twins, and what stays of the answers when a graduate deletes their account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app import clock
from app.accounts import service as accounts
from app.circles import service as circles
from app.circles.models import Rsvp
from app.extensions import db
from app.journeys.models import Journey
from app.surveys import service as surveys
from app.surveys.models import Graduation, SurveyInvitation, SurveyResponse
from tests.admin.dashboard import person
from tests.buddies.pairing import make_champion

NOW = datetime(2027, 6, 1, 10, 0, tzinfo=UTC)


def _due(app) -> list[int]:
    with app.app_context():
        return surveys.due_graduations(clock.now())


def test_the_clock_graduates_champions_whose_journey_has_ended(app):
    clock.set(NOW - timedelta(weeks=10, days=1))
    done = person(app, "done@example.org")
    still_reading = person(app, "reading@example.org")
    coordinator = person(app, "cora@example.org", coordinator=True)
    clock.set(NOW - timedelta(weeks=9))
    person(app, "recent@example.org")
    with app.app_context():
        db.session.add(Journey(person_id=still_reading, sequence="onboarding", state="active",
                               started_at=NOW - timedelta(weeks=10), passed=[], params={}))
        db.session.add(Journey(person_id=done, sequence="onboarding", state="completed",
                               started_at=NOW - timedelta(weeks=10), passed=[], params={}))
        db.session.commit()
    clock.set(NOW)
    assert _due(app) == [done]
    with app.app_context():
        report = surveys.tick_surveys(NOW)
        assert str(report) == "1 champions graduated"
        assert db.session.scalar(select(Graduation.person_id)) == done
        assert coordinator not in surveys.due_graduations(NOW)
    assert _due(app) == []  # graduating twice changes nothing


def test_the_journey_in_numbers(app, drain):
    from tests.buddies.pairing import START, introduced_pair

    clock.set(START)
    pair = introduced_pair(app, drain)
    with app.app_context():
        from app.buddies import service as buddies

        for text in ("first", "second", "third"):
            buddies.record_checkin(pair.pair_id, pair.buddy_id, text)
        circle = circles.create_circle(name="Riverside circle", timezone="Europe/Berlin",
                                       rrule="FREQ=MONTHLY;BYDAY=1TU", start=datetime(2027, 3, 2, 18, 0),
                                       minutes=90, url="https://meet.example/riverside")
        circles.add_member(circle.id, pair.champion_id)
        db.session.commit()
        # Yes to the April meeting, no to May's, nothing for June's; July's is still ahead.
        for day, answer in ((6, "ACCEPTED"), (4, "DECLINED")):
            month = 4 if day == 6 else 5
            db.session.add(Rsvp(circle_id=circle.id, person_id=pair.champion_id, via="link",
                                occurrence_start=datetime(2027, month, day, 16, 0, tzinfo=UTC),
                                partstat=answer, answered_at=START))
        db.session.commit()
        champion = db.session.get(accounts.Person, pair.champion_id)
        summary = surveys.journey_summary(champion, datetime(2027, 6, 20, tzinfo=UTC))
        assert (summary.weeks, summary.checkin_count, summary.meetings_attended, summary.buddy_first_name) == (
            15, 3, 1, "Sam")


def test_the_cli_twins(app, runner, drain):
    make_champion(app)
    result = runner.invoke(args=["surveys", "graduate", "ada@example.org"])
    assert result.exit_code == 0, result.output
    assert "ada@example.org graduated on" in result.output and "0 check-ins" in result.output
    again = runner.invoke(args=["surveys", "graduate", "nobody@example.org"])
    assert again.exit_code != 0 and "No one with the address nobody@example.org" in again.output
    with app.app_context():
        invitation = db.session.scalar(select(SurveyInvitation))
        surveys.submit(invitation, {"helped": 5, "recommend": 10, "proud_of": "We did it."})
        db.session.commit()
    shown = runner.invoke(args=["surveys", "results", "graduation"]).output
    assert "1 responses of 1 invited (100%)" in shown
    assert "5 (a great deal): 1" in shown and "net promoter score: +100" in shown and "We did it." in shown
    assert runner.invoke(args=["surveys", "results", "nope"]).exit_code != 0
    assert "0 champions graduated" in runner.invoke(args=["surveys", "tick"]).output


def test_a_graduate_who_deletes_their_account_leaves_anonymous_answers(app):
    ada = make_champion(app)
    with app.app_context():
        surveys.graduate(ada, how="reply")
        invitation = db.session.scalar(select(SurveyInvitation))
        surveys.submit(invitation, {"helped": 4})
        db.session.commit()
        accounts.delete_account(ada)
        db.session.commit()
        response = db.session.scalar(select(SurveyResponse))
        assert (response.person_id, response.invitation_id, response.survey) == (None, None, "graduation")
        assert db.session.scalar(select(Graduation)) is None
        assert db.session.scalar(select(SurveyInvitation)) is None


def test_only_a_confirmed_champion_graduates(app, runner):
    buddy = person(app, "sam@example.org", champion=False)
    with app.app_context():
        try:
            surveys.graduate(buddy, how="coordinator")
        except surveys.NotAChampion as error:
            assert "is not a confirmed champion" in str(error)
        else:
            raise AssertionError("a buddy graduated")
