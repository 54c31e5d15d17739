"""A real worker process killed with SIGKILL while it sends: the lease
expires, the clock re-enqueues, the email is sent once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.outbox.models import Delivery
from app.tick import tick
from tests.story import sign_up

ROOT = Path(__file__).resolve().parents[2]


def _worker_env(app) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
        SECRET_KEY=app.config["SECRET_KEY"],
        MAIL_SERVER=app.config["MAIL_SERVER"],
        MAIL_PORT=str(app.config["MAIL_PORT"]),
        MAIL_DEFAULT_SENDER=app.config["MAIL_DEFAULT_SENDER"],
        BASE_URL=app.config["BASE_URL"],
        INBOUND_DOMAIN=app.config["INBOUND_DOMAIN"],
        HEARTH_INSTANCE=app.config["INSTANCE_PATH"],
    )
    return env


def test_sigkill_mid_send_then_the_lease_expires_and_it_is_sent_once(client, smtp, drain, app):
    sign_up(client)
    smtp.data_delay = 30  # the server sits on DATA: the worker is mid-send when killed
    worker = subprocess.Popen(
        [sys.executable, "-m", "workers.worker", "--burst"], cwd=ROOT, env=_worker_env(app),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with app.app_context():
                status = db.session.scalar(select(Delivery.status))
                db.session.remove()
            if status == "sending":
                break
            assert time.monotonic() < deadline, "the worker never claimed the delivery"
            time.sleep(0.05)
        time.sleep(0.3)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    smtp.data_delay = 0
    assert smtp.to("ada@example.org") == []

    with app.app_context():
        assert tick().enqueued == 0  # the lease still holds
        clock.set(clock.now() + timedelta(seconds=app.config["SEND_LEASE_SECONDS"] + 1))
        assert tick().enqueued == 1
    drain()
    assert len(smtp.to("ada@example.org")) == 1
    with app.app_context():
        delivery = db.session.scalar(select(Delivery))
        assert (delivery.status, delivery.attempts) == ("sent", 2)
