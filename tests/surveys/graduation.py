"""The graduation story's verbs: a champion with a buddy, the clock with the
surveys' tick wired in (as app.tick will call it), a survey link from an
email, and what was saved."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app import clock
from app.buddies import service as buddies
from app.extensions import db
from app.surveys import service as surveys
from app.surveys.models import SurveyAnswer, SurveyResponse
from tests.buddies.pairing import START, introduced_pair

# Ten weeks after START (Monday 1 March 2027, 10:00 Berlin): the onboarding is done.
TEN_WEEKS = datetime(2027, 5, 10, 9, 0, tzinfo=UTC)
SURVEY_LINK = re.compile(r"http://hearth\.test(/surveys/[A-Za-z0-9_.\-]+)(?:\?answer=(\d+|[a-z_-]+))?")


@pytest.fixture
def clock_with_surveys(monkeypatch):
    """app.tick.tick followed by surveys.tick_surveys, as the clock will run them."""
    import app.tick as ticking

    original = ticking.tick

    def tick():
        report = original()
        surveys.tick_surveys(clock.now())
        from app.outbox import service as outbox

        outbox.enqueue_pending()
        return report

    monkeypatch.setattr(ticking, "tick", tick)
    return tick


def champion_with_buddy(app, drain, checkins=("We met. energy: 4", "Second call, she ran a round.")):
    clock.set(START)
    pair = introduced_pair(app, drain)
    with app.app_context():
        for number, text in enumerate(checkins):
            author = pair.buddy_id if number % 2 == 0 else pair.champion_id
            buddies.record_checkin(pair.pair_id, author, text)
        db.session.commit()
    return pair


def travel_until(app, drain, smtp, *, to: str, subject: str, limit: datetime):
    """Travel a day at a time until an email arrives (the attention cap and
    the weekends decide the exact day); returns it."""
    from datetime import timedelta

    from tests.story import travel

    while clock.now() < limit:
        travel(app, drain, clock.now() + timedelta(days=1))
        found = [m for m in smtp.to(to) if subject in m.subject]
        if found:
            return found[0]
    raise AssertionError(f"no email to {to} with {subject!r} by {limit}")


def graduated(app, drain) -> tuple[object, str]:
    """A champion with a buddy whom a coordinator graduated; (pair, survey path)."""
    pair = champion_with_buddy(app, drain, checkins=())
    with app.app_context():
        surveys.graduate(pair.champion_id, how="coordinator")
        db.session.commit()
        invitation = surveys.invitations_of(pair.champion_id)[0]
        return pair, surveys.survey_url(invitation.id).removeprefix("http://hearth.test")


def links_in(received) -> dict[str, str]:
    """{answer: path} of the one-click links, and "" for the plain survey link."""
    return {answer or "": path + (f"?answer={answer}" if answer else "")
            for path, answer in SURVEY_LINK.findall(received.text)}


def saved(app) -> list[dict]:
    with app.app_context():
        found = []
        for response in db.session.scalars(select(SurveyResponse).order_by(SurveyResponse.id)):
            answers: dict = {}
            for row in db.session.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id == response.id)
                                          .order_by(SurveyAnswer.id)):
                value = row.number if row.number is not None else row.choice or row.text
                if row.question in answers:
                    answers[row.question] = [*([answers[row.question]] if not isinstance(
                        answers[row.question], list) else answers[row.question]), value]
                else:
                    answers[row.question] = value
            found.append({"survey": response.survey, "role": response.role, **answers})
        return found


def response_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(SurveyResponse.id)))
