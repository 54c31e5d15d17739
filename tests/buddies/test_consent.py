"""Consent, sociocracy's way: the proposal goes to both, either may object
(reply or page), silence is consent, and nobody is told who objected."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.accounts.models import Person
from app.buddies import service
from app.buddies.errors import NotInPair, PairNotFound, TooLateToObject
from app.buddies.models import Pair
from app.extensions import db
from app.journeys.models import Journey
from emails import addresses
from tests.buddies.pairing import (
    START,
    make_buddy,
    make_champion,
    page_path,
    pair_of,
    pairs_of,
    propose,
    send_now,
)
from tests.forms import csrf_token, submit


@pytest.fixture
def cast(app):
    """Ada (champion), Sam (the best buddy for her) and Lee (the next best)."""
    clock.set(START)
    ada = make_champion(app)
    sam = make_buddy(app)
    lee = make_buddy(app, email="lee@example.org", name="Lee Park", timezone="America/New_York",
                     kinds=("school",))
    return ada, sam, lee


def body(received) -> str:
    """The words of an email, without its footer (whose links are personal)."""
    return re.split(r"\r?\n-- \r?\n", received.text)[0]


def test_an_objection_on_the_page_leads_to_the_next_suggestion_and_names_nobody(app, client, smtp, drain, cast):
    ada, sam, lee = cast
    pair_id = propose(app, ada)
    send_now(app, drain)
    to_sam = smtp.wait_for(to="sam@example.org", subject="A champion for you")
    to_ada = smtp.wait_for(to="ada@example.org", subject="A buddy for you: Sam Rivera")
    assert "object" in body(to_ada) and "will not be told who objected" in body(to_ada)
    path = page_path(to_sam)
    page = client.get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Riverside Food Co-op" in text and "I object" in text
    assert pair_of(app, pair_id).status == "proposed"  # the GET changed nothing

    done = submit(client, path, {})
    assert done.status_code == 200 and "does not say who objected" in done.get_data(as_text=True)
    assert [row[1:] for row in pairs_of(app, ada)] == [(sam, "objected"), (lee, "suggested")]
    send_now(app, drain)
    news_ada = smtp.wait_for(to="ada@example.org", subject="will not go ahead")
    news_sam = smtp.wait_for(to="sam@example.org", subject="will not go ahead")
    assert body(news_ada).replace("Ada", "X") == body(news_sam).replace("Sam", "X")
    assert "Sam" not in body(news_ada) and "Ada" not in body(news_sam)
    assert "We do not say who" in body(news_ada)
    # The page now says so too, without a button; objecting again changes nothing.
    again = client.get(path).get_data(as_text=True)
    assert "will not go ahead" in again and "I object" not in again
    repeat = client.post(path, data={"csrf_token": csrf_token(client, "/buddies/join")})
    assert repeat.status_code == 200
    send_now(app, drain)
    assert len(smtp.to("sam@example.org")) == 3  # welcome, proposal, "will not go ahead": no more


def test_an_objection_by_reply_with_automatic_matching_proposes_the_next_buddy(app, smtp, drain, cast):
    ada, sam, lee = cast
    with app.app_context():
        service.set_auto_matching(True)
        db.session.commit()
    pair_id = propose(app, ada)
    with app.app_context():
        service.object_to_pair(pair_id, ada, "reply")  # what the inbound pipeline calls
        db.session.commit()
        service.object_to_pair(pair_id, sam, "reply")  # too late to matter: no change
        db.session.commit()
        with pytest.raises(NotInPair):
            service.object_to_pair(pair_id, lee, "reply")
        with pytest.raises(PairNotFound):
            service.object_to_pair(9999, ada, "reply")
    assert [row[1:] for row in pairs_of(app, ada)] == [(sam, "objected"), (lee, "proposed")]
    clock.set(START + timedelta(hours=5))  # 09:00 for Lee in New York: proposals come by day
    send_now(app, drain)
    assert smtp.wait_for(to="ada@example.org", subject="A buddy for you: Lee Park")
    assert smtp.wait_for(to="lee@example.org", subject="A champion for you")
    for received in smtp.to("lee@example.org") + smtp.to("sam@example.org"):
        assert "Ada" not in body(received) and "objected by" not in received.text


def test_silence_is_consent_and_the_introduction_goes_to_both_in_one_thread(app, client, smtp, drain, runner,
                                                                           cast):
    ada, sam, _lee = cast
    pair_id = propose(app, ada)
    consent_until = pair_of(app, pair_id).consent_until
    assert consent_until == START + timedelta(days=5)
    with app.app_context():
        assert service.review_pairs(consent_until - timedelta(minutes=1)).introduced == 0
    clock.set(consent_until)
    result = runner.invoke(args=["buddies", "review"])  # what the clock runs
    assert result.exit_code == 0 and "1 pairs introduced" in result.output, result.output
    with app.app_context():
        assert service.review_pairs(consent_until).introduced == 0
    send_now(app, drain)
    intro = smtp.wait_for(to="ada@example.org", subject="Ada, meet Sam")
    assert sorted(intro.rcpt_tos) == ["ada@example.org", "sam@example.org"]
    assert sorted(a.addr_spec for a in intro.message["To"].addresses) == ["ada@example.org", "sam@example.org"]
    reply_to = intro.message["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith(f"reply+p{pair_id}-")
    target = addresses.parse_reply_address(app.config["SECRET_KEY"], reply_to)
    assert (target.kind, target.id) == ("p", pair_id)
    assert intro.message["Message-ID"] == pair_of(app, pair_id).intro_message_id
    text = body(intro)
    assert "Riverside Food Co-op" in text and "A suggested first conversation" in text
    profiles = client.get(page_path(intro)).get_data(as_text=True)
    assert "two housing co-ops" in profiles and "half the members are sceptical" in profiles
    with app.app_context():
        scopes = {(j.person_id, j.sequence, j.scope) for j in db.session.scalars(select(Journey))
                  if j.sequence != "onboarding"}
        assert scopes == {(sam, "buddy_checkins", f"pair:{pair_id}"),
                          (ada, "champion_checkins", f"pair:{pair_id}")}
        with pytest.raises(TooLateToObject):
            service.object_to_pair(pair_id, sam, "reply")
        assert service.pair_for_reply(pair_id).status == "active"
        assert service.active_pair_for(ada).id == pair_id
        assert service.active_pair_for(sam).id == pair_id


def test_the_object_page_after_the_introduction_explains_instead(app, client, smtp, drain, cast):
    ada, _sam, _lee = cast
    pair_id = propose(app, ada)
    send_now(app, drain)
    path = page_path(smtp.wait_for(to="ada@example.org", subject="A buddy for you"))
    with app.app_context():
        service.introduce(db.session.get(Pair, pair_id))
        db.session.commit()
    assert "consent period is over" in client.get(path).get_data(as_text=True)
    late = client.post(path, data={"csrf_token": csrf_token(client, "/buddies/join")})
    assert late.status_code == 409 and "end it" in late.get_data(as_text=True)
    assert client.get("/buddies/proposal/forged-token").status_code == 404


def test_a_proposal_changes_when_a_person_leaves_before_the_introduction(app, smtp, drain, cast):
    ada, sam, lee = cast
    propose(app, ada)
    with app.app_context():
        db.session.get(Person, sam).status = "pending"  # e.g. their address stopped working
        db.session.commit()
        report = service.review_pairs(START + timedelta(days=6))
        assert (report.introduced, report.withdrawn) == (0, 1)
    assert [row[1:] for row in pairs_of(app, ada)] == [(sam, "withdrawn"), (lee, "suggested")]
    with app.app_context():
        suggestion = next(p for p in pairs_of(app, ada) if p[2] == "suggested")[0]
        service.end_pair(suggestion, None, "not this one")  # a suggestion nobody saw leaves no trace
        db.session.commit()
    assert [row[1:] for row in pairs_of(app, ada)] == [(sam, "withdrawn")]
