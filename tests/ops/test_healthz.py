"""/healthz: the database, Redis and the SMTP relay reachable, each with its
latency; 200 when all answer, 503 (with the reason) when one does not."""

from __future__ import annotations

import socket
import time

import pytest

from tests.mailbox import free_port


def test_all_parts_answer(client, smtp):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "smtp"}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert 0 <= check["latency_ms"] < 2000
    assert response.headers["Cache-Control"] == "no-store"
    assert smtp.messages == []  # a NOOP, never a message


def test_a_dead_smtp_port_answers_503_and_says_which(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failing"
    assert body["checks"]["smtp"]["ok"] is False
    assert "refused" in body["checks"]["smtp"]["error"].lower()
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]


def test_an_smtp_server_that_never_greets_fails_on_time(client, app, monkeypatch):
    with socket.socket() as silent:  # accepts connections (the backlog) but never says 220
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        monkeypatch.setitem(app.config, "MAIL_PORT", silent.getsockname()[1])
        monkeypatch.setitem(app.config, "HEALTH_TIMEOUT", 0.3)
        started = time.monotonic()
        response = client.get("/healthz")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.get_json()["checks"]["smtp"]["ok"] is False


def test_a_dead_redis_answers_503(client, app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "REDIS_URL", f"unix://{tmp_path / 'no-redis.sock'}")
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["redis"]["ok"] is False and checks["redis"]["error"]
    assert checks["smtp"]["ok"] and checks["database"]["ok"]


def test_a_hung_database_fails_within_the_timeout(client, app, monkeypatch):
    from app import health_checks

    monkeypatch.setattr(health_checks, "check_database", lambda engine: time.sleep(1.5))
    monkeypatch.setitem(app.config, "HEALTH_TIMEOUT", 0.2)
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 1.2
    assert response.status_code == 503
    database = response.get_json()["checks"]["database"]
    assert database == {"ok": False, "latency_ms": pytest.approx(database["latency_ms"]),
                        "error": "no answer within 0.2 s"}


def test_a_database_that_refuses_answers_503(client, app, monkeypatch):
    from sqlalchemy import create_engine

    from app import health_checks

    broken = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                           connect_args={"connect_timeout": 1})
    real = health_checks.run_checks
    monkeypatch.setattr(health_checks, "run_checks", lambda app, engine: real(app, broken))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "OperationalError" in response.get_json()["checks"]["database"]["error"]
