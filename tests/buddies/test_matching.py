"""Matching with the database: suggestions after the programme's delay,
coordinators accept or pick another, automatic matching, the CLI twins, and
the protections of buddies (capacity, cool-down, never the same pair twice)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app import clock
from app.buddies import service
from app.buddies.errors import BuddyError
from app.buddies.models import OPEN_STATUSES, BuddyProfile, Pair
from app.extensions import db
from tests.buddies.pairing import (
    START,
    make_buddy,
    make_champion,
    make_coordinator,
    pairs_of,
    propose,
    send_now,
)
from tests.forms import submit


def test_a_suggestion_waits_for_the_delay_then_a_coordinator_proposes_it(app, client, smtp, drain):
    clock.set(START)
    ada = make_champion(app)
    sam = make_buddy(app, capacity=1)
    with app.app_context():
        assert str(service.suggest_for_due_champions(START + timedelta(days=6))).startswith("0 buddy")
        report = service.suggest_for_due_champions(START + timedelta(days=7))
        assert (report.suggested, report.proposed) == (1, 0)
        again = service.suggest_for_due_champions(START + timedelta(days=7, hours=1))
        assert again.suggested == 0  # a suggestion is kept, not made twice
    assert pairs_of(app, ada) == [(pairs_of(app, ada)[0][0], sam, "suggested")]

    clock.set(START + timedelta(days=7))
    make_coordinator(app, client, smtp, drain)
    page = client.get("/admin/matches").get_data(as_text=True)
    assert "Ada Okafor" in page and "Sam Rivera" in page and "speaks English" in page
    response = submit(client, "/admin/matches", {"champion_id": ada, "buddy_id": ""},
                      "/admin/matches/propose")
    assert response.status_code == 302
    assert pairs_of(app, ada)[0][1:] == (sam, "proposed")
    send_now(app, drain)
    assert smtp.wait_for(to="ada@example.org", subject="A buddy for you: Sam Rivera")
    assert smtp.wait_for(to="sam@example.org", subject="A champion for you, Sam")


def test_a_coordinator_picks_another_buddy(app, client, smtp, drain):
    clock.set(START)
    ada = make_champion(app)
    make_buddy(app)  # Sam: English, co-ops, same zone: the suggestion
    lee = make_buddy(app, email="lee@example.org", name="Lee Park", timezone="America/New_York",
                     kinds=("school",))
    with app.app_context():
        suggested = service.suggest(ada)
        db.session.commit()
        assert suggested.buddy.email == "sam@example.org"
    make_coordinator(app, client, smtp, drain)
    response = submit(client, "/admin/matches", {"champion_id": ada, "buddy_id": lee},
                      "/admin/matches/propose")
    assert response.status_code == 302
    # The suggestion never reached anyone, so it leaves no trace.
    assert [row[1:] for row in pairs_of(app, ada)] == [(lee, "proposed")]


def test_automatic_matching_proposes_by_itself(app, client, smtp, drain):
    clock.set(START)
    ada = make_champion(app)
    sam = make_buddy(app)
    make_coordinator(app, client, smtp, drain)
    response = submit(client, "/admin/matches", {"on": "yes"}, "/admin/matches/auto")
    assert response.status_code == 302
    assert "Automatic matching is on" in client.get("/admin/matches").get_data(as_text=True)
    with app.app_context():
        report = service.suggest_for_due_champions(START + timedelta(days=8))
        assert report.proposed == 1
    assert pairs_of(app, ada)[0][1:] == (sam, "proposed")


def test_the_cli_twin_of_matching(app, runner):
    clock.set(START)
    nobody = runner.invoke(args=["buddies", "match"])
    assert nobody.exit_code == 0 and "No champion is waiting for a buddy." in nobody.output
    make_champion(app)
    lonely = runner.invoke(args=["buddies", "match"])
    assert lonely.exit_code != 0
    assert "ada@example.org: No buddy for ada@example.org: there are no approved buddies." in lonely.output
    assert "1 champion(s) could not be matched" in lonely.output
    sam = make_buddy(app)
    done = runner.invoke(args=["buddies", "match", "--auto"])
    assert done.exit_code == 0, done.output
    assert "Automatic matching is on" in done.output
    assert "ada@example.org: proposed sam@example.org (score" in done.output
    assert "objections until 2027-03-06 09:00 UTC" in done.output
    twice = runner.invoke(args=["buddies", "match", "ada@example.org"])
    assert twice.exit_code != 0 and "already has a proposal waiting for consent" in twice.output
    with app.app_context():
        assert service.is_auto_matching()
        assert db.session.scalar(select(Pair.buddy_id)) == sam
    off = runner.invoke(args=["buddies", "auto-matching", "off"])
    assert off.exit_code == 0 and "Automatic matching is off." in off.output


def test_the_cli_picks_a_named_buddy_or_says_why_not(app, runner):
    clock.set(START)
    make_champion(app)
    make_buddy(app)
    make_buddy(app, email="kai@example.org", name="Kai Weber", languages=("de",))
    refused = runner.invoke(args=["buddies", "match", "ada@example.org", "--buddy", "kai@example.org"])
    assert refused.exit_code != 0
    assert "kai@example.org cannot be ada@example.org's buddy: without a shared language" in refused.output
    chosen = runner.invoke(args=["buddies", "match", "ada@example.org", "--buddy", "sam@example.org"])
    assert chosen.exit_code == 0, chosen.output


def test_capacity_is_a_hard_limit(app):
    clock.set(START)
    ada = make_champion(app)
    bea = make_champion(app, email="bea@example.org", name="Bea Jones")
    sam = make_buddy(app, capacity=1)
    propose(app, ada)
    with app.app_context():
        try:
            service.propose_match(bea, buddy_id=sam)
        except BuddyError as error:
            assert "at capacity" in str(error)
        else:
            raise AssertionError("a full buddy was proposed")
        try:
            service.propose_match(bea)
        except BuddyError as error:
            assert "no buddy fits: 1 at capacity" in str(error)


def test_a_buddy_rests_after_a_pairing_ends(app, drain):
    clock.set(START)
    ada = make_champion(app)
    bea = make_champion(app, email="bea@example.org", name="Bea Jones")
    sam = make_buddy(app, capacity=1)
    pair_id = propose(app, ada)
    with app.app_context():
        service.introduce(db.session.get(Pair, pair_id))
        service.end_pair(pair_id, ada, "we are done")
        db.session.commit()
        ranking = service.ranking_for(bea, START + timedelta(days=13))
        assert ranking.best is None and "cooling down" in ranking.why_none()
        assert service.ranking_for(bea, START + timedelta(days=15)).best.buddy_id == sam
        # Ada and Sam are never proposed again, even after the rest.
        assert service.ranking_for(ada, START + timedelta(days=30)).best is None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(capacities=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       actions=st.lists(st.tuples(st.sampled_from(["propose", "object", "introduce", "end"]),
                                  st.integers(0, 3)), min_size=1, max_size=14))
def test_any_sequence_of_actions_keeps_the_promises(app, ctx, capacities, actions):
    """Proposals, objections, introductions and endings in any order: open
    pairs never exceed a buddy's capacity and no pair is ever made twice."""
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()
    clock.set(START)
    champions = [make_champion(app, email=f"c{n}@example.org", name=f"C{n} Person") for n in range(4)]
    buddies = [make_buddy(app, email=f"b{n}@example.org", name=f"B{n} Person", capacity=c)
               for n, c in enumerate(capacities)]
    for action, index in actions:
        champion = champions[index]
        try:
            if action == "propose":
                service.propose_match(champion)
            else:
                pair = db.session.scalar(select(Pair).where(
                    Pair.champion_id == champion, Pair.status.in_(("proposed", "active"))))
                if pair is None:
                    continue
                if action == "object" and pair.status == "proposed":
                    service.object_to_pair(pair.id, pair.buddy_id, "reply")
                elif action == "introduce" and pair.status == "proposed":
                    service.introduce(pair)
                elif action == "end":
                    service.end_pair(pair.id, None, "property test")
            db.session.commit()
        except BuddyError:
            db.session.rollback()
        clock.set(clock.now() + timedelta(days=3))
        for buddy_id, capacity in zip(buddies, capacities, strict=True):
            held = db.session.scalar(select(func.count(Pair.id)).where(
                Pair.buddy_id == buddy_id, Pair.status.in_(OPEN_STATUSES)))
            assert held <= capacity
            assert db.session.scalar(select(BuddyProfile.capacity).where(
                BuddyProfile.person_id == buddy_id)) == capacity
        repeats = db.session.execute(select(Pair.champion_id, Pair.buddy_id, func.count())
                                     .group_by(Pair.champion_id, Pair.buddy_id)
                                     .having(func.count() > 1)).all()
        assert repeats == []
    db.session.remove()
