"""One tick of the programme: everything that is due at `now` happens.

Run every 30 s by the clock process (under a Redis lock) and by `flask tick`.
The database says what is due, so a tick after lost Redis keys repairs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import clock
from app.buddies import service as buddies
from app.circles import service as circles
from app.inbound import service as inbound
from app.journeys.service import JourneyReport, tick_journeys
from app.outbox import service as outbox
from app.surveys import service as surveys


@dataclass
class TickReport:
    journeys: JourneyReport
    enqueued: int = 0
    inbound_requeued: int = 0

    def __str__(self) -> str:
        j = self.journeys
        text = (f"{j.written} emails written ({j.held} held by the cap or a pause), "
                f"{j.skipped} steps skipped, {j.completed} journeys completed, "
                f"{self.enqueued} deliveries enqueued")
        if j.conflicts:
            text += f", {j.conflicts} journeys left to a concurrent tick"
        if j.errors:
            text += "; problems: " + "; ".join(sorted(set(j.errors)))
        return text


def tick() -> TickReport:
    """Due journeys write their deliveries, a batch at a time, each batch's
    sends enqueued as soon as it is committed (sending overlaps the tick);
    then what else is due, and the repair of lost or stale jobs."""
    now = clock.now()
    enqueued = 0

    def enqueue_batch() -> None:
        nonlocal enqueued
        enqueued += outbox.enqueue_new()

    journeys = tick_journeys(now, after_commit=enqueue_batch)
    buddies.suggest_for_due_champions(now)  # matches, consent by silence, introductions
    buddies.review_pairs(now)  # nudges after silence, the at-risk list
    circles.tick_circles(now)  # reminders, facilitator prep, placement proposals
    surveys.tick_surveys(now)  # graduation when the journey ends, survey reminders
    report = TickReport(journeys=journeys, enqueued=enqueued + outbox.enqueue_pending())
    report.inbound_requeued = inbound.reenqueue_stale()
    return report
