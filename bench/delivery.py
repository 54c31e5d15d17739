"""delivery: due emails, from `tick()` to accepted by an SMTP sink.

N champions (5,000; 500 with --quick) have their onboarding welcome due a
minute ago, in the real present: the workers are other processes and read the
real clock. Two `python -m workers.worker` processes are started first and
wait on their queues, as the Procfile's long-running workers do in
production. Timed: one `tick()` in a process of its own, as the clock runs it
(the Delivery rows, then the send jobs in batches of SEND_BATCH_SIZE, which
the waiting workers take as they come), until the sink here has counted N. A worker's start-up (imports, the app) is
reported on its own: it is paid once per process, not per send.

Baseline: raw smtplib sending N prebuilt messages of the same mean size over
one reused connection, from a process of its own, to the same sink; run
twice, and the mean taken (one run alone moves by a fifth here).
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
from bench import smtp_baseline
from bench.harness import ROOT, Environment, cpu_seconds
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
            spawned = time.perf_counter()
            workers = [env.python(f"worker-{n}", "-m", "workers.worker") for n in range(WORKERS)]
            if not _listening(WORKERS, timeout=60, alive=lambda: all(w.poll() is None for w in workers)):
                raise RuntimeError("the workers did not start:\n" + env.log_tail("worker-0"))
            startup_seconds = time.perf_counter() - spawned

            clock_process = _ready_tick(env)
            cpu_before = [cpu_seconds(w.pid) for w in workers]
            started, started_wall = time.perf_counter(), time.time()
            clock_process.stdin.write("tick\n")
            clock_process.stdin.flush()
            ticked = json.loads(clock_process.stdout.readline())
            clock_process.wait(30)
            tick_seconds, report = ticked["seconds"], ticked["report"]
            written = db.session.scalar(select(func.count(Delivery.id)))
            db.session.remove()
        if written != count:
            raise RuntimeError(f"tick wrote {written} deliveries for {count} due journeys: {report}")
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
        hearth_seconds = finished - started
        drain_seconds = hearth_seconds - tick_seconds
        sizes = [a[2] for a in arrivals]
        mean_size = round(sum(sizes) / len(sizes))
        # CPU the workers spent on this run's sends (start-up excluded): far
        # steadier than the rate on a shared, noisy machine.
        worker_cpu = sum(cpu_seconds(w.pid) for w in workers) - sum(cpu_before)
        for worker in workers:
            env.stop(worker)

        # Twice: the raw rate alone moves by a fifth from run to run here,
        # and the mean of two is steadier.
        baselines = []
        for _round in range(2):
            sink.reset()
            baselines.append(smtp_baseline.measure(env.smtp_port, count, mean_size))
            if sink.count != count:
                raise RuntimeError(f"the baseline delivered {sink.count} of {count}")
        baseline = {"seconds": sum(b["seconds"] for b in baselines) / 2,
                    "mean_bytes": baselines[0]["mean_bytes"]}

    hearth_rate = count / hearth_seconds
    raw_rate = count / baseline["seconds"]
    details.update({
        "emails": count,
        "workers": WORKERS,
        "mean_message_bytes": mean_size,
        "tick_s": round(tick_seconds, 3),
        "tick_report": str(report),
        "after_tick_s": round(drain_seconds, 3),
        "first_email_after_tick_start_s": round(first_arrival - started_wall, 3),
        "worker_startup_s": round(startup_seconds, 3),
        "hearth_s": round(hearth_seconds, 3),
        "worker_cpu_s": round(worker_cpu, 3),
        "worker_cpu_ms_per_email": round(worker_cpu * 1000 / count, 3),
        "raw_smtp_s": round(baseline["seconds"], 3),
        "raw_smtp_s_each": [round(b["seconds"], 3) for b in baselines],
        "raw_mean_bytes": round(baseline["mean_bytes"]),
    })
    result.rows.append(Row("delivery", f"emails/s tick->sink ({count:,}, 2 workers)",
                           hearth_rate, raw_rate, TARGET))
    result.rows += [
        Row("delivery", "  of which: tick() s (write + enqueue; sending overlaps)", tick_seconds),
        Row("delivery", "  of which: s after the tick until the last email", drain_seconds),
        Row("delivery", "  workers' CPU ms per email (both workers, after start-up)",
            worker_cpu * 1000 / count),
        Row("delivery", "  a worker's start-up s (once per process, not timed)", startup_seconds),
    ]
    return result


def _ready_tick(env: Environment) -> subprocess.Popen:
    """The clock's tick in a process of its own (bench.tick_once), loaded and waiting."""
    with open(env.folder / "tick.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "bench.tick_once"], cwd=ROOT, env=env.env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("bench.tick_once did not start")
    return process


def _listening(count: int, timeout: float, alive) -> bool:
    """True once `count` RQ workers have registered with Redis (they then wait on their queues)."""
    from rq import Worker

    from app import queues

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        if Worker.count(connection=queues.connection()) >= count:
            return True
        time.sleep(0.1)
    return False
