"""After the introduction: check-in prompts every two weeks at 09:00 local,
check-ins logged from replies (text and energy), nudges after four silent
weeks, the at-risk list, and the end of a pairing."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app import clock
from app.accounts import service as accounts
from app.accounts.models import Person
from app.buddies import overview, service
from app.buddies.errors import NotInPair, PairNotFound
from app.buddies.models import Checkin, Concern, Pair
from app.extensions import db
from app.inbound.models import InboundMessage
from app.journeys.models import Journey
from tests.buddies.pairing import START, introduced_pair, make_coordinator, page_path, pair_of
from tests.forms import submit
from tests.story import travel

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
PROMPT = "How is your champion doing"


def prompts(smtp, email="sam@example.org", subject=PROMPT):
    return [m for m in smtp.to(email) if subject in m.subject]


def local(received, zone):
    return parsedate_to_datetime(received.message["Date"]).astimezone(zone)


def inbound_message(app, number: int) -> int:
    """A stored inbound message, as the pipeline would have it."""
    with app.app_context():
        message = InboundMessage(dedupe_key=f"<m{number}@example.org>", raw=b"...", size=3,
                                 received_via="webhook", received_at=clock.now(), status="new")
        db.session.add(message)
        db.session.commit()
        return message.id


def record(app, pair, author_id, text, **kwargs) -> Checkin:
    with app.app_context():
        checkin = service.record_checkin(pair.pair_id, author_id, text, **kwargs)
        db.session.commit()
        db.session.refresh(checkin)
        db.session.expunge(checkin)
        return checkin


@pytest.fixture
def pair(app, drain):
    clock.set(START)
    return introduced_pair(app, drain, timezone="America/New_York")


def test_prompts_arrive_every_fourteen_days_at_nine_local(app, smtp, drain, pair):
    travel(app, drain, START + timedelta(weeks=10, hours=12))
    sent = prompts(smtp)
    assert len(sent) == 5
    times = [local(m, NEW_YORK) for m in sent]
    for moment in times:
        assert (moment.hour, moment.minute) == (9, 0) and moment.weekday() < 5, moment
    assert [(b - a).days for a, b in zip(times, times[1:], strict=False)] == [14, 14, 14, 14]
    assert times[0].date() == (START + timedelta(days=14)).date()
    intro_id = pair_of(app, pair.pair_id).intro_message_id
    for received in sent:
        assert received.message["Reply-To"].addresses[0].addr_spec.startswith(f"reply+p{pair.pair_id}-")
        assert received.message["In-Reply-To"] == intro_id
        assert "energy: 4" in received.text
    lighter = prompts(smtp, "ada@example.org", "How is it going with Sam")
    assert len(lighter) == 2
    assert all(local(m, BERLIN).hour == 9 for m in lighter)


def test_a_checkin_keeps_the_text_and_its_energy_once_per_inbound_message(app, pair):
    first = inbound_message(app, 1)
    checkin = record(app, pair, pair.buddy_id, "We met on Tuesday.\nEnergy: 4\nShe found a co-facilitator.",
                     inbound_id=first)
    assert (checkin.text, checkin.energy) == ("We met on Tuesday.\nShe found a co-facilitator.", 4)
    again = record(app, pair, pair.buddy_id, "We met on Tuesday.\nEnergy: 4", inbound_id=first)
    assert again.id == checkin.id
    german = record(app, pair, pair.champion_id, "Energie: 5\nDanke!", inbound_id=inbound_message(app, 2))
    assert (german.text, german.energy) == ("Danke!", 5)
    plain = record(app, pair, pair.buddy_id, "no score here, energy is fine")
    assert plain.energy is None and plain.text == "no score here, energy is fine"
    with app.app_context():
        assert db.session.scalar(select(func.count(Checkin.id))) == 3
        assert [c.author_id for c in service.checkins_of(pair.pair_id)] == [
            pair.buddy_id, pair.champion_id, pair.buddy_id]
        stranger = db.session.scalar(select(Person.id).where(Person.email == "nobody@example.org"))
        with pytest.raises(NotInPair):
            service.record_checkin(pair.pair_id, stranger or 424242, "hello")
        with pytest.raises(PairNotFound):
            service.record_checkin(9999, pair.buddy_id, "hello")
        assert db.session.scalar(select(func.count(Concern.id))) == 0


def test_four_silent_weeks_nudge_the_buddy_once_and_six_put_the_pair_at_risk(app, client, smtp, drain, pair):
    def review(now):
        with app.app_context():
            return service.review_pairs(now)

    travel(app, drain, START + timedelta(days=27), on_each=review)
    assert prompts(smtp, subject="quiet") == []
    travel(app, drain, START + timedelta(days=41), on_each=review)
    nudges = prompts(smtp, subject="It has been quiet")
    assert len(nudges) == 1
    assert local(nudges[0], NEW_YORK).hour == 9
    assert nudges[0].message["Reply-To"].addresses[0].addr_spec.startswith(f"reply+p{pair.pair_id}-")
    with app.app_context():
        assert overview.at_risk() == []
    travel(app, drain, START + timedelta(days=43), on_each=review)
    make_coordinator(app, client, smtp, drain)
    listing = client.get("/admin/at-risk").get_data(as_text=True)
    assert "Sam Rivera" in listing and "no check-in for 6 weeks" in listing
    # A check-in ends the silence: the pair leaves the list, and a new silence
    # may be nudged again later.
    record(app, pair, pair.buddy_id, "Sorry, busy month. We talk on Friday.")
    assert "No pair is at risk." in client.get("/admin/at-risk").get_data(as_text=True)
    travel(app, drain, START + timedelta(days=43 + 27), on_each=review)
    assert len(prompts(smtp, subject="It has been quiet")) == 1
    review(START + timedelta(days=43 + 29))  # the clock runs the review every 30 s
    travel(app, drain, START + timedelta(days=43 + 31))
    assert len(prompts(smtp, subject="It has been quiet")) == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("We talked.\nenergía: 2", "energy 2 of 5 in a check-in"),
        ("energy: 1/5", "energy 1 of 5 in a check-in"),
        ("Honestly I'm exhausted and want to give up.", "words of burnout: exhausted, give up"),
        ("Ich bin völlig ausgebrannt.", "words of burnout: ausgebrannt"),
        ("Estoy agotada, no puedo más.", "words of burnout: agotada, no puedo más"),
    ],
)
def test_low_energy_or_words_of_burnout_put_the_pair_at_risk(app, client, smtp, drain, pair, text, reason):
    record(app, pair, pair.buddy_id, text)
    make_coordinator(app, client, smtp, drain)
    listing = client.get("/admin/at-risk").get_data(as_text=True)
    assert reason in listing
    with app.app_context():
        concern_id = db.session.scalar(select(Concern.id))
    assert submit(client, "/admin/at-risk", {"concern_id": concern_id}, "/admin/at-risk/resolve").status_code == 302
    assert "No pair is at risk." in client.get("/admin/at-risk").get_data(as_text=True)


def test_words_of_burnout_count_even_when_negated_and_calm_words_do_not(app, pair):
    record(app, pair, pair.buddy_id, "Good call. energy: 3. She is not exhausted at all, they said.")
    with app.app_context():
        # "exhausted" is a word of burnout even when negated: a person reads the list.
        assert [c.kind for c in db.session.scalars(select(Concern))] == ["burnout_words"]
    record(app, pair, pair.buddy_id, "Good call, lots of energy in the circle.\nenergy: 4")
    with app.app_context():
        assert db.session.scalar(select(func.count(Concern.id))) == 1


def test_ending_a_pair_sends_one_closing_email_and_stops_the_prompts(app, client, smtp, drain, pair):
    travel(app, drain, START + timedelta(days=15))
    prompt = prompts(smtp)[0]
    path = page_path(prompt)
    page = client.get(path).get_data(as_text=True)
    assert "End the pairing" in page and "Riverside Food Co-op" in page
    done = submit(client, path, {"reason": "Ada found her feet."})
    assert done.status_code == 200
    closing = [m for m in smtp.messages if "has come to an end" in m.subject]
    travel(app, drain, START + timedelta(days=16))
    closing = [m for m in smtp.messages if "has come to an end" in m.subject]
    assert len(closing) == 1
    assert sorted(closing[0].rcpt_tos) == ["ada@example.org", "sam@example.org"]
    assert closing[0].message["Reply-To"].addresses[0].addr_spec.startswith(f"reply+p{pair.pair_id}-")
    ended = pair_of(app, pair.pair_id)
    assert (ended.status, ended.ended_by_id, ended.end_reason) == ("ended", pair.buddy_id, "Ada found her feet.")
    travel(app, drain, START + timedelta(weeks=12))
    assert len(prompts(smtp)) == 1
    assert prompts(smtp, "ada@example.org", "How is it going with Sam") == []
    with app.app_context():
        states = {j.sequence: j.state for j in db.session.scalars(select(Journey))}
        assert states["buddy_checkins"] == "completed" and states["champion_checkins"] == "completed"
        service.end_pair(pair.pair_id, pair.champion_id, "again")  # twice: nothing more
        db.session.commit()
    travel(app, drain, START + timedelta(weeks=12, days=1))
    assert len([m for m in smtp.messages if "has come to an end" in m.subject]) == 1


def test_coordinators_end_a_pair_from_the_shell_and_strangers_cannot(app, runner, pair):
    with app.app_context():
        accounts.request_signup({"email": "eve@example.org", "name": "Eve", "timezone": "UTC",
                                 "organisation": "X", "organisation_kind": "other",
                                 "organisation_size": "1-9"})
        eve = Person.by_email("eve@example.org").id
        db.session.commit()
        with pytest.raises(NotInPair):
            service.end_pair(pair.pair_id, eve, "mischief")
    result = runner.invoke(args=["buddies", "end", str(pair.pair_id), "--reason", "buddy moved away"])
    assert result.exit_code == 0, result.output
    assert f"Pair {pair.pair_id} is ended." in result.output
    missing = runner.invoke(args=["buddies", "end", "9999", "--reason", "x"])
    assert missing.exit_code != 0 and "There is no pair 9999." in missing.output


def test_prompts_stop_and_the_buddy_is_told_when_an_account_is_deleted(app, smtp, drain, pair):
    with app.app_context():
        buddy_email = db.session.get(Person, pair.buddy_id).email
        accounts.delete_account(pair.champion_id)
        db.session.commit()
        assert db.session.get(Pair, pair.pair_id) is None
        assert service.review_pairs(clock.now()).prompts_stopped == 0  # stopped already
    travel(app, drain, START + timedelta(weeks=6))
    assert prompts(smtp) == []
    assert [m.subject for m in smtp.to(buddy_email)][-1] == "A change in your buddy pairing"


def test_export_checkins_as_csv(app, runner, pair):
    empty = runner.invoke(args=["export", "checkins"])
    assert empty.exit_code == 0 and empty.output.count("\n") == 1 and empty.output.startswith("id,")
    record(app, pair, pair.buddy_id, 'We met, "finally".\nenergy: 5', inbound_id=inbound_message(app, 7))
    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["export", "checkins"]).output)))
    assert [(r["champion_email"], r["buddy_email"], r["author_role"], r["energy"], r["text"]) for r in rows] == [
        ("ada@example.org", "sam@example.org", "buddy", "5", 'We met, "finally".')]
    assert rows[0]["inbound_id"] and rows[0]["at"].startswith("2027-03-01")
