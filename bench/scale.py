"""scale: 100,000 champions (10,000 with --quick) with their journeys in
PostgreSQL, one simulated week, three worker processes.

Each champion's next onboarding email falls due at a moment spread over the
week. The week is the one that ended a few minutes ago, so that the workers
(other processes, on the real clock) may send whatever the tick made due. The
run moves this process's clock an hour at a time and runs the real `tick()`
(journeys, matching, circles, surveys, the outbox's repair); three
`python -m workers.worker` processes send. Each hour waits until its emails
have reached the sink, so lateness is what one hour's emails wait: from the
start of their tick to accepted by the sink (p50, p99).

Baseline: raw smtplib sending the same number of messages (at most 20,000)
of the same mean size over one connection, to the same sink.

PostgreSQL: `SCALE_DATABASE_URL`, else `DATABASE_URL` when it names one, else
the local server's database `hearth_bench` (created when missing; its public
schema is dropped and made again).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.outbox.models import Delivery
from app.tick import tick
from bench import smtp_baseline
from bench.harness import Environment, fresh_postgres
from bench.population import insert_champions
from bench.report import Row, ScenarioResult, percentile

WORKERS = 3
HOURS = 7 * 24
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/hearth_bench"
BASELINE_MAX = 20_000


def _database() -> str:
    given = os.environ.get("SCALE_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    return given if given.startswith(("postgresql", "postgres://")) else DEFAULT_DATABASE


def run(quick: bool) -> ScenarioResult:
    people = 10_000 if quick else 100_000
    result = ScenarioResult("scale")
    url = _database()
    fresh_postgres(url)
    with Environment("scale", database_url=url) as env:
        week_start = clock.now() - timedelta(days=7, minutes=10)
        spread = timedelta(days=7) / people
        with env.app.app_context():
            clock.set(week_start)
            try:
                started = time.perf_counter()
                insert_champions([week_start + spread * (i + 0.5) for i in range(people)], prefix="scale")
                insert_seconds = time.perf_counter() - started
                db.session.remove()
                workers = [env.python(f"worker-{n}", "-m", "workers.worker") for n in range(WORKERS)]
                hours, latencies, tick_seconds, sending_started = _week(env, week_start, people)
                sending_seconds = time.perf_counter() - sending_started
                written = _due_by(clock.now())
                sent = db.session.scalar(select(func.count(Delivery.id)).where(Delivery.status == "sent"))
                by_template = dict(db.session.execute(
                    select(Delivery.template, func.count()).group_by(Delivery.template)).all())
                db.session.remove()
            finally:
                clock.set(None)
        for worker in workers:
            env.stop(worker)
        arrivals = env.sink.snapshot()
        mean_size = round(sum(a[2] for a in arrivals) / max(len(arrivals), 1))
        env.sink.reset()
        count = min(len(arrivals), BASELINE_MAX)
        baseline = smtp_baseline.measure(env.smtp_port, count, mean_size)

    rate = len(arrivals) / sending_seconds
    raw_rate = count / baseline["seconds"]
    result.details.update({
        "people": people, "workers": WORKERS, "database": "postgresql", "hours": HOURS,
        "insert_s": round(insert_seconds, 1), "week_s": round(sending_seconds, 1),
        "tick_s_total": round(sum(tick_seconds), 1),
        "tick_s_p99": round(percentile(tick_seconds, 99), 3),
        "deliveries_due": written, "deliveries_sent": sent, "accepted_by_sink": len(arrivals),
        "deliveries_by_template": by_template,
        "busiest_hour_emails": max(hours), "mean_message_bytes": mean_size,
        "lateness_p50_s": round(percentile(latencies, 50), 3),
        "lateness_p99_s": round(percentile(latencies, 99), 3),
    })
    result.rows += [
        Row("scale", f"emails/s ({people:,} people, a week, {WORKERS} workers) vs raw",
            rate, raw_rate),
        Row("scale", "  lateness p50 s (tick start -> sink)", percentile(latencies, 50)),
        Row("scale", "  lateness p99 s (tick start -> sink)", percentile(latencies, 99)),
        Row("scale", "  tick s p99 (one simulated hour)", percentile(tick_seconds, 99)),
        Row("scale", "  emails accepted vs deliveries due in the week", float(len(arrivals)), float(written)),
    ]
    if len(arrivals) != written or sent != written:
        result.error = f"{written} deliveries due in the week, {sent} sent, {len(arrivals)} accepted by the sink"
    return result


def _due_by(moment) -> int:
    return db.session.scalar(select(func.count(Delivery.id)).where(Delivery.next_attempt_at <= moment))


def _week(env: Environment, week_start, people: int):
    """Each simulated hour: the real tick, then wait until its emails arrived."""
    hours, latencies, tick_seconds = [], [], []
    sending_started = time.perf_counter()
    expected = 0
    for hour in range(1, HOURS + 1):
        clock.set(week_start + timedelta(hours=hour))
        tick_started_wall = time.time()
        began = time.perf_counter()
        tick()
        tick_seconds.append(time.perf_counter() - began)
        before = expected
        # Due by now (the rest waits for a send window or the attention cap).
        expected = _due_by(clock.now())
        db.session.remove()
        if not env.sink.wait_for(expected, timeout=max(120.0, (expected - before) / 20)):
            raise RuntimeError(f"hour {hour}: the sink got {env.sink.count} of {expected} emails; "
                               f"worker log:\n{env.log_tail('worker-0')}")
        arrivals = env.sink.snapshot()[before:expected]
        hours.append(len(arrivals))
        latencies += [arrived - tick_started_wall for arrived, _rcpt, _size in arrivals]
    return hours, latencies, tick_seconds, sending_started
