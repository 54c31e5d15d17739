"""Matching as properties (hypothesis), on plain facts: no database.

Capacity is never exceeded, no pair ever repeats, and the chosen buddy is the
best-scored valid one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.buddies import matching, programme

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles",
         "Asia/Kolkata", "Australia/Sydney", "Pacific/Auckland", "UTC"]
LANGS = ["en", "de", "es", "fr"]
KINDS = ["community", "cooperative", "nonprofit", "school"]
RULES = programme.load().matching


def champions(ids):
    return st.builds(matching.ChampionFacts, id=ids, timezone=st.sampled_from(ZONES),
                     language=st.sampled_from(LANGS),
                     organisation_kind=st.one_of(st.none(), st.sampled_from(KINDS)))


@st.composite
def buddies(draw, min_size=0, max_size=12):
    count = draw(st.integers(min_size, max_size))
    found = []
    for index in range(count):
        capacity = draw(st.integers(1, 5))
        found.append(matching.BuddyFacts(
            id=1000 + index,
            timezone=draw(st.sampled_from(ZONES)),
            languages=frozenset(draw(st.sets(st.sampled_from(LANGS), min_size=1))),
            organisation_kinds=frozenset(draw(st.sets(st.sampled_from(KINDS)))),
            years=draw(st.integers(0, 30)),
            capacity=capacity,
            load=draw(st.integers(0, capacity)),
            cooling_until=draw(st.one_of(st.none(), st.sampled_from(
                [NOW - timedelta(days=1), NOW + timedelta(days=3)]))),
        ))
    return found


@settings(max_examples=100, deadline=None)
@given(champion=champions(st.integers(1, 5)), pool=buddies(),
       past_ids=st.sets(st.integers(1000, 1011), max_size=4))
def test_the_chosen_buddy_is_valid_and_has_the_best_score(champion, pool, past_ids):
    past = frozenset((champion.id, b) for b in past_ids)
    ranking = matching.rank(champion, pool, RULES, past, NOW)
    valid = [b for b in pool if matching.exclusion(champion, b, RULES, past, NOW) is None]
    assert {c.buddy_id for c in ranking.candidates} == {b.id for b in valid}
    assert sum(ranking.excluded.values()) == len(pool) - len(valid)
    if not valid:
        assert ranking.best is None and ranking.why_none()
        return
    best = ranking.best
    chosen = next(b for b in pool if b.id == best.buddy_id)
    assert chosen.load < chosen.capacity
    assert (champion.id, chosen.id) not in past
    assert chosen.cooling_until is None or chosen.cooling_until <= NOW
    top = max(matching.score(champion, b, RULES, NOW.date()).score for b in valid)
    assert best.score == top
    scores = [c.score for c in ranking.candidates]
    assert scores == sorted(scores, reverse=True)


@settings(max_examples=60, deadline=None)
@given(pool=buddies(min_size=1, max_size=8),
       people=st.lists(champions(st.just(0)), min_size=1, max_size=25),
       objections=st.lists(st.booleans(), max_size=60))
def test_matching_many_champions_never_exceeds_capacity_or_repeats_a_pair(pool, people, objections):
    """Champions arrive one by one; some proposals meet an objection and the
    champion gets the next suggestion. Loads and history are kept as the
    database would keep them."""
    loads = {b.id: b.load for b in pool}
    history: set[tuple[int, int]] = set()
    objecting = iter(objections)
    for number, person in enumerate(people, start=1):
        champion = matching.ChampionFacts(number, person.timezone, person.language, person.organisation_kind)
        while True:
            facts = [matching.BuddyFacts(**{**b.__dict__, "load": loads[b.id]}) for b in pool]
            past = frozenset(p for p in history if p[0] == champion.id)
            best = matching.rank(champion, facts, RULES, past, NOW).best
            if best is None:
                break
            pair = (champion.id, best.buddy_id)
            assert pair not in history
            history.add(pair)
            loads[best.buddy_id] += 1
            if next(objecting, False):
                loads[best.buddy_id] -= 1  # the objected proposal frees its place
                continue
            break
    for buddy in pool:
        assert loads[buddy.id] <= buddy.capacity


@settings(max_examples=60, deadline=None)
@given(zone=st.sampled_from(ZONES), day=st.dates(date(2026, 1, 1), date(2028, 12, 31)))
def test_the_same_zone_shares_all_waking_hours(zone, day):
    hours = matching.waking_overlap_hours(zone, zone, day, time(8), time(21))
    assert 12 <= hours <= 14  # 13, or 12 / 14 on the night the clocks change


def test_time_zones_far_apart_share_few_waking_hours():
    berlin_auckland = matching.waking_overlap_hours(
        "Europe/Berlin", "Pacific/Auckland", date(2027, 1, 15), time(8), time(21))
    berlin_london = matching.waking_overlap_hours(
        "Europe/Berlin", "Europe/London", date(2027, 1, 15), time(8), time(21))
    assert berlin_auckland == 2 and berlin_london == 12


def test_a_shared_language_experience_and_free_places_win():
    champion = matching.ChampionFacts(1, "Europe/Berlin", "de", "cooperative")
    base = dict(timezone="Europe/Berlin", years=5, capacity=2, load=0)
    speaks = matching.BuddyFacts(10, languages=frozenset({"de"}), organisation_kinds=frozenset(), **base)
    knows = matching.BuddyFacts(11, languages=frozenset({"de"}),
                                organisation_kinds=frozenset({"cooperative"}), **base)
    busy = matching.BuddyFacts(12, languages=frozenset({"de"}),
                               organisation_kinds=frozenset({"cooperative"}),
                               **{**base, "load": 1})
    english = matching.BuddyFacts(13, languages=frozenset({"en"}),
                                  organisation_kinds=frozenset({"cooperative"}), **base)
    ranking = matching.rank(champion, [speaks, knows, busy, english], RULES, frozenset(), NOW)
    assert [c.buddy_id for c in ranking.candidates] == [11, 12, 10]
    assert ranking.excluded == {"without a shared language": 1}
    assert "speaks Deutsch" in ranking.best.reasons
    assert "has implemented sociocracy in: Cooperative" in ranking.best.reasons
