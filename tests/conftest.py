"""Real parts for every test: a database migrated from empty by Alembic
(SQLite, or PostgreSQL when DATABASE_URL is set), a Redis (embedded, or
REDIS_URL), a real SMTP server, RQ jobs run by a real worker, a movable clock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis as redis_lib
from flask_migrate import upgrade
from sqlalchemy import text

from app import clock, create_app, queues
from app.extensions import db
from tests.mailbox import start_sink

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from app.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return os.environ.get("DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'hearth-test.sqlite3'}"
    )


@pytest.fixture(scope="session")
def smtp_server():
    sink, controller = start_sink()
    yield sink, controller
    controller.stop()


def _empty_database() -> None:
    """Drop everything, so the schema comes from the migrations alone."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.drop_all()
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session")
def app(tmp_path_factory, redis_url, database_url, smtp_server):
    _sink, controller = smtp_server
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "test-secret-key-not-for-production",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "BASE_URL": "http://hearth.test",
            "INBOUND_DOMAIN": "in.hearth.test",
            "INBOUND_SECRET": "test-inbound-secret",
            "MAIL_SERVER": controller.hostname,
            "MAIL_PORT": controller.port,
            "MAIL_DEFAULT_SENDER": "Hearth <hello@hearth.test>",
            "MAIL_SUPPRESS_SEND": False,
            "ALLOW_TIME_TRAVEL": True,
            "DEV_MAIL_VIEWER": True,
            "DEV_MAIL_DIR": str(instance / "mail"),
            "RATELIMIT_STORAGE_URI": None,
        }
    )
    with application.app_context():
        _empty_database()
        upgrade()
    return application


@pytest.fixture(autouse=True)
def _clean(request, app, smtp_server):
    """Every test starts with empty tables, an empty Redis, an empty mailbox and real time."""
    sink, _controller = smtp_server
    with app.app_context():
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Ids restart at 1 as they do on an emptied SQLite table.
                names = ", ".join(t.name for t in db.metadata.sorted_tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
        queues.connection().flushdb()
    sink.reset()
    clock.set(None)
    yield
    clock.set(None)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def smtp(smtp_server):
    return smtp_server[0]


@pytest.fixture
def redis(app) -> redis_lib.Redis:
    with app.app_context():
        return queues.connection()


@pytest.fixture
def drain(app):
    """Run every queued job with a real RQ worker in this process until empty."""

    def run() -> int:
        with app.app_context():
            rounds = queues.drain(max_rounds=50)
            failed = sum(queues.queue(n).failed_job_registry.count for n in queues.ALL)
            assert failed == 0, "a job failed; see the worker log above"
            return rounds

    return run
