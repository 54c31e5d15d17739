"""Decisions of the buddy programme about pairs: matching, consent,
introductions, check-ins, silence and strain, and the end of a pairing
(applications are in `applications.py`, the coordinators' lists in `overview.py`).

Functions called from a request or from the inbound pipeline add to the
session and leave the commit to the caller, so each Delivery row commits with
the change that caused it (invariant 1). The two functions the clock runs,
`suggest_for_due_champions(now)` and `review_pairs(now)`, own their
transactions: they commit after each pair, so one bad row never holds back
the rest.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, exists, func, or_, select, update

from app import clock, links
from app.accounts.models import LANGUAGES, ORGANISATION_KINDS, ORGANISATION_SIZES, Person
from app.buddies import checkin_text as reading
from app.buddies import matching, programme, qualification
from app.buddies.applications import person_by
from app.buddies.errors import (
    CannotPropose,
    NoMatch,
    NotInPair,
    PairNotFound,
    PersonNotFound,
    TooLateToObject,
)
from app.buddies.models import (
    OPEN_STATUSES,
    BuddyProfile,
    Checkin,
    Concern,
    Pair,
    ProgrammeSetting,
    Qualification,
)
from app.extensions import db
from app.journeys import service as journeys
from app.journeys.models import Journey
from app.outbox import attention, unsubscribes
from app.outbox import service as outbox
from app.outbox.models import Delivery
from emails import compose, sequences

log = logging.getLogger(__name__)

BUDDY_SEQUENCE = "buddy_checkins"
CHAMPION_SEQUENCE = "champion_checkins"
AUTO_MATCHING = "auto_matching"
# Emails that are not a journey step go out in the person's daytime.
DAYTIME = (time(8, 0), time(20, 0))
SEND_AT = time(9, 0)


# -- small shared pieces --------------------------------------------------------


def _local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def _daytime(person: Person, now: datetime) -> datetime:
    """`now` when it is daytime for the person, else their next 09:00."""
    local = _local(now, person.timezone).time()
    if DAYTIME[0] <= local < DAYTIME[1]:
        return now
    return sequences.next_window(SEND_AT, False, person.timezone, now)


def _date_words(moment: datetime, tz: str) -> str:
    return _local(moment, tz).strftime("%A %-d %B")


def _is_paused(person: Person, now: datetime) -> bool:
    if person.paused_until is None:
        return False
    return _local(now, person.timezone).date() < person.paused_until


def _reachable(person: Person, now: datetime) -> bool:
    """Can take part in a new pairing now: confirmed, not paused, not unsubscribed."""
    return (
        person.status == "active"
        and not _is_paused(person, now)
        and not unsubscribes.is_unsubscribed(person.id, "buddy")
    )


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="hearth-buddies-pair")


def page_url(pair: Pair, person_id: int, page: str) -> str:
    """A link to a pair page for one of its members ("proposal" to object,
    "pair" to end); the signed token is the authentication, its button POSTs."""
    token = _serializer().dumps([pair.id, person_id, page])
    return links.url(f"/buddies/{page}/{token}")


def read_page_token(token: str, page: str) -> tuple[Pair, int]:
    """The pair and member a page link names; PairNotFound when altered or gone."""
    try:
        pair_id, person_id, named = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError) as error:
        raise PairNotFound("This link is not valid.") from error
    pair = db.session.get(Pair, int(pair_id)) if named == page else None
    if pair is None or int(person_id) not in pair.member_ids():
        raise PairNotFound("This link is not valid any more.")
    return pair, int(person_id)


def _message_id_of(delivery: Delivery) -> str:
    """The Message-ID the outbox will give this delivery (it is deterministic)."""
    config = current_app.config
    domain = parseaddr(config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    return compose.message_id(delivery.id, delivery.idempotency_key, config["SECRET_KEY"], domain)


def buddy_profile_text(person: Person) -> str:
    profile = BuddyProfile.of(person.id)
    if profile is None:
        return person.name
    languages = ", ".join(LANGUAGES.get(code, code) for code in profile.languages)
    kinds = ", ".join(ORGANISATION_KINDS.get(k, k) for k in profile.organisation_kinds)
    lines = [f"{person.name}: {profile.years_experience} years with sociocracy; speaks {languages}."]
    if kinds:
        lines.append(f"Has implemented it in: {kinds}.")
    if profile.bio:
        lines.append(profile.bio)
    return "\n".join(lines)


def champion_profile_text(person: Person) -> str:
    organisation = person.organisation
    line = person.name
    if organisation is not None:
        kind = ORGANISATION_KINDS.get(organisation.kind, organisation.kind)
        size = ORGANISATION_SIZES.get(organisation.size, organisation.size)
        line += f": {organisation.name} ({kind}, {size.lower()})."
    return "\n".join([line, person.situation] if person.situation else [line])


def _pair_params(pair: Pair, **extra) -> dict:
    """What every email about a pair may show. `champion_name` and
    `champion_first_name` wait for KNOWN_VARIABLES (see the report of issue 4).
    Profiles stay out of the Delivery rows (they outlive a deleted account):
    emails link to the pair's pages, which read them live."""
    champion, buddy = pair.champion, pair.buddy
    return {
        "pair_id": pair.id,
        "reply_to": ["p", pair.id],
        "buddy_name": buddy.name,
        "buddy_first_name": buddy.first_name,
        "champion_name": champion.name,
        "champion_first_name": champion.first_name,
        **extra,
    }


# -- qualification overrides -------------------------------------------------------


def override_qualification(
    email_or_id: str | int, qualifies: bool, reason: str, coordinator_id: int | None
) -> Qualification:
    """A coordinator decides whether a champion qualifies, with a reason. Not
    qualifying any more takes back a suggestion or proposal in progress (an
    introduced pair goes on until someone ends it)."""
    person = person_by(email_or_id)
    row = qualification.override(person.id, qualifies, reason, coordinator_id)
    if not qualifies:
        for pair in db.session.scalars(
            select(Pair).where(Pair.champion_id == person.id, Pair.status.in_(("suggested", "proposed")))
        ).all():
            _withdraw(pair, "champion no longer qualifies", coordinator_id)
    return row


# -- settings ---------------------------------------------------------------------


def is_auto_matching() -> bool:
    row = db.session.get(ProgrammeSetting, AUTO_MATCHING)
    return row is not None and row.value == "on"


def set_auto_matching(on: bool, coordinator_id: int | None = None) -> None:
    row = db.session.get(ProgrammeSetting, AUTO_MATCHING)
    if row is None:
        row = ProgrammeSetting(key=AUTO_MATCHING)
        db.session.add(row)
    row.value = "on" if on else "off"
    row.updated_at = clock.now()
    row.updated_by_id = coordinator_id


# -- matching ---------------------------------------------------------------------


def champions_of(buddy_id: int) -> int:
    """How many champions the buddy knows they walk with now: proposed to
    them or running (a suggestion only coordinators have seen is left out)."""
    return _load(buddy_id, statuses=("proposed", "active"))


def _load(buddy_id: int, except_pair_id: int | None = None, statuses=OPEN_STATUSES) -> int:
    """Pairs of the buddy in `statuses` (by default: those holding one of their places)."""
    query = select(func.count(Pair.id)).where(Pair.buddy_id == buddy_id, Pair.status.in_(statuses))
    if except_pair_id is not None:
        query = query.where(Pair.id != except_pair_id)
    return db.session.scalar(query) or 0


def buddy_facts(now: datetime, ignore: Pair | None = None) -> list[matching.BuddyFacts]:
    """Every approved, reachable buddy as plain facts for the scorer."""
    settings = programme.load().matching
    loads = dict(
        db.session.execute(
            select(Pair.buddy_id, func.count(Pair.id))
            .where(Pair.status.in_(OPEN_STATUSES))
            .group_by(Pair.buddy_id)
        ).all()
    )
    if ignore is not None and ignore.status in OPEN_STATUSES:
        loads[ignore.buddy_id] = loads.get(ignore.buddy_id, 1) - 1
    cooling: dict[int, datetime] = {}
    cool_down = timedelta(days=settings.cool_down_days)
    for buddy_id, ended_at in db.session.execute(
        select(Pair.buddy_id, Pair.ended_at).where(Pair.status == "ended", Pair.ended_at > now - cool_down)
    ):
        cooling[buddy_id] = max(cooling.get(buddy_id, ended_at), ended_at + cool_down)
    facts = []
    for profile, person in db.session.execute(
        select(BuddyProfile, Person)
        .join(Person, Person.id == BuddyProfile.person_id)
        .where(BuddyProfile.status == "approved", Person.is_buddy.is_(True))
    ).all():
        if not _reachable(person, now):
            continue
        facts.append(
            matching.BuddyFacts(
                id=person.id,
                timezone=person.timezone,
                languages=frozenset(profile.languages),
                organisation_kinds=frozenset(profile.organisation_kinds),
                years=profile.years_experience,
                capacity=profile.capacity,
                load=loads.get(person.id, 0),
                cooling_until=cooling.get(person.id),
            )
        )
    return facts


def _champion_facts(person: Person) -> matching.ChampionFacts:
    return matching.ChampionFacts(
        id=person.id,
        timezone=person.timezone,
        language=person.language,
        organisation_kind=person.organisation.kind if person.organisation else None,
    )


def _past(champion_id: int, ignore: Pair | None = None) -> frozenset[tuple[int, int]]:
    rows = db.session.execute(
        select(Pair.id, Pair.buddy_id).where(Pair.champion_id == champion_id)
    ).all()
    return frozenset((champion_id, b) for pair_id, b in rows if ignore is None or pair_id != ignore.id)


def suggestion_of(champion_id: int) -> Pair | None:
    return db.session.scalar(
        select(Pair).where(Pair.champion_id == champion_id, Pair.status == "suggested")
    )


def ranking_for(champion_id: int, now: datetime | None = None,
                buddies: list[matching.BuddyFacts] | None = None) -> matching.Ranking:
    """Valid buddies for a champion, best first (their own suggestion included)."""
    now = now or clock.now()
    champion = db.session.get(Person, champion_id)
    suggestion = suggestion_of(champion_id)
    if buddies is None or suggestion is not None:
        buddies = buddy_facts(now, ignore=suggestion)
    return matching.rank(
        _champion_facts(champion), buddies, programme.load().matching, _past(champion_id, suggestion), now
    )


def _matchable_champion(champion_id: int) -> Person:
    champion = db.session.get(Person, champion_id)
    if champion is None or not champion.is_champion or champion.status != "active":
        raise PersonNotFound("That person is not a confirmed champion.")
    if not qualification.qualifies(champion_id):
        raise CannotPropose(
            f"{champion.email} does not qualify for buddy support (a coordinator can override this)."
        )
    for pair in db.session.scalars(
        select(Pair).where(Pair.champion_id == champion_id, Pair.status.in_(("proposed", "active")))
    ):
        what = "has a buddy" if pair.status == "active" else "has a proposal waiting for consent"
        raise CannotPropose(f"{champion.email} already {what} ({pair.buddy.email}).")
    return champion


def suggest(champion_id: int, now: datetime | None = None) -> Pair:
    """The best buddy for a champion, kept as a suggestion for coordinators.
    An existing suggestion is kept as it is. Raises NoMatch, CannotPropose."""
    now = now or clock.now()
    champion = _matchable_champion(champion_id)
    existing = suggestion_of(champion_id)
    if existing is not None:
        return existing
    ranking = ranking_for(champion_id, now)
    best = ranking.best
    if best is None:
        raise NoMatch(f"No buddy for {champion.email}: {ranking.why_none()}.")
    pair = Pair(champion_id=champion_id, buddy_id=best.buddy_id, status="suggested",
                score=best.score, reasons=list(best.reasons), created_at=now)
    db.session.add(pair)
    db.session.flush()
    return pair


def propose_match(
    champion_id: int,
    *,
    buddy_id: int | None = None,
    how: str = "coordinator",
    by_id: int | None = None,
    now: datetime | None = None,
) -> Pair:
    """Propose a buddy to a champion: the suggestion (or best candidate), or
    the buddy a coordinator picked. Both get the proposal and may object.
    Raises NoMatch, CannotPropose, PersonNotFound."""
    now = now or clock.now()
    champion = _matchable_champion(champion_id)
    suggestion = suggestion_of(champion_id)
    ranking = ranking_for(champion_id, now)
    if buddy_id is None:
        chosen = ranking.best
        if suggestion is not None and any(c.buddy_id == suggestion.buddy_id for c in ranking.candidates):
            chosen = next(c for c in ranking.candidates if c.buddy_id == suggestion.buddy_id)
        if chosen is None:
            raise NoMatch(f"No buddy for {champion.email}: {ranking.why_none()}.")
    else:
        chosen = next((c for c in ranking.candidates if c.buddy_id == buddy_id), None)
        if chosen is None:
            raise CannotPropose(_why_not(champion, buddy_id, suggestion, now))
    if suggestion is not None and suggestion.buddy_id != chosen.buddy_id:
        db.session.delete(suggestion)  # never proposed, so it does not count as a past pair
        db.session.flush()
        suggestion = None
    pair = suggestion or Pair(champion_id=champion_id, buddy_id=chosen.buddy_id, created_at=now)
    pair.score, pair.reasons = chosen.score, list(chosen.reasons)
    if suggestion is None:
        db.session.add(pair)
    db.session.flush()
    _propose(pair, how, by_id, now)
    return pair


def _why_not(champion: Person, buddy_id: int, suggestion: Pair | None, now: datetime) -> str:
    buddy = db.session.get(Person, buddy_id)
    if buddy is None or not buddy.is_buddy:
        return "That person is not an approved buddy."
    facts = next((b for b in buddy_facts(now, ignore=suggestion) if b.id == buddy_id), None)
    if facts is None:
        return f"{buddy.email} cannot take a champion now (paused, unsubscribed or not confirmed)."
    reason = matching.exclusion(
        _champion_facts(champion), facts, programme.load().matching, _past(champion.id, suggestion), now
    )
    return f"{buddy.email} cannot be {champion.email}'s buddy: {reason or 'not available'}."


def _propose(pair: Pair, how: str, by_id: int | None, now: datetime) -> None:
    # Capacity is a hard limit: take the buddy's row, then count again.
    db.session.execute(
        select(BuddyProfile.id).where(BuddyProfile.person_id == pair.buddy_id).with_for_update()
    ).all()
    profile = BuddyProfile.of(pair.buddy_id)
    if profile is None or _load(pair.buddy_id, except_pair_id=pair.id) >= profile.capacity:
        raise CannotPropose(f"{pair.buddy.email} has no free place.")
    settings = programme.load().matching
    sends = {person.id: _daytime(person, now) for person in (pair.champion, pair.buddy)}
    pair.status = "proposed"
    pair.proposed_at = now
    pair.proposed_how = how
    pair.proposed_by_id = by_id
    # Each side has the full period from the moment their proposal arrives.
    pair.consent_until = max(sends.values()) + timedelta(days=settings.consent_days)
    for person, template in ((pair.champion, "buddy_proposal_champion"), (pair.buddy, "buddy_proposal_buddy")):
        object_url = page_url(pair, person.id, "proposal")
        outbox.queue_email(
            person,
            template,
            stream="buddy",
            key=f"{person.id}:buddies:proposal:{pair.id}",
            params=_pair_params(
                pair,
                link=object_url,
                links={"object": object_url},
                consent_days=settings.consent_days,
                consent_until=_date_words(pair.consent_until, person.timezone),
            ),
            send_at=sends[person.id],
        )


@dataclass
class MatchReport:
    suggested: int = 0
    proposed: int = 0
    unmatched: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (f"{self.suggested} buddy suggestions, {self.proposed} proposals, "
                f"{self.unmatched} champions without a buddy available")
        return text + ("; problems: " + "; ".join(self.problems) if self.problems else "")


def waiting_champions(now: datetime | None = None, *, due_only: bool = False) -> list[Person]:
    """Qualifying champions with no proposal or buddy, who never had one
    introduced (coordinators, who sign up like champions, excepted); with
    `due_only`, only those past the programme's delay."""
    now = now or clock.now()
    busy = exists().where(
        Pair.champion_id == Person.id,
        or_(Pair.status.in_(("proposed", "active")), Pair.introduced_at.is_not(None)),
    )
    query = (
        select(Person)
        .join(Qualification, Qualification.person_id == Person.id)
        .where(Qualification.qualifies.is_(True), Person.is_champion.is_(True),
               Person.is_coordinator.is_(False), Person.status == "active", ~busy)
        .order_by(Person.confirmed_at, Person.id)
    )
    if due_only:
        delay = timedelta(days=programme.load().matching.suggest_after_days)
        query = query.where(Person.confirmed_at <= now - delay)
    return list(db.session.scalars(query))


def suggest_for_due_champions(now: datetime | None = None) -> MatchReport:
    """Run by the clock: each qualifying champion past the delay gets a
    suggestion for the coordinators, or, with automatic matching on, a
    proposal. Commits after each champion."""
    now = now or clock.now()
    report = MatchReport()
    auto = is_auto_matching()
    try:
        due = waiting_champions(now, due_only=True)
    except programme.ProgrammeError as error:  # a coordinator's typo must not stop the clock
        report.problems.append(str(error))
        return report
    for champion in due:
        if not _reachable(champion, now):
            continue
        if not auto and suggestion_of(champion.id) is not None:
            continue
        try:
            if auto:
                propose_match(champion.id, how="auto", now=now)
                report.proposed += 1
            else:
                suggest(champion.id, now)
                report.suggested += 1
            db.session.commit()
        except NoMatch:
            db.session.rollback()
            report.unmatched += 1
        except Exception as error:  # one champion's problem must not stop the others
            db.session.rollback()
            log.exception("buddy matching failed for person %s", champion.id)
            report.problems.append(f"person {champion.id}: {error}")
    return report


# -- consent, withdrawal and the introduction ---------------------------------------


def _member(pair: Pair, person_id: int) -> None:
    if person_id not in pair.member_ids():
        raise NotInPair(f"Person {person_id} is not part of pair {pair.id}.")


def pair_for_reply(pair_id: int) -> Pair | None:
    """The pair a signed `reply+p<pair_id>-…` address names, in any status
    (None when it no longer exists). Check `status` before logging: a proposal
    is "proposed", a running pair "active"."""
    return db.session.get(Pair, pair_id)


def active_pairs_for(person_id: int) -> list[Pair]:
    """Every introduced, not ended pair of a person (as champion or buddy)."""
    return list(db.session.scalars(_active_pairs_of(), {"person": person_id}))


@functools.cache
def _active_pairs_of():
    """Built once: every reply to a programme email asks this."""
    person = bindparam("person")
    return (
        select(Pair)
        .where(Pair.status == "active", or_(Pair.champion_id == person, Pair.buddy_id == person))
        .order_by(Pair.introduced_at, Pair.id)
    )


def active_pair_for(person_id: int) -> Pair | None:
    """The champion's current buddy pair; for a buddy, their pair when they have
    exactly one (None when they have several: use `active_pairs_for`)."""
    pairs = active_pairs_for(person_id)
    as_champion = [p for p in pairs if p.champion_id == person_id]
    if as_champion:
        return as_champion[0]
    return pairs[0] if len(pairs) == 1 else None


def object_to_pair(pair_id: int, person_id: int, how: str) -> None:
    """A member objects to a proposal ("reply", "page", ...): it will not go
    ahead, both are told without saying who objected, and the champion gets
    the next suggestion (a proposal when automatic matching is on).
    Objecting again, or after the other did, changes nothing. Raises
    PairNotFound, NotInPair, TooLateToObject. The caller commits."""
    pair = db.session.get(Pair, pair_id)
    if pair is None:
        raise PairNotFound(f"There is no pair {pair_id}.")
    _member(pair, person_id)
    if pair.status in ("objected", "withdrawn"):
        return
    if pair.status != "proposed":
        raise TooLateToObject(
            "The consent period for this pairing is over. If it does not work, you can end it: "
            "reply \"end\" to an email about your pairing, or use the link in your check-in emails."
        )
    now = clock.now()
    pair.objected_by_id, pair.objected_at, pair.objected_how = person_id, now, (how or "")[:20]
    _close_proposal(pair, "objected", now)
    _next_for(pair.champion_id, now)


def _withdraw(pair: Pair, reason: str, by_id: int | None) -> None:
    """A coordinator (or a change of qualification) takes back a suggestion or proposal."""
    now = clock.now()
    if pair.status == "suggested":
        db.session.delete(pair)
        return
    pair.ended_by_id, pair.end_reason = by_id, reason
    _close_proposal(pair, "withdrawn", now)


def _close_proposal(pair: Pair, status: str, now: datetime) -> None:
    pair.status = status
    pair.ended_at = now
    # One template for both, so neither learns who objected.
    for person in (pair.champion, pair.buddy):
        outbox.queue_email(
            person,
            "buddy_proposal_withdrawn",
            stream="buddy",
            key=f"{person.id}:buddies:not-going-ahead:{pair.id}",
            params={"pair_id": pair.id},
            send_at=_daytime(person, now),
        )


def _next_for(champion_id: int, now: datetime) -> None:
    try:
        if is_auto_matching():
            propose_match(champion_id, how="auto", now=now)
        else:
            suggest(champion_id, now)
    except (NoMatch, CannotPropose, PersonNotFound):
        pass  # the champion stays on the coordinators' waiting list


def introduce(pair: Pair, now: datetime | None = None) -> Delivery:
    """Silence was consent: one email to both, in one thread whose replies go
    to the signed pair address, and the check-in prompts start."""
    now = now or clock.now()
    if pair.status != "proposed":
        raise CannotPropose(f"Pair {pair.id} is {pair.status}: only a proposal can be introduced.")
    champion, buddy = pair.champion, pair.buddy
    pair.status = "active"
    pair.introduced_at = now
    pair.last_activity_at = now
    delivery = outbox.queue_email(
        champion,
        "buddy_introduction",
        stream="buddy",
        key=f"{champion.id}:buddies:introduction:{pair.id}",
        # One email to both: no per-person links here (each has their own in
        # their check-in prompts).
        params=_pair_params(
            pair, also_to=[buddy.id], links={"profiles": page_url(pair, champion.id, "profiles")}
        ),
        send_at=_daytime(champion, now),
    )
    pair.intro_message_id = _message_id_of(delivery)
    thread = {"reply_to": ["p", pair.id], "thread": pair.intro_message_id, "pair_id": pair.id}
    journeys.start_journey(
        buddy.id, BUDDY_SEQUENCE, scope=pair.scope,
        params={**thread, "champion_first_name": champion.first_name, "champion_name": champion.name,
                "link": page_url(pair, buddy.id, "pair")},
    )
    journeys.start_journey(
        champion.id, CHAMPION_SEQUENCE, scope=pair.scope,
        params={**thread, "buddy_first_name": buddy.first_name, "buddy_name": buddy.name,
                "link": page_url(pair, champion.id, "pair")},
    )
    return delivery


def _consent_ended(pair: Pair, now: datetime) -> str:
    """Introduce a proposal whose consent period ended, unless something
    changed meanwhile (then it is withdrawn and the champion waits again)."""
    champion, buddy = pair.champion, pair.buddy
    profile = BuddyProfile.of(buddy.id)
    if (
        champion.status != "active"
        or buddy.status != "active"
        or profile is None
        or profile.status != "approved"
        or not qualification.qualifies(champion.id)
    ):
        _withdraw(pair, "a person left or changed before the introduction", None)
        _next_for(champion.id, now)
        return "withdrawn"
    introduce(pair, now)
    return "introduced"


# -- ending -----------------------------------------------------------------------


def end_pair(pair_id: int, person_id: int | None, reason: str) -> None:
    """End a pairing, by either member or a coordinator (`person_id`), or by
    Hearth itself (None). Both get one closing email in the pair's thread; the
    check-in prompts stop. Ending a proposal is an objection (by a member) or
    a withdrawal (by a coordinator). Ending twice changes nothing. Raises
    PairNotFound, NotInPair. The caller commits."""
    pair = db.session.get(Pair, pair_id)
    if pair is None:
        raise PairNotFound(f"There is no pair {pair_id}.")
    is_member = person_id is not None and person_id in pair.member_ids()
    if person_id is not None and not is_member:
        person = db.session.get(Person, person_id)
        if person is None or not person.is_coordinator:
            raise NotInPair(f"Person {person_id} is not part of pair {pair_id}.")
    if pair.status in ("ended", "objected", "withdrawn"):
        return
    if pair.status == "suggested":
        _withdraw(pair, reason, person_id)  # nobody was told of it yet
        return
    if pair.status == "proposed":
        if is_member:
            object_to_pair(pair_id, person_id, "end")
        else:
            _withdraw(pair, reason or "withdrawn by a coordinator", person_id)
        return
    now = clock.now()
    pair.status = "ended"
    pair.ended_at = now
    pair.ended_by_id = person_id
    pair.end_reason = (reason or "").strip() or None
    champion, buddy = pair.champion, pair.buddy
    outbox.queue_email(
        champion,
        "buddy_pair_ended",
        stream="buddy",
        key=f"{champion.id}:buddies:ended:{pair.id}",
        params={**_pair_params(pair, also_to=[buddy.id]),
                **({"thread": pair.intro_message_id} if pair.intro_message_id else {})},
        send_at=_daytime(champion, now),
    )
    _stop_prompts(pair)


def _stop_prompts(pair: Pair) -> None:
    for member_id in pair.member_ids():
        journeys.record_event(member_id, "pair_ended", scope=pair.scope)
    # Prompts already written but held (attention cap, pause) are not sent.
    db.session.execute(
        update(Delivery)
        .where(Delivery.status == "pending",
               Delivery.idempotency_key.like(f"%@{pair.scope}:%"))
        .values(status="cancelled", last_error="the pairing ended")
        .execution_options(synchronize_session=False)
    )


# -- check-ins --------------------------------------------------------------------


def record_checkin(
    pair_id: int,
    author_id: int,
    text: str,
    *,
    inbound_id: int | None = None,
    at: datetime | None = None,
) -> Checkin:
    """Log what a member of a pair wrote (the new text only: quotes and
    signatures already removed). An "energy: N" line (1-5; also "Energie: 2",
    "energía: 2") is stored as `energy` and removed from the text. Low energy
    or words of burnout put the pair on the at-risk list. Idempotent per
    `inbound_id` (UNIQUE): the same message gives the same Checkin. Raises
    PairNotFound, NotInPair. The caller commits."""
    pair = db.session.get(Pair, pair_id)
    if pair is None:
        raise PairNotFound(f"There is no pair {pair_id}.")
    _member(pair, author_id)
    if inbound_id is not None:
        existing = db.session.scalar(select(Checkin).where(Checkin.inbound_id == inbound_id))
        if existing is not None:
            return existing
    now = clock.now()
    at = at or now
    cleaned, energy = reading.extract_energy(text or "")
    checkin = Checkin(pair_id=pair.id, author_id=author_id, inbound_id=inbound_id,
                      text=cleaned, energy=energy, at=at, recorded_at=now)
    db.session.add(checkin)
    db.session.flush()
    if pair.status == "active" and (pair.last_activity_at is None or at > pair.last_activity_at):
        pair.last_activity_at = at
        # A check-in ends a silence: its concern is resolved.
        db.session.execute(
            update(Concern)
            .where(Concern.pair_id == pair.id, Concern.kind == "silence", Concern.resolved_at.is_(None))
            .values(resolved_at=now)
            .execution_options(synchronize_session=False)
        )
    care = programme.load().care
    if energy is not None and energy <= care.low_energy:
        _concern(pair, "low_energy", f"energy {energy} of 5 in a check-in", checkin,
                 f"{pair.id}:low_energy:{checkin.id}")
    words = reading.burnout_words(cleaned, [w for listed in care.burnout_words.values() for w in listed])
    if words:
        _concern(pair, "burnout_words", "words of burnout: " + ", ".join(words), checkin,
                 f"{pair.id}:burnout_words:{checkin.id}")
    return checkin


def _concern(pair: Pair, kind: str, detail: str, checkin: Checkin | None, key: str) -> Concern:
    existing = db.session.scalar(select(Concern).where(Concern.dedupe_key == key))
    if existing is not None:
        return existing
    concern = Concern(pair_id=pair.id, kind=kind, detail=detail,
                      checkin_id=checkin.id if checkin else None, dedupe_key=key,
                      created_at=clock.now())
    db.session.add(concern)
    return concern


def checkins_of(pair_id: int) -> list[Checkin]:
    return list(db.session.scalars(select(Checkin).where(Checkin.pair_id == pair_id)
                                   .order_by(Checkin.at, Checkin.id)))


def resolve_concern(concern_id: int, coordinator_id: int | None) -> Concern:
    concern = db.session.get(Concern, concern_id)
    if concern is None:
        raise PairNotFound("That concern is not on the list any more.")
    if concern.resolved_at is None:
        concern.resolved_at = clock.now()
        concern.resolved_by_id = coordinator_id
    return concern


# -- the clock's review -----------------------------------------------------------


@dataclass
class ReviewReport:
    introduced: int = 0
    withdrawn: int = 0
    nudged: int = 0
    at_risk: int = 0
    prompts_stopped: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (f"{self.introduced} pairs introduced, {self.withdrawn} proposals withdrawn, "
                f"{self.nudged} buddies nudged, {self.at_risk} pairs newly at risk")
        return text + ("; problems: " + "; ".join(self.problems) if self.problems else "")


def _each(ids: list[int], step: Callable[[Pair], None], report: ReviewReport) -> None:
    """One transaction per pair: one bad row never holds back the rest."""
    for pair_id in ids:
        pair = db.session.get(Pair, pair_id)
        if pair is None:
            continue
        try:
            step(pair)
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            log.exception("buddy review failed for pair %s", pair_id)
            report.problems.append(f"pair {pair_id}: {error}")


def review_pairs(now: datetime | None = None) -> ReviewReport:
    """Run by the clock: introduce proposals whose consent period ended
    (silence is consent), nudge buddies after four silent weeks (once per
    silence), put pairs silent for six weeks on the at-risk list, and stop
    check-in prompts of pairs that no longer exist. Commits."""
    now = now or clock.now()
    report = ReviewReport()
    try:
        care = programme.load().care
    except programme.ProgrammeError as error:  # a coordinator's typo must not stop the clock
        report.problems.append(str(error))
        return report

    def consent(pair: Pair) -> None:
        if pair.status == "proposed" and pair.consent_until <= now:
            outcome = _consent_ended(pair, now)
            report.introduced += outcome == "introduced"
            report.withdrawn += outcome == "withdrawn"

    _each(list(db.session.scalars(
        select(Pair.id).where(Pair.status == "proposed", Pair.consent_until <= now).order_by(Pair.id)
    )), consent, report)

    def nudge(pair: Pair) -> None:
        since = pair.last_activity_at
        outbox.queue_email(
            pair.buddy,
            "buddy_nudge",
            stream="buddy",
            key=f"{pair.buddy_id}:buddies:nudge:{pair.id}:{int(since.timestamp())}",
            params={**_pair_params(pair), **({"thread": pair.intro_message_id} if pair.intro_message_id else {}),
                    "link": page_url(pair, pair.buddy_id, "pair")},
            # Within the attention cap, at the buddy's 09:00 on a weekday.
            send_at=attention.find_slot(
                pair.buddy_id, pair.buddy.timezone,
                sequences.next_window(SEND_AT, True, pair.buddy.timezone, now),
                lambda moment: sequences.next_window(SEND_AT, True, pair.buddy.timezone, moment),
            )[0],
        )
        pair.nudged_for = since
        report.nudged += 1

    _each(list(db.session.scalars(
        select(Pair.id).where(
            Pair.status == "active",
            Pair.last_activity_at <= now - timedelta(days=care.nudge_after_days),
            or_(Pair.nudged_for.is_(None), Pair.nudged_for != Pair.last_activity_at),
        ).order_by(Pair.id)
    )), nudge, report)

    def silence(pair: Pair) -> None:
        since = pair.last_activity_at
        weeks = (now - since).days // 7
        _concern(pair, "silence",
                 f"no check-in for {weeks} weeks (since {since.date().isoformat()})", None,
                 f"{pair.id}:silence:{int(since.timestamp())}")
        report.at_risk += 1

    flagged = exists().where(
        Concern.pair_id == Pair.id, Concern.kind == "silence", Concern.created_at >= Pair.last_activity_at
    )
    _each(list(db.session.scalars(
        select(Pair.id).where(
            Pair.status == "active",
            Pair.last_activity_at <= now - timedelta(days=care.at_risk_after_days),
            ~flagged,
        ).order_by(Pair.id)
    )), silence, report)

    report.prompts_stopped = _stop_orphaned_prompts()
    return report


def _stop_orphaned_prompts() -> int:
    """Check-in journeys whose pair ended or vanished (e.g. with a deleted
    account) stop, so nobody is asked about a pairing that is over."""
    rows = db.session.execute(
        select(Journey.id, Journey.scope).where(
            Journey.sequence.in_((BUDDY_SEQUENCE, CHAMPION_SEQUENCE)), Journey.state == "active"
        )
    ).all()
    if not rows:
        return 0
    active = set(db.session.scalars(select(Pair.id).where(Pair.status == "active")))
    orphans = []
    for journey_id, scope in rows:
        number = scope.partition(":")[2]
        if not (scope.startswith("pair:") and number.isdigit() and int(number) in active):
            orphans.append(journey_id)
    if orphans:
        db.session.execute(
            update(Journey).where(Journey.id.in_(orphans), Journey.state == "active")
            .values(state="stopped", next_due_at=None, stopped_reason="pair_ended",
                    version=Journey.version + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return len(orphans)


__all__ = [
    "active_pair_for",
    "active_pairs_for",
    "end_pair",
    "object_to_pair",
    "pair_for_reply",
    "record_checkin",
    "review_pairs",
    "suggest_for_due_champions",
]


def end_pairs_for_departure(person_id: int) -> int:
    """A person deleted their account: end their proposals and pairings and
    tell the other person alone (an email shared with the one who left would
    be cancelled with the rest of their mail). The caller commits."""
    now = clock.now()
    ended = 0
    for pair in db.session.scalars(
        select(Pair).where(
            Pair.status.in_(("suggested", "proposed", "active")),
            or_(Pair.champion_id == person_id, Pair.buddy_id == person_id),
        )
    ):
        if pair.status == "suggested":
            db.session.delete(pair)
            continue
        other = pair.buddy if pair.champion_id == person_id else pair.champion
        was_active = pair.status == "active"
        pair.status, pair.ended_at, pair.ended_by_id = "ended", now, None
        pair.end_reason = "account deleted"
        if was_active:
            _stop_prompts(pair)
        outbox.queue_email(
            other,
            "buddy_partner_left",
            stream="buddy",
            key=f"{other.id}:buddies:partner-left:{pair.id}",
            params={"was_active": was_active},
            send_at=_daytime(other, now),
        )
        ended += 1
    return ended
