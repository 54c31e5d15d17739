"""Which buddy for which champion: pure scoring, no database.

A buddy is a valid match when they have a free place (capacity is a hard
limit), are not cooling down after a pairing ended, have never been paired
with this champion (in any state: never the same pair twice), share enough
waking hours and, when the programme asks for it, the champion's language.
Among valid buddies the highest score wins; ties go to the buddy with fewer
champions, then the lower id, so the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.accounts.models import LANGUAGES, ORGANISATION_KINDS
from app.buddies.programme import Matching

YEARS_COUNTED = 10


@dataclass(frozen=True)
class ChampionFacts:
    id: int
    timezone: str
    language: str
    organisation_kind: str | None


@dataclass(frozen=True)
class BuddyFacts:
    id: int
    timezone: str
    languages: frozenset[str]
    organisation_kinds: frozenset[str]
    years: int
    capacity: int
    load: int  # pairs holding a place: suggested, proposed or active
    cooling_until: datetime | None = None


@dataclass(frozen=True)
class Candidate:
    buddy_id: int
    score: float
    reasons: tuple[str, ...]
    load: int = 0


@dataclass
class Ranking:
    """Valid candidates best first, and why the others were left out."""

    candidates: list[Candidate] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def why_none(self) -> str:
        if not self.excluded:
            return "there are no approved buddies"
        parts = [f"{count} {reason}" for reason, count in sorted(self.excluded.items())]
        return "no buddy fits: " + ", ".join(parts)


def _interval(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(day, start, zone).astimezone(UTC),
        datetime.combine(day, end, zone).astimezone(UTC),
    )


def waking_overlap_hours(tz_a: str, tz_b: str, on: date, start: time, end: time) -> float:
    """Hours in which both people are awake (`start`-`end` on their own clocks)
    on day `on` of person A, counting B's days either side of it too."""
    a_start, a_end = _interval(on, start, end, ZoneInfo(tz_a))
    zone_b = ZoneInfo(tz_b)
    total = timedelta(0)
    for shift in (-1, 0, 1):
        b_start, b_end = _interval(on + timedelta(days=shift), start, end, zone_b)
        overlap = min(a_end, b_end) - max(a_start, b_start)
        if overlap > timedelta(0):
            total += overlap
    return total.total_seconds() / 3600


def _waking_hours(matching: Matching) -> float:
    start = datetime.combine(date(2000, 1, 1), matching.waking_start)
    end = datetime.combine(date(2000, 1, 1), matching.waking_end)
    return (end - start).total_seconds() / 3600


def score(champion: ChampionFacts, buddy: BuddyFacts, matching: Matching, on: date) -> Candidate:
    """The score of a pairing (whether or not it is valid) and its reasons."""
    weights = matching.weights
    overlap = waking_overlap_hours(
        champion.timezone, buddy.timezone, on, matching.waking_start, matching.waking_end
    )
    shared_language = champion.language in buddy.languages
    knows_kind = bool(champion.organisation_kind) and champion.organisation_kind in buddy.organisation_kinds
    free = max(buddy.capacity - buddy.load, 0) / buddy.capacity if buddy.capacity else 0.0
    years = min(max(buddy.years, 0), YEARS_COUNTED) / YEARS_COUNTED
    total = (
        weights["overlap"] * min(overlap / _waking_hours(matching), 1.0)
        + weights["language"] * shared_language
        + weights["kind"] * knows_kind
        + weights["capacity"] * free
        + weights["years"] * years
    )
    reasons = [f"{overlap:g} waking hours in common"]
    if shared_language:
        reasons.append(f"speaks {LANGUAGES.get(champion.language, champion.language)}")
    if knows_kind:
        kind = ORGANISATION_KINDS.get(champion.organisation_kind, champion.organisation_kind)
        reasons.append(f"has implemented sociocracy in: {kind}")
    reasons.append(f"{buddy.capacity - buddy.load} of {buddy.capacity} places free")
    reasons.append(f"{buddy.years} years of experience")
    return Candidate(buddy.id, round(total, 6), tuple(reasons), buddy.load)


def exclusion(
    champion: ChampionFacts,
    buddy: BuddyFacts,
    matching: Matching,
    past: frozenset[tuple[int, int]],
    now: datetime,
) -> str | None:
    """Why `buddy` cannot be matched with `champion` now, or None when they can."""
    if buddy.id == champion.id:
        return "is the champion themselves"
    if buddy.load >= buddy.capacity:
        return "at capacity"
    if (champion.id, buddy.id) in past:
        return "already paired with this champion once"
    if buddy.cooling_until is not None and buddy.cooling_until > now:
        return "cooling down after a pairing"
    if matching.require_shared_language and champion.language not in buddy.languages:
        return "without a shared language"
    overlap = waking_overlap_hours(
        champion.timezone, buddy.timezone, now.date(), matching.waking_start, matching.waking_end
    )
    if overlap < matching.min_overlap_hours:
        return "too few waking hours in common"
    return None


def rank(
    champion: ChampionFacts,
    buddies: Iterable[BuddyFacts],
    matching: Matching,
    past: frozenset[tuple[int, int]],
    now: datetime,
) -> Ranking:
    """Every valid buddy for `champion`, best first; `past` holds every
    (champion_id, buddy_id) that was ever paired, suggested or proposed."""
    ranking = Ranking()
    for buddy in buddies:
        reason = exclusion(champion, buddy, matching, past, now)
        if reason is not None:
            ranking.excluded[reason] = ranking.excluded.get(reason, 0) + 1
            continue
        ranking.candidates.append(score(champion, buddy, matching, now.date()))
    ranking.candidates.sort(key=lambda c: (-c.score, c.load, c.buddy_id))
    return ranking
