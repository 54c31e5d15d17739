"""Readiness: can this process reach the database, Redis and the SMTP relay
(and sign with its DKIM key, when one is configured)?

Each check runs in its own thread with a deadline (`HEALTH_TIMEOUT`, 2 s), so
a database that hangs instead of refusing makes `/healthz` answer 503 on time
rather than hang the load balancer's probe. A check that is still stuck when
the next probe comes keeps its thread; the pool is small, so a long outage
cannot pile up threads.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache

import redis
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.outbox import signing

_pool: ThreadPoolExecutor | None = None


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None

    def as_json(self) -> dict:
        answer: dict = {"ok": self.ok, "latency_ms": round(self.latency_ms, 2)}
        if self.error:
            answer["error"] = self.error
        return answer


def check_database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@lru_cache(maxsize=8)
def _redis_for(url: str, timeout: float) -> redis.Redis:
    # Not app.queues.connection(): that client waits forever on a hung server.
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def check_redis(url: str | None, timeout: float) -> None:
    if not url:
        raise RuntimeError("REDIS_URL is not set")
    if not _redis_for(url, timeout).ping():
        raise RuntimeError("PING was not answered with PONG")


def check_smtp(host: str, port: int, *, use_ssl: bool, timeout: float) -> None:
    """Connect, read the 220 greeting, NOOP, QUIT: no login, nothing sent."""
    factory = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
    with factory(host, port, timeout=timeout) as session:
        code, answer = session.noop()
        if code != 250:
            raise smtplib.SMTPResponseException(code, answer)


def _executor() -> ThreadPoolExecutor:
    # Created on first use, so each gunicorn worker gets its own after the fork.
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="healthz")
    return _pool


def _describe(error: BaseException) -> str:
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first_line}"[:300]


def _timed(check: Callable[[], None]) -> Callable[[], tuple[float, str | None]]:
    def run() -> tuple[float, str | None]:
        started = time.perf_counter()
        try:
            check()
            error = None
        except Exception as failure:  # noqa: BLE001 - any failure is an answer: not ok, and why
            error = _describe(failure)
        return (time.perf_counter() - started) * 1000, error

    return run


def run_checks(app: Flask, engine: Engine) -> list[CheckResult]:
    """Run the three checks at once and wait at most HEALTH_TIMEOUT (+ a margin)."""
    config = app.config
    timeout = float(config.get("HEALTH_TIMEOUT", 2.0))
    checks: dict[str, Callable[[], None]] = {
        "database": lambda: check_database(engine),
        "redis": lambda: check_redis(config.get("REDIS_URL"), timeout),
        "smtp": lambda: check_smtp(
            config["MAIL_SERVER"], int(config["MAIL_PORT"]),
            use_ssl=bool(config.get("MAIL_USE_SSL")), timeout=timeout,
        ),
    }
    if config.get("DKIM_PRIVATE_KEY_PATH"):
        checks["dkim"] = lambda: signing.check(config)  # only when signing is configured
    started = time.perf_counter()
    futures = {name: _executor().submit(_timed(check)) for name, check in checks.items()}
    deadline = started + timeout + 0.5
    results = []
    for name, future in futures.items():
        try:
            latency, error = future.result(timeout=max(deadline - time.perf_counter(), 0.0))
        except FutureTimeout:
            latency = (time.perf_counter() - started) * 1000
            error = f"no answer within {timeout:g} s"
        results.append(CheckResult(name, error is None, latency, error))
    return results
