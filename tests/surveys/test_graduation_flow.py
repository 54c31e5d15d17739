"""Graduation end to end over the real SMTP server: after ten weeks the
champion gets a thank-you with their journey in numbers and the first
question as one-click answers; a click only opens the survey (scanners click
too), Submit saves; reminders come three and seven days later, none after an
answer; the buddy gets their own survey; yes to becoming a buddy leads to a
filled-in application. Replying "graduate" graduates early."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.journeys.models import Journey
from app.outbox.models import Delivery
from app.surveys.models import Graduation
from tests.forms import csrf_token
from tests.inbound.mail import reply_from
from tests.story import travel
from tests.surveys.graduation import (
    TEN_WEEKS,
    champion_with_buddy,
    clock_with_surveys,  # noqa: F401 - a fixture
    graduated,
    links_in,
    response_count,
    saved,
    travel_until,
)

BERLIN = ZoneInfo("Europe/Berlin")
THANKS = "10 weeks on: thank you"
BUDDY_SURVEY = "Ada graduates: how did your pairing go?"
REMINDER = "A reminder: Looking back on your Hearth journey"
LAST = "Last reminder: Looking back on your Hearth journey"


def sent_at(received):
    return parsedate_to_datetime(received.message["Date"]).astimezone(BERLIN)


def emails(smtp, address, subject):
    return [m for m in smtp.to(address) if subject in m.subject]


def test_graduation_one_click_answer_reminders_and_the_buddy_survey(
        app, client, smtp, drain, clock_with_surveys, monkeypatch):  # noqa: F811
    # The weekly attention cap may push a survey email (the least urgent) by a
    # few days; here it stays out of the way so the days can be checked.
    monkeypatch.setitem(app.config, "ATTENTION_MAX_PER_WEEK", 7)
    champion_with_buddy(app, drain)
    travel(app, drain, TEN_WEEKS - timedelta(days=1))
    assert emails(smtp, "ada@example.org", THANKS) == []
    thanks = travel_until(app, drain, smtp, to="ada@example.org", subject=THANKS,
                          limit=TEN_WEEKS + timedelta(days=14))
    words = " ".join(thanks.text.split())
    assert "10 weeks with Hearth" in words
    assert "2 check-ins with Sam" in words
    assert "How much did Hearth help you bring sociocracy into your organisation?" in words
    when = sent_at(thanks)
    assert (when.hour, when.minute) == (9, 0) and when.weekday() < 5
    with app.app_context():
        graduation = db.session.scalar(select(Graduation))
        assert (graduation.how, graduation.weeks, graduation.checkin_count) == ("journey_end", 10, 2)
        onboarding = db.session.scalar(select(Journey).where(Journey.sequence == "onboarding"))
        assert onboarding.state == "completed"  # every onboarding email went out first
    one_click = links_in(thanks)
    assert set(one_click) == {"", "1", "2", "3", "4", "5"}

    buddy_email = smtp.wait_for(to="sam@example.org", subject=BUDDY_SURVEY)
    assert "How well did the pairing work for you?" in buddy_email.text

    # A link scanner (and then Ada) opens "4": the page shows it chosen, nothing is saved.
    for _ in range(2):
        page = client.get(one_click["4"])
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'name="q-helped" value="4" checked' in html
        assert "It counts once you press <strong>Submit</strong>" in html
    client.head(one_click["5"])
    assert response_count(app) == 0

    # Unanswered: the first reminder comes three days after the thank-you.
    reminder = travel_until(app, drain, smtp, to="ada@example.org", subject=REMINDER,
                            limit=clock.now() + timedelta(days=6))
    assert sent_at(reminder) - when == timedelta(days=3)
    assert set(links_in(reminder)) == set(one_click)

    # Ada presses Submit, with answers to most questions.
    response = client.post(one_click["4"].split("?")[0], data={
        "csrf_token": csrf_token(client, one_click["4"]),
        "q-helped": "4", "q-missing": "never shown: helped is 4",
        "q-recommend": "9", "q-most_useful": ["buddy", "emails"], "q-where_now": "adopting",
        "q-proud_of": "Our first consent round.", "q-become_buddy": "yes",
    })
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Your answers are saved" in page and "Apply to become a buddy" in page
    assert saved(app) == [{"survey": "graduation", "role": "champion", "helped": 4, "recommend": 9,
                           "most_useful": ["emails", "buddy"], "where_now": "adopting",
                           "proud_of": "Our first consent round.", "become_buddy": "yes"}]

    # No reminder after an answer; the buddy, who did not answer, gets two and no more.
    travel(app, drain, clock.now() + timedelta(days=21))
    assert len(emails(smtp, "ada@example.org", REMINDER)) == 1
    assert emails(smtp, "ada@example.org", LAST) == []
    assert len(emails(smtp, "ada@example.org", THANKS)) == 1
    buddy_reminders = [m for m in smtp.to("sam@example.org") if "How did your pairing go?" in m.subject]
    assert [m.subject.split(":")[0] for m in buddy_reminders] == ["A reminder", "Last reminder"]
    first, last = (sent_at(m) for m in buddy_reminders)
    assert first - sent_at(buddy_email) == timedelta(days=3)
    assert last - sent_at(buddy_email) == timedelta(days=7)


def test_yes_to_becoming_a_buddy_opens_a_filled_in_application(app, client, smtp, drain):
    _pair, path = graduated(app, drain)
    answered = client.post(path, data={"csrf_token": csrf_token(client, path), "q-helped": "5",
                                       "q-become_buddy": "yes"})
    assert answered.status_code == 200
    application = client.get(f"{path}/become-a-buddy")
    html = application.get_data(as_text=True)
    assert 'action="/buddies/join"' in html
    assert 'value="Ada Okafor"' in html and 'value="ada@example.org"' in html
    assert 'value="Europe/Berlin"' in html
    assert 'checked id="languages-0" name="languages" required type="checkbox" value="en"' in html


def test_a_survey_asks_again_what_is_missing_and_skips_what_does_not_apply(app, client, drain):
    _pair, path = graduated(app, drain)
    token = csrf_token(client, path)
    missing = client.post(path, data={"csrf_token": token, "q-recommend": "11", "q-proud_of": "kept"})
    assert missing.status_code == 422
    html = missing.get_data(as_text=True)
    assert "your organisation?</a> Please answer this question." in html
    assert "someone in your seat?</a> Please choose a number from 0 to 10." in html
    assert ">kept</textarea>" in html  # what was typed stays
    assert response_count(app) == 0
    # "What was missing?" only counts when the rating was 3 or less.
    client.post(path, data={"csrf_token": token, "q-helped": "2", "q-missing": "More time.",
                            "q-where_now": "living", "q-what_stopped": "not asked"})
    assert saved(app) == [{"survey": "graduation", "role": "champion", "helped": 2,
                           "missing": "More time.", "where_now": "living"}]
    # Answering again replaces the answers (one response per invitation).
    client.post(path, data={"csrf_token": token, "q-helped": "3"})
    assert saved(app) == [{"survey": "graduation", "role": "champion", "helped": 3}]
    assert "You can change your answers" in client.get(path).get_data(as_text=True)


def test_bad_links_and_missing_tokens_change_nothing(app, client, drain):
    _pair, path = graduated(app, drain)
    assert client.get(path + "x").status_code == 404
    assert "This survey link is not valid." in client.get("/surveys/forged").get_data(as_text=True)
    assert client.post(path, data={"q-helped": "5"}).status_code == 400  # no CSRF token
    assert client.get(path + "?answer=99").status_code == 200  # an unknown answer is ignored
    assert response_count(app) == 0


def test_answering_cancels_a_reminder_already_written(app, client, smtp, drain):
    pair, path = graduated(app, drain)
    from app.tick import tick

    # The invitation goes out; three days later the reminder is written, not yet sent.
    for days in (1, 5):
        clock.set(clock.now() + timedelta(days=days))
        with app.app_context():
            tick()
        if days == 1:
            drain()
    with app.app_context():
        waiting = db.session.scalar(select(Delivery).where(Delivery.template == "survey_reminder",
                                                           Delivery.person_id == pair.champion_id))
        assert waiting is not None and waiting.status == "pending"
    client.post(path, data={"csrf_token": csrf_token(client, path), "q-helped": "5"})
    drain()
    assert emails(smtp, "ada@example.org", REMINDER) == []
    with app.app_context():
        assert db.session.get(Delivery, waiting.id).status == "cancelled"


def test_replying_graduate_graduates_early_and_ends_the_onboarding(app, smtp, drain, inbound):
    champion_with_buddy(app, drain, checkins=())
    travel(app, drain, clock.now() + timedelta(days=3))
    welcome = smtp.wait_for(to="ada@example.org", subject="Welcome to Hearth")
    assert inbound.post(reply_from("ada@example.org", welcome, "graduate")).status_code == 202
    drain()
    with app.app_context():
        graduation = db.session.scalar(select(Graduation))
        assert graduation.how == "reply" and graduation.weeks == 0
        onboarding = db.session.scalar(select(Journey).where(Journey.sequence == "onboarding"))
        assert (onboarding.state, onboarding.stopped_reason) == ("stopped", "graduated")
    before = len(smtp.to("ada@example.org"))
    travel(app, drain, clock.now() + timedelta(days=14))
    later = [m.subject for m in smtp.to("ada@example.org")[before:]]
    assert any("0 weeks on: thank you" in s for s in later)
    assert not any(s.startswith(("Who decides", "Your first")) for s in later)
    # Replying again changes nothing.
    assert inbound.post(reply_from("ada@example.org", welcome, "graduate", subject="again")).status_code == 202
    drain()
    with app.app_context():
        assert len(db.session.scalars(select(Graduation)).all()) == 1
