"""delivery: due emails, from `tick()` to accepted by an SMTP sink.

N champions (5,000; 500 with --quick) have their onboarding welcome due a
minute ago, in the real present: the workers are other processes and read the
real clock. Timed: `tick()` here (the Delivery rows, then the send jobs in
batches of SEND_BATCH_SIZE), then two `python -m workers.worker --burst`
processes started as soon as the jobs are queued, until the sink has counted
N. The workers' start-up is inside the time (a burst worker's real cost) and
is also reported on its own.

Baseline: raw smtplib sending N prebuilt messages of the same mean size over
one reused connection, from a process of its own, to the same sink.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.outbox.models import Delivery
from app.tick import tick
from bench.harness import ROOT, Environment
from bench.population import insert_champions
from bench.report import Row, ScenarioResult, Target

TARGET = Target("ratio", ">=", 0.5)
WORKERS = 2


def run(quick: bool) -> ScenarioResult:
    count = 500 if quick else 5_000
    result = ScenarioResult("delivery")
    details = result.details
    with Environment("delivery") as env:
        sink = env.sink
        with env.app.app_context():
            due = clock.now() - timedelta(minutes=1)
            insert_champions([due] * count, prefix="delivery")
            db.session.remove()

            started = time.perf_counter()
            report = tick()
            tick_seconds = time.perf_counter() - started
            written = db.session.scalar(select(func.count(Delivery.id)))
            db.session.remove()
        if written != count:
            raise RuntimeError(f"tick wrote {written} deliveries for {count} due journeys: {report}")
        spawned, spawned_wall = time.perf_counter(), time.time()
        workers = [
            env.python(f"worker-{n}", "-m", "workers.worker", "--burst") for n in range(WORKERS)
        ]
        arrived = sink.wait_for(
            count,
            timeout=max(60.0, count / 10),  # 10 emails/s at the least
            alive=lambda: any(w.poll() is None for w in workers),
        )
        finished = time.perf_counter()
        if not arrived:
            raise RuntimeError(
                f"the sink got {sink.count} of {count} emails; worker log:\n"
                + env.log_tail("worker-0")
            )
        arrivals = sink.snapshot()
        first_arrival = min(a[0] for a in arrivals)
        drain_seconds = finished - spawned
        hearth_seconds = tick_seconds + drain_seconds
        sizes = [a[2] for a in arrivals]
        mean_size = round(sum(sizes) / len(sizes))
        for worker in workers:
            env.stop(worker)

        sink.reset()
        baseline = _raw_smtp(env.smtp_port, count, mean_size)
        if sink.count != count:
            raise RuntimeError(f"the baseline delivered {sink.count} of {count}")

    hearth_rate = count / hearth_seconds
    raw_rate = count / baseline["seconds"]
    details.update({
        "emails": count,
        "workers": WORKERS,
        "mean_message_bytes": mean_size,
        "tick_s": round(tick_seconds, 3),
        "tick_report": str(report),
        "drain_s": round(drain_seconds, 3),
        "first_email_after_spawn_s": round(first_arrival - spawned_wall, 3),
        "hearth_s": round(hearth_seconds, 3),
        "raw_smtp_s": round(baseline["seconds"], 3),
        "raw_mean_bytes": round(baseline["mean_bytes"]),
    })
    result.rows.append(Row("delivery", f"emails/s tick->sink ({count:,}, 2 workers)",
                           hearth_rate, raw_rate, TARGET))
    result.rows += [
        Row("delivery", "  of which: tick() s (write + enqueue)", tick_seconds),
        Row("delivery", "  of which: workers s (start + send)", drain_seconds),
        Row("delivery", "  sending only: emails/s vs raw", count / drain_seconds, raw_rate),
    ]
    return result


def _raw_smtp(port: int, count: int, size: int) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.smtp_baseline", "--port", str(port), "--count", str(count),
         "--size", str(size)],
        cwd=ROOT, capture_output=True, text=True, timeout=max(60.0, count / 50), check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the raw SMTP baseline failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])
