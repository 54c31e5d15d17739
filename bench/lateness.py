"""lateness: how late does a due email arrive under steady load?

20 journeys become due every second for 30 s (10 s with --quick), spread
evenly; a clock process (`python -m workers.clock --interval 2`: the real
clock ticks every 30 s, a short interval keeps the run short) and two workers
(`python -m workers.worker`) run the whole time. Lateness = the time the
sink accepted the email - the time the journey step was due.

The clock and the workers boot together while this process holds the
clock's Redis lock (so the clock cannot tick yet); the lock is let go once the
load is in the database.

A due email waits at most one interval for the next tick, then it is sent:
the bound is one interval + the send time. The send time is measured first,
with the same workers and sink: one tick (in this process) of the emails
that become due in one interval (40), from the tick's start until the sink
has them all; the median of three such ticks (one with --quick).

The lateness is also split at the moment the tick wrote the Delivery row
(`created_at`): the wait for a tick, and the time from the tick to the sink.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from rq import Worker
from sqlalchemy import select

from app import clock, queues
from app.extensions import db
from app.outbox.models import Delivery
from app.tick import tick
from bench.harness import Environment, wait_until
from bench.population import insert_champions
from bench.report import Row, ScenarioResult, Target, percentile
from workers.clock import LOCK_NAME

RATE = 20  # journeys due per second
INTERVAL = 2.0  # seconds between clock ticks
WORKERS = 2
LEAD = 1.0  # seconds from inserting the load to the first due journey
TARGET = Target("ratio", "<=", 1.0)


def run(quick: bool) -> ScenarioResult:
    duration = 10.0 if quick else 30.0
    result = ScenarioResult("lateness")
    with Environment("lateness") as env, env.app.app_context():
        sink = env.sink
        connection = queues.connection()
        # Holding the clock's own lock keeps the clock process from ticking
        # while it boots with the workers and the send time is measured.
        lock = connection.lock(LOCK_NAME, timeout=120)
        if not lock.acquire(blocking=False):
            raise RuntimeError(f"the lock {LOCK_NAME} is taken: is another clock running?")
        workers = [env.python(f"worker-{n}", "-m", "workers.worker") for n in range(WORKERS)]
        ticker = env.python("clock", "-m", "workers.clock", "--interval", str(INTERVAL))
        if not wait_until(lambda: len(Worker.all(connection=connection)) >= WORKERS, 30, 0.1):
            raise RuntimeError("the workers did not start:\n" + env.log_tail("worker-0"))
        send_times = [_send_time(env, int(RATE * INTERVAL)) for _ in range(1 if quick else 3)]
        send_time = statistics.median(send_times)

        count = int(RATE * duration)
        first_due = clock.now() + timedelta(seconds=LEAD)
        due = [first_due + timedelta(seconds=i / RATE) for i in range(count)]
        champions = insert_champions(due, prefix="late")
        db.session.remove()
        lock.release()
        arrived = sink.wait_for(
            count,
            timeout=LEAD + duration + 60,
            alive=lambda: all(p.poll() is None for p in (*workers, ticker)),
        )
        if not arrived:
            raise RuntimeError(
                f"the sink got {sink.count} of {count} emails; clock log:\n" + env.log_tail("clock")
            )
        due_by_email = {c.email: c.due_at.timestamp() for c in champions}
        written_by_email = {
            row.to_email: row.created_at.timestamp()
            for row in db.session.execute(select(Delivery.to_email, Delivery.created_at))
        }
        db.session.remove()
        arrivals = [(at, rcpt) for at, rcpt, _size in sink.snapshot() if rcpt in due_by_email]
        lateness = [at - due_by_email[rcpt] for at, rcpt in arrivals]
        waited = [written_by_email[rcpt] - due_by_email[rcpt] for _at, rcpt in arrivals]
        sending = [at - written_by_email[rcpt] for at, rcpt in arrivals]

    bound = INTERVAL + send_time
    p50, p99 = percentile(lateness, 50), percentile(lateness, 99)
    result.details.update({
        "due_per_s": RATE, "duration_s": duration, "emails": len(lateness),
        "clock_interval_s": INTERVAL, "workers": WORKERS,
        "send_time_s": round(send_time, 3), "send_times_s": [round(t, 3) for t in send_times],
        "bound_s": round(bound, 3),
        "wait_for_tick_s": {"p50": round(percentile(waited, 50), 3),
                            "p99": round(percentile(waited, 99), 3),
                            "max": round(max(waited), 3)},
        "tick_to_sink_s": {"p50": round(percentile(sending, 50), 3),
                           "p99": round(percentile(sending, 99), 3),
                           "max": round(max(sending), 3)},
        "lateness_s": {"min": round(min(lateness), 3), "p50": round(p50, 3),
                       "p90": round(percentile(lateness, 90), 3), "p99": round(p99, 3),
                       "max": round(max(lateness), 3)},
        "note": "clock interval shortened from 30 s to 2 s for the benchmark",
    })
    result.rows += [
        Row("lateness", f"p50 s late vs interval {INTERVAL:g} s + send", p50, bound),
        Row("lateness", f"p99 s late vs interval {INTERVAL:g} s + send", p99, bound, TARGET),
        Row("lateness", "  of which: wait for a tick p99 s vs interval",
            percentile(waited, 99), INTERVAL),
        Row("lateness", "  of which: tick->sink p99 s vs send", percentile(sending, 99), send_time),
    ]
    return result


def _send_time(env: Environment, count: int) -> float:
    """One tick's worth of emails, due now: tick start -> all at the sink."""
    due = datetime.now(UTC) - timedelta(seconds=1)
    insert_champions([due] * count, prefix="calibration")
    db.session.remove()
    started = time.perf_counter()
    tick()
    db.session.remove()
    if not env.sink.wait_for(count, timeout=60):
        raise RuntimeError(f"calibration: the sink got {env.sink.count} of {count}")
    elapsed = time.perf_counter() - started
    env.sink.reset()
    return elapsed
