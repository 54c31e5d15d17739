"""Decisions of the sequence engine: start, advance, pause, reschedule, stop.

`tick_journeys(now)` takes due journeys in batches through the
(state, next_due_at) index (FOR UPDATE SKIP LOCKED on PostgreSQL), writes each
Delivery with its UNIQUE idempotency key in the same transaction that advances
the journey, and commits. Two ticks at once cannot double an email: the key is
unique and each journey row is versioned; a batch that loses a race is rolled
back and redone one journey at a time.

A batch reads what its journeys need with one query a table (people,
unsubscribes, planned emails for the attention cap, which delivery keys exist)
and writes everything in one flush at its commit: a due journey costs no
round trip of its own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.accounts.models import Person
from app.extensions import db
from app.journeys.models import Journey
from app.outbox import attention, unsubscribes
from app.outbox import service as outbox
from app.outbox.models import Delivery
from emails import sequences

log = logging.getLogger(__name__)
BATCH = 200
# After a pause, or when a step is overdue, a journey sends at most one email a day.
MIN_GAP = timedelta(days=1)


@dataclass
class _Batch:
    """What the journeys of one batch read, one query a table (module docstring)."""

    now: datetime
    sequences: dict[str, sequences.Sequence]  # each loaded once a batch (a file stat each)
    people: dict[int, Person]
    left: dict[int, set[str]]  # streams each person unsubscribed from
    taken: dict[int, list[datetime]]  # attention.planned_times around `now`
    existing_keys: set[str]


@dataclass
class JourneyReport:
    written: int = 0
    held: int = 0
    skipped: int = 0
    completed: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)


def start_journey(
    person_id: int, sequence: str, *, scope: str = "", params: dict | None = None
) -> Journey:
    """Start `sequence` for a person (once per `scope`); starting it twice is a no-op.
    `params` reach every email of the run (e.g. a pair's id and reply address)."""
    existing = Journey.for_person(person_id, sequence, scope)
    if existing is not None:
        return existing
    now = clock.now()
    seq = sequences.load(sequence)
    first = seq.first_step()
    person = db.session.get(Person, person_id)
    journey = Journey(
        person_id=person_id,
        sequence=sequence,
        scope=scope,
        params=params or {},
        state="active",
        next_step=first.key,
        anchor_at=now,
        next_due_at=sequences.due_at(first, anchor=now, tz=person.timezone, not_before=now),
        started_at=now,
        passed=[],
        occurrence=0,
    )
    db.session.add(journey)
    return journey


def _paused_until(person: Person) -> date | None:
    """The local date a person's pause ends, when they are paused now."""
    if person.paused_until is None:
        return None
    today = clock.now().astimezone(ZoneInfo(person.timezone)).date()
    return person.paused_until if today < person.paused_until else None


def _window(step: sequences.Step, tz: str):
    if step.at is None:
        return lambda moment: moment
    return lambda moment: sequences.next_window(step.at, step.weekdays, tz, moment)


def _schedule(journey: Journey, step: sequences.Step, person: Person, now: datetime) -> None:
    """Point the journey at `step` and compute when it is due."""
    anchor = step.anchor(started_at=journey.started_at, previous_at=journey.last_sent_at)
    not_before = now
    if journey.last_sent_at is not None:
        not_before = max(now, journey.last_sent_at + MIN_GAP)
    journey.next_step = step.key
    journey.anchor_at = anchor
    journey.next_due_at = sequences.due_at(step, anchor=anchor, tz=person.timezone, not_before=not_before)


def _finish_step(journey: Journey, seq: sequences.Sequence, step: sequences.Step,
                 person: Person, now: datetime) -> str:
    """After a send or skip at `journey.last_sent_at`: repeat, move on, or complete."""
    if step.repeat is not None and journey.occurrence > 0:
        again = sequences.due_again_at(
            step, last_sent=journey.last_sent_at, times_sent=journey.occurrence,
            tz=person.timezone, not_before=now,
        )
        if again is not None:
            journey.next_step, journey.anchor_at, journey.next_due_at = step.key, journey.last_sent_at, again
            return "repeat"
    journey.passed = [*journey.passed, step.key]
    journey.occurrence = 0
    following = seq.next_unpassed(journey.passed)
    if following is None:
        journey.state, journey.next_step, journey.next_due_at = "completed", None, None
        return "completed"
    _schedule(journey, following, person, now)
    return "next"


def advance(journey: Journey, now: datetime, report: JourneyReport, batch: _Batch | None = None) -> None:
    """Do what is due for one journey at `now` (the caller commits). `batch`:
    what was read for it and its batch, instead of a query each."""
    person = batch.people.get(journey.person_id) if batch else db.session.get(Person, journey.person_id)
    if person is None or person.status != "active":
        journey.state, journey.next_due_at, journey.stopped_reason = "stopped", None, "person left"
        return
    try:
        seq = batch.sequences.get(journey.sequence) if batch else None
        seq = seq or sequences.load(journey.sequence)
    except sequences.SequenceError as error:
        # Hold, do not lose: the next tick tries again once the file is fixed.
        journey.next_due_at = now + timedelta(minutes=30)
        report.errors.append(str(error))
        return
    step = seq.next_unpassed(journey.passed)
    if step is None:
        journey.state, journey.next_step, journey.next_due_at = "completed", None, None
        report.completed += 1
        return
    if step.key != journey.next_step:
        # The file changed: a step was removed or added. Re-plan from the anchor.
        _schedule(journey, step, person, now)
        if journey.next_due_at > now:
            return
    window = _window(step, person.timezone)

    paused_until = _paused_until(person)
    if paused_until is not None:
        if step.skip_when_paused:
            journey.last_sent_at = now
            report.skipped += 1
            _finish_step(journey, seq, step, person, now)
        else:
            resume = datetime.combine(paused_until, time.min, ZoneInfo(person.timezone))
            journey.next_due_at = window(max(resume, now))
            report.held += 1
        return

    if (outbox.has_left(batch.left[person.id], step.stream) if batch
            else unsubscribes.is_unsubscribed(person.id, step.stream)):
        journey.last_sent_at = now
        report.skipped += 1
        _finish_step(journey, seq, step, person, now)
        return

    wanted = journey.next_due_at or now
    slot, held_reason = wanted, None
    around = max(wanted, now)
    taken = batch.taken[person.id] if batch and around == batch.now else None
    if not attention.is_exempt(step.stream):
        slot, held_reason = attention.find_slot(person.id, person.timezone, around, window, taken=taken)
    key = _delivery_key(journey, step)
    email = dict(
        stream=step.stream,
        key=key,
        params={**journey.params, "sequence": journey.sequence, "step": step.key,
                "occurrence": journey.occurrence},
        due_at=wanted,
        send_at=slot,
        held_reason=held_reason,
    )
    if batch and key not in batch.existing_keys:
        outbox.add_email(person, step.template, **email, enqueued=True)  # tick_journeys enqueues
        if taken is not None and not attention.is_exempt(step.stream):
            attention.remember(taken, slot, around)  # a second journey of this person sees it
    else:
        outbox.queue_email(person, step.template, **email)
    report.written += 1
    report.held += held_reason is not None
    journey.occurrence += 1
    journey.last_sent_at = slot
    if _finish_step(journey, seq, step, person, now) == "completed":
        report.completed += 1


def _delivery_key(journey: Journey, step: sequences.Step) -> str:
    """(person, journey, step, occurrence): UNIQUE on the Delivery row."""
    scope = f"@{journey.scope}" if journey.scope else ""
    return f"{journey.person_id}:{journey.sequence}{scope}:{step.key}:{journey.occurrence}"


def _priority(journey: Journey, loaded: dict[str, sequences.Sequence]) -> int:
    seq = loaded.get(journey.sequence)
    step = seq.step(journey.next_step or "") if seq else None
    return step.priority if step else 99


def _load_sequences(names) -> dict[str, sequences.Sequence]:
    """The sequences that load (a broken file is left out: its journeys wait)."""
    loaded = {}
    for name in set(names):
        with contextlib.suppress(sequences.SequenceError):
            loaded[name] = sequences.load(name)
    return loaded


def _due_ids(now: datetime, after_id: int, limit: int) -> list[int]:
    return list(
        db.session.scalars(
            select(Journey.id)
            .where(Journey.state == "active", Journey.next_due_at <= now, Journey.id > after_id)
            .order_by(Journey.id)
            .limit(limit)
        )
    )


def _load_batch(ids: list[int]) -> tuple[list[Journey], dict[str, sequences.Sequence]]:
    # `state` is checked here, not in SQL: without statistics SQLite would
    # answer `state = 'active'` from the (state, next_due_at) index, reading
    # every active journey (18 ms a batch at 100,000), not the ids asked for.
    rows = [journey for journey in db.session.scalars(
        select(Journey)
        .where(Journey.id.in_(ids))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ) if journey.state == "active"]
    loaded = _load_sequences(j.sequence for j in rows)
    # One person's journeys due together: buddy and circles before onboarding
    # before surveys, so the attention cap holds back the least urgent.
    return sorted(rows, key=lambda j: (j.person_id, _priority(j, loaded), j.next_due_at, j.id)), loaded


def _read_batch(journeys: list[Journey], loaded: dict[str, sequences.Sequence],
                now: datetime) -> _Batch:
    person_ids = {journey.person_id for journey in journeys}
    keys = set()
    for journey in journeys:
        step = loaded[journey.sequence].next_unpassed(journey.passed) if journey.sequence in loaded else None
        if step is not None:
            keys.add(_delivery_key(journey, step))  # the key advance() would write
    return _Batch(
        now=now,
        sequences=loaded,
        people={p.id: p for p in db.session.scalars(
            select(Person).where(Person.id.in_(person_ids)).options(lazyload(Person.organisation))
        )},
        left=outbox.unsubscribed_streams(person_ids),
        taken=attention.planned_times_of(person_ids, now),
        existing_keys=set(db.session.scalars(
            select(Delivery.idempotency_key).where(Delivery.idempotency_key.in_(keys))
        )) if keys else set(),
    )


def _run(ids: list[int], now: datetime, report: JourneyReport) -> bool:
    """Advance these journeys in one transaction; False when it lost a race."""
    try:
        journeys, loaded = _load_batch(ids)
        due = [j for j in journeys if j.next_due_at is not None and j.next_due_at <= now]
        if due:
            batch = _read_batch(due, loaded, now)
            for journey in due:
                advance(journey, now, report, batch)
        db.session.commit()
        return True
    except (IntegrityError, StaleDataError):
        db.session.rollback()
        return False


def tick_journeys(now: datetime | None = None, *,
                  after_commit: Callable[[], object] = outbox.enqueue_new) -> JourneyReport:
    """Advance every journey due at `now`. `after_commit` runs after each
    committed batch: by default it enqueues the batch's emails, so sending
    starts while the tick goes on (they are written marked as enqueued)."""
    now = now or clock.now()
    report = JourneyReport()
    after_id = 0
    while True:
        ids = _due_ids(now, after_id, BATCH)
        if not ids:
            break
        after_id = ids[-1]
        trial = JourneyReport()
        if _run(ids, now, trial):
            _merge(report, trial)
        else:
            # Another tick got there first for some of them: one at a time now.
            for journey_id in ids:
                single = JourneyReport()
                if _run([journey_id], now, single):
                    _merge(report, single)
                else:
                    report.conflicts += 1
        after_commit()
    return report


def _merge(into: JourneyReport, other: JourneyReport) -> None:
    for name in ("written", "held", "skipped", "completed", "conflicts"):
        setattr(into, name, getattr(into, name) + getattr(other, name))
    into.errors.extend(other.errors)


def reschedule_person(person_id: int) -> None:
    """The person changed time zone: their next emails go at the new local time."""
    person = db.session.get(Person, person_id)
    now = clock.now()
    for journey in db.session.scalars(
        select(Journey).where(Journey.person_id == person_id, Journey.state == "active")
    ):
        try:
            step = sequences.load(journey.sequence).step(journey.next_step or "")
        except sequences.SequenceError:
            continue
        if step is None or journey.anchor_at is None:
            continue
        not_before = now if journey.last_sent_at is None else max(now, journey.last_sent_at + MIN_GAP)
        journey.next_due_at = sequences.due_at(
            step, anchor=journey.anchor_at, tz=person.timezone, not_before=not_before
        )


def record_event(person_id: int, event: str, *, scope: str | None = None) -> int:
    """Something happened (e.g. "left_programme", "pair_ended"): stop the
    journeys that stop on it and end repeats that run until it; only the runs
    of `scope` when given. Returns how many journeys changed."""
    changed = 0
    now = clock.now()
    person = db.session.get(Person, person_id)
    query = select(Journey).where(Journey.person_id == person_id, Journey.state == "active")
    if scope is not None:
        query = query.where(Journey.scope == scope)
    for journey in db.session.scalars(query):
        try:
            seq = sequences.load(journey.sequence)
        except sequences.SequenceError:
            continue
        step = seq.step(journey.next_step or "")
        if event in seq.stop_on or (step is not None and event in step.stop_on):
            journey.state, journey.next_due_at, journey.stopped_reason = "stopped", None, event
            changed += 1
        elif step is not None and step.until == event:
            journey.occurrence = 0
            journey.passed = [*journey.passed, step.key]
            following = seq.next_unpassed(journey.passed)
            if following is None:
                journey.state, journey.next_step, journey.next_due_at = "completed", None, None
            else:
                _schedule(journey, following, person, now)
            changed += 1
    return changed


def stop_all(person_id: int, reason: str) -> None:
    for journey in db.session.scalars(
        select(Journey).where(Journey.person_id == person_id, Journey.state == "active")
    ):
        journey.state, journey.next_due_at, journey.stopped_reason = "stopped", None, reason
