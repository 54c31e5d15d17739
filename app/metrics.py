"""Prometheus metrics, read from the database and Redis at scrape time.

Nothing is counted in process memory: the database is the truth (invariant 1),
so any web process answers for all of them, however many workers and clocks
run on however many hosts. Each scrape costs a few indexed queries; the
lateness figure reads the (due_at, sent_at) pairs of the last hour.

A source that cannot be read (Redis down) reports `hearth_source_up{source}`
0 and leaves its own metrics out; the others still answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from rq import Worker
from sqlalchemy import func, select

from app import clock, queues
from app.extensions import db
from app.inbound.models import InboundMessage
from app.outbox.models import Delivery

log = logging.getLogger(__name__)
LATENESS_WINDOW = timedelta(hours=1)
QUANTILES = (0.5, 0.99)


def _aware(moment: datetime | None) -> datetime | None:
    # func.min/max bypass the UTC column type: SQLite hands back naive values.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of an ascending list; NaN when it is empty."""
    if not sorted_values:
        return math.nan
    rank = max(math.ceil(q * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def queue_metrics() -> Iterator[Metric]:
    connection = queues.connection()
    jobs = GaugeMetricFamily("hearth_queue_jobs", "Jobs waiting on an RQ queue.", labels=["queue"])
    started = GaugeMetricFamily(
        "hearth_queue_started_jobs", "Jobs a worker is running now.", labels=["queue"]
    )
    failed = GaugeMetricFamily(
        "hearth_queue_failed_jobs", "Jobs in the failed registry (kept 7 days).", labels=["queue"]
    )
    workers = GaugeMetricFamily(
        "hearth_queue_workers", "RQ workers registered for a queue.", labels=["queue"]
    )
    for name in queues.ALL:
        queue = queues.queue(name)
        jobs.add_metric([name], queue.count)
        started.add_metric([name], queue.started_job_registry.count)
        failed.add_metric([name], queue.failed_job_registry.count)
        workers.add_metric([name], Worker.count(connection=connection, queue=queue))
    yield from (jobs, started, failed, workers)


def delivery_metrics(now: datetime) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(
        "hearth_deliveries", "Deliveries (emails) by current status and stream.",
        labels=["status", "stream"],
    )
    rows = db.session.execute(
        select(Delivery.status, Delivery.stream, func.count()).group_by(Delivery.status, Delivery.stream)
    ).all()
    for status, stream, count in rows:
        by_status.add_metric([status, stream], count)
    yield by_status

    due = GaugeMetricFamily(
        "hearth_deliveries_due", "Pending deliveries whose send time has come (the backlog).",
        labels=["queue"],
    )
    oldest = GaugeMetricFamily(
        "hearth_deliveries_oldest_due_seconds",
        "How long the oldest due pending delivery has waited past its send time.",
        labels=["queue"],
    )
    backlog = db.session.execute(
        select(Delivery.queue, func.count(), func.min(Delivery.next_attempt_at))
        .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
        .group_by(Delivery.queue)
    ).all()
    waiting = {name: (count, _aware(first)) for name, count, first in backlog}
    for name in queues.ALL:
        count, first = waiting.get(name, (0, None))
        due.add_metric([name], count)
        oldest.add_metric([name], (now - first).total_seconds() if first else 0.0)
    yield from (due, oldest)
    yield from lateness_metrics(now)


def send_lateness(since: datetime | None = None) -> list[float]:
    """Seconds from the planned send time to `sent_at`, ascending, for what
    was sent (since `since`). The plan is `next_attempt_at` for an email sent
    on its first attempt: that is the slot it was given, after any wait for a
    send window, the attention cap or a pause, none of which is lateness. An
    email that needed retries counts from its `due_at`, retries included."""
    query = select(Delivery.due_at, Delivery.next_attempt_at, Delivery.attempts,
                   Delivery.sent_at).where(Delivery.status == "sent")
    if since is not None:
        query = query.where(Delivery.sent_at >= since)
    values = []
    for due, planned, attempts, sent in db.session.execute(query):
        start = planned if attempts <= 1 else due
        values.append(max((sent - start).total_seconds(), 0.0))
    return sorted(values)


def lateness_metrics(now: datetime) -> Iterator[Metric]:
    values = send_lateness(since=now - LATENESS_WINDOW)
    lateness = GaugeMetricFamily(
        "hearth_send_lateness_seconds",
        "Quantiles of the lateness of the emails sent in the last hour: sent_at minus the "
        "planned send time (due_at for an email that needed retries).",
        labels=["quantile"],
    )
    for q in QUANTILES:
        lateness.add_metric([str(q)], quantile(values, q))
    sent = GaugeMetricFamily(
        "hearth_send_lateness_window_sends",
        "How many sends the lateness quantiles are computed from (the last hour).",
    )
    sent.add_metric([], len(values))
    yield from (lateness, sent)


def inbound_metrics(now: datetime) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(
        "hearth_inbound_messages", "Inbound messages by status.", labels=["status"]
    )
    counts = dict(
        db.session.execute(
            select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
        ).all()
    )
    for status in sorted(counts):
        by_status.add_metric([status], counts[status])
    yield by_status
    first_new = _aware(db.session.scalar(
        select(func.min(InboundMessage.received_at)).where(InboundMessage.status == "new")
    ))
    oldest = GaugeMetricFamily(
        "hearth_inbound_oldest_new_seconds",
        "How long the oldest stored but unprocessed inbound message has waited.",
    )
    oldest.add_metric([], (now - first_new).total_seconds() if first_new else 0.0)
    yield oldest


class HearthCollector:
    """Reads everything on each scrape; needs an app context (the request's)."""

    def collect(self) -> Iterator[Metric]:
        now = clock.now()
        up = GaugeMetricFamily(
            "hearth_source_up", "1 when this scrape could read the source.", labels=["source"]
        )
        families: list[Metric] = []
        for source, read in (
            ("database", lambda: [*delivery_metrics(now), *inbound_metrics(now)]),
            ("redis", lambda: list(queue_metrics())),
        ):
            try:
                families.extend(read())
                up.add_metric([source], 1)
            except Exception:  # noqa: BLE001 - one dead source must not hide the others
                log.warning("metrics: cannot read the %s", source, exc_info=True)
                if source == "database":
                    db.session.rollback()
                up.add_metric([source], 0)
        yield up
        yield from families


registry = CollectorRegistry(auto_describe=False)
registry.register(HearthCollector())
