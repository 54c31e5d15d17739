"""tick-scale: does a tick cost what is due, or what exists?

One `tick_journeys(now)` with 1,000 journeys due among 1,000, against the same
1,000 due among 100,000 (20,000 with --quick). The due journeys are spread
evenly through the table (every n-th id), as due people are in real life.
Only the call is timed; each size runs twice (the journeys reset in between)
and the best run counts (once with --quick, to stay a smoke test).

The target is on the CPU time of this process: the call is single-threaded
and alone with its SQLite file, so CPU time is its cost, while its wall time
also counts whatever else the machine runs (on a shared 2-core machine it
varied by 2x between runs). Wall time is reported too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from app import clock
from app.extensions import db
from app.journeys.service import tick_journeys
from bench.harness import Environment
from bench.population import insert_champions, reset_journeys
from bench.report import Row, ScenarioResult, Target

DUE = 1_000
TARGET = Target("ratio", "<=", 1.5)


def run(quick: bool) -> ScenarioResult:
    total = 20_000 if quick else 100_000
    result = ScenarioResult("tick-scale")
    rounds = 1 if quick else 2
    small = _best_tick(DUE, DUE, rounds, result.details)
    large = _best_tick(total, DUE, rounds, result.details)
    result.rows += [
        Row("tick-scale", f"tick CPU s, {DUE:,} due of {total:,} vs of {DUE:,}",
            large.cpu, small.cpu, TARGET),
        Row("tick-scale", "  the same in wall-clock s", large.wall, small.wall),
    ]
    return result


def _no_redis_here() -> None:
    """This scenario runs without Redis: the emails are written, not enqueued."""


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


def _best_tick(total: int, due: int, rounds: int, details: dict) -> Timing:
    with Environment(f"tick-scale-{total}", redis=False, smtp=False) as env, env.app.app_context():
        now = clock.now()
        every = total // due
        due_times = [
            now - timedelta(minutes=10) if index % every == 0 and index // every < due
            # The rest are due over the next ten weeks, one a minute.
            else now + timedelta(days=1, minutes=index)
            for index in range(total)
        ]
        started = time.perf_counter()
        champions = insert_champions(due_times, prefix="scale")
        setup = time.perf_counter() - started
        due_champions = [c for c in champions if c.due_at <= now]
        timings: list[Timing] = []
        for round_ in range(rounds):
            if round_:
                reset_journeys(due_champions)
            db.session.remove()
            started, started_cpu = time.perf_counter(), time.process_time()
            report = tick_journeys(now, after_commit=_no_redis_here)
            timings.append(Timing(time.perf_counter() - started, time.process_time() - started_cpu))
            if report.written != due or report.errors:
                raise RuntimeError(f"tick wrote {report.written} of {due}: {report.errors}")
        details[f"{total}_journeys"] = {
            "due": due, "insert_s": round(setup, 2),
            "tick_s": [round(t.wall, 4) for t in timings],
            "tick_cpu_s": [round(t.cpu, 4) for t in timings],
        }
        return Timing(min(t.wall for t in timings), min(t.cpu for t in timings))
