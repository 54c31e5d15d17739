"""The parts one simulation runs on, made in a temporary folder and removed
afterwards: an SQLite database migrated from empty, an embedded Redis
(app.embedded_redis), a real SMTP server (aiosmtpd) that records what arrives, and a
Hearth app configured to use them.

A database and a Redis database may be given instead (`--database-url`,
`--redis-url`: PostgreSQL, say, to see it under load). They must not be the
live ones, and must be empty, unless `reset` is asked for, which empties them
first. Nothing here reads DATABASE_URL or REDIS_URL."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from flask import Flask

from app import clock
from app.embedded_redis import EmbeddedRedis

SECRET_KEY = "simulation-only-secret-key"
SENDER = "Hearth <hello@hearth.example.org>"
BASE_URL = "https://hearth.example.org"
INBOUND_DOMAIN = "in.hearth.example.org"


@dataclass
class Arrival:
    """One message the sink accepted, at the simulated time it arrived."""

    at: datetime
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


@dataclass
class Sink:
    arrivals: list[Arrival] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.arrivals.append(Arrival(clock.now(), envelope.mail_from,
                                         [r.lower() for r in envelope.rcpt_tos],
                                         envelope.original_content or envelope.content))
        return "250 OK"

    def since(self, index: int) -> list[Arrival]:
        with self._lock:
            return self.arrivals[index:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PartsRefused(ValueError):
    """A database or Redis given for the run cannot be used; the reason says why."""


class Parts:
    """`with Parts() as parts:` gives `parts.app` (push its context to use it)
    and `parts.sink`."""

    def __init__(self, database_url: str | None = None, redis_url: str | None = None, *,
                 reset: bool = False, live: tuple[str | None, str | None] = (None, None)) -> None:
        for given, current, what in ((database_url, live[0], "database"), (redis_url, live[1], "Redis")):
            if given and current and given.rstrip("/") == current.rstrip("/"):
                raise PartsRefused(f"that is the live {what} ({given}); give one made for the simulation")
        self._given_database = database_url
        self._given_redis = redis_url
        self._reset = reset
        self._stack = contextlib.ExitStack()
        self.folder = Path(tempfile.mkdtemp(prefix="hearth-simulate-"))
        self.sink = Sink()
        self.app: Flask | None = None

    def __enter__(self) -> Parts:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def _start(self) -> None:
        self._stack.callback(shutil.rmtree, self.folder, ignore_errors=True)
        if self._given_redis:
            self.redis_url = self._given_redis
            _empty_redis(self.redis_url, self._reset)
        else:
            redis_dir = self.folder / "redis"
            redis_dir.mkdir()
            server = EmbeddedRedis(redis_dir)
            self._stack.callback(server.close)
            self.redis_url = server.url
        self.database_url = self._given_database or f"sqlite:///{self.folder / 'simulation.sqlite3'}"
        if self._given_database:
            _empty_database(self.database_url, self._reset)
        port = _free_port()
        controller = Controller(self.sink, hostname="127.0.0.1", port=port)
        controller.start()
        self._stack.callback(controller.stop)
        instance = self.folder / "instance"
        instance.mkdir()
        self.app = _create_app(instance, self.database_url, self.redis_url, port)
        self._stack.callback(self._dispose)
        self._migrate()

    def _migrate(self) -> None:
        from flask_migrate import upgrade

        with self.app.app_context():
            previous = logging.root.manager.disable
            logging.disable(logging.INFO)  # alembic logs each revision
            try:
                upgrade()
            finally:
                logging.disable(previous)

    def _dispose(self) -> None:
        from app.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def _empty_database(url: str, reset: bool) -> None:
    """Refuse a database with tables in it, or empty it when `reset`."""
    from sqlalchemy import MetaData, create_engine, inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    except SQLAlchemyError as error:
        raise PartsRefused(f"cannot open the database {url}: {error}") from error
    try:
        if tables and not reset:
            raise PartsRefused(f"the database {url} is not empty ({len(tables)} tables); "
                               "give an empty one, or add --reset to delete everything in it")
        if tables:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
                else:
                    existing = MetaData()
                    existing.reflect(conn)
                    existing.drop_all(conn)  # in the order foreign keys allow
    finally:
        engine.dispose()


def _empty_redis(url: str, reset: bool) -> None:
    """Refuse a Redis database with keys in it, or flush it when `reset`."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = client.dbsize()
    except redis.RedisError as error:
        raise PartsRefused(f"cannot reach Redis at {url}: {error}") from error
    try:
        if keys and not reset:
            raise PartsRefused(f"the Redis database {url} is not empty ({keys} keys); "
                               "give an empty one, or add --reset to flush it")
        if keys:
            client.flushdb()
    finally:
        client.close()


def _create_app(instance: Path, database_url: str, redis_url: str, smtp_port: int) -> Flask:
    from app import create_app

    overrides = {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_DEFAULT_SENDER": SENDER,
        "BASE_URL": BASE_URL,
        "INBOUND_DOMAIN": INBOUND_DOMAIN,
        "INBOUND_SECRET": None,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "ALLOW_TIME_TRAVEL": True,
        "DEV_MAIL_VIEWER": False,
        "DKIM_PRIVATE_KEY_PATH": None,
    }
    return create_app(overrides)  # INSTANCE_PATH: nothing is written into the live instance/
