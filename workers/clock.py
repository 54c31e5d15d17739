"""`python -m workers.clock`: runs `tick` every 30 seconds.

A Redis lock makes several clocks on several machines safe: only the holder
ticks; the lock expires on its own if a clock dies mid-tick.

Ticks start at a fixed rate (every `interval` from the first, not `interval`
after the last one ended), so a due email waits at most one interval for its
tick however long ticks take. A tick that overran starts the next one at once,
and the beat restarts from there (no burst of ticks to catch up).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time

import redis

from app import create_app, queues
from app.extensions import db
from app.tick import tick

log = logging.getLogger("workers.clock")
LOCK_NAME = "hearth:clock"


def run_once(connection: redis.Redis, interval: float) -> bool:
    """Tick if this clock gets the lock; True when it ticked."""
    lock = connection.lock(LOCK_NAME, timeout=max(interval * 4, 60), blocking=False)
    if not lock.acquire(blocking=False):
        return False
    try:
        report = tick()
        log.info("tick: %s", report)
        return True
    finally:
        db.session.remove()
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("the clock lock expired during a tick")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=30.0)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    app = create_app()
    with app.app_context():
        connection = queues.connection()
        log.info("clock ticking every %s s", args.interval)
        beat = time.monotonic()
        while not stop.is_set():
            try:
                run_once(connection, args.interval)
            except Exception:  # keep ticking: the next tick repairs what this one missed
                log.exception("tick failed")
                db.session.remove()
            beat = max(beat + args.interval, time.monotonic())
            stop.wait(beat - time.monotonic())


if __name__ == "__main__":
    main()
