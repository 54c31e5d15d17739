"""The outbox: at most one send per delivery, retries kept in the row, hard
bounces suppressed, and Redis only as transport."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app import clock, queues
from app.accounts import service as accounts
from app.accounts.models import Person
from app.extensions import db
from app.outbox import service as outbox
from app.outbox.models import Delivery, Suppression
from app.tick import tick
from tests.story import CHAMPION


@pytest.fixture
def person(ctx):
    accounts.request_signup(dict(CHAMPION))
    db.session.commit()
    return Person.by_email(CHAMPION["email"])


def _delivery() -> Delivery:
    db.session.expire_all()
    return db.session.scalar(select(Delivery).order_by(Delivery.id.desc()))


def test_the_same_job_twice_sends_once(person, smtp):
    delivery = _delivery()
    assert outbox.send_batch([delivery.id]) == {"sent": 1}
    assert outbox.send_batch([delivery.id]) == {"skipped": 1}
    assert len(smtp.to(person.email)) == 1


def test_duplicate_jobs_in_redis_are_harmless(person, smtp, drain):
    delivery = _delivery()
    for _ in range(3):
        queues.enqueue(queues.LOGIN, "workers.jobs.send_deliveries", [delivery.id])
    drain()
    assert len(smtp.to(person.email)) == 1
    assert _delivery().status == "sent"


def test_queueing_the_same_key_twice_writes_one_row(person):
    first = outbox.queue_email(person, "login_link", stream="transactional", key="k1",
                               params={"minutes": 30}, secret_params={"link": "x"})
    again = outbox.queue_email(person, "login_link", stream="transactional", key="k1")
    assert first.id == again.id


def test_451_then_250_is_sent_once_after_a_retry(person, smtp):
    smtp.data_answers.append("451 4.3.0 Try again later")
    delivery = _delivery()
    assert outbox.send_batch([delivery.id]) == {"retry": 1}
    row = _delivery()
    assert row.status == "pending" and row.smtp_code == 451 and "451" in row.last_error
    assert row.next_attempt_at > clock.now()
    assert outbox.send_batch([delivery.id]) == {"skipped": 1}  # not due yet
    clock.set(row.next_attempt_at + timedelta(seconds=1))
    assert tick().enqueued == 1
    assert outbox.send_batch([delivery.id]) == {"sent": 1}
    assert len(smtp.to(person.email)) == 1
    assert _delivery().attempts == 2


def test_each_retry_waits_twice_as_long_up_to_the_longest_wait(person, smtp, app, monkeypatch):
    monkeypatch.setitem(app.config, "SEND_RETRY_SECONDS", 60)
    monkeypatch.setitem(app.config, "SEND_RETRY_MAX_SECONDS", 200)
    clock.set(clock.now())  # still: the waits are read against it
    delivery = _delivery()
    waits = []
    for _ in range(4):
        smtp.data_answers.append("451 4.3.0 Try again later")
        assert outbox.send_batch([delivery.id]) == {"retry": 1}
        row = _delivery()
        waits.append((row.next_attempt_at - clock.now()).total_seconds())
        clock.set(row.next_attempt_at)
    assert waits == [60, 120, 200, 200]
    assert outbox.send_batch([delivery.id]) == {"sent": 1}


def test_550_fails_and_suppresses_the_address(person, smtp):
    smtp.rcpt_answers[person.email] = "550 5.1.1 No such user here"
    delivery = _delivery()
    assert outbox.send_batch([delivery.id]) == {"failed": 1}
    row = _delivery()
    assert row.status == "failed" and row.smtp_code == 550 and "No such user" in row.last_error
    assert db.session.scalar(select(Suppression.email)) == person.email
    # A later programme email to that address is not attempted.
    later = outbox.queue_email(person, "login_link", stream="onboarding", key="later",
                               params={"minutes": 30}, secret_params={"link": "x"})
    db.session.commit()
    assert outbox.send_batch([later.id]) == {"suppressed": 1}


def test_server_down_is_retried_with_back_off(person, smtp, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
    app.extensions["mail"].port, real = 1, app.extensions["mail"].port  # nothing listens on port 1
    try:
        delivery = _delivery()
        assert outbox.send_batch([delivery.id]) == {"retry": 1}
    finally:
        app.extensions["mail"].port = real
    row = _delivery()
    assert row.status == "pending" and row.last_error.startswith("connection:")
    clock.set(row.next_attempt_at)
    assert outbox.send_batch([delivery.id]) == {"sent": 1}


def test_a_worker_that_died_mid_send_loses_nothing(person, smtp):
    """Claimed, then the process died: once the lease expires the clock re-enqueues it."""
    delivery = _delivery()
    assert outbox._claim(delivery.id, clock.now()) is not None  # a worker claimed it, then died
    assert outbox.send_batch([delivery.id]) == {"skipped": 1}  # the lease still holds
    clock.set(clock.now() + timedelta(minutes=6))
    assert tick().enqueued == 1
    assert outbox.send_batch([delivery.id]) == {"sent": 1}
    assert len(smtp.to(person.email)) == 1


def test_losing_every_redis_key_loses_no_email(person, smtp, drain, redis):
    outbox.enqueue_pending()
    redis.flushdb()
    drain()
    assert smtp.to(person.email) == []
    clock.set(clock.now() + timedelta(minutes=3))  # the job was enqueued, so wait out its grace
    tick()
    drain()
    assert len(smtp.to(person.email)) == 1


def test_a_broken_template_fails_the_delivery_with_the_reason(person, smtp):
    bad = outbox.queue_email(person, "no_such_template", stream="transactional", key="bad")
    db.session.commit()
    assert outbox.send_batch([bad.id]) == {"failed": 1}
    assert "no email template named 'no_such_template'" in _delivery().last_error


def test_one_connection_serves_a_batch(person, smtp, app):
    for _ in range(5):
        accounts.request_login(person.email)
    db.session.commit()
    ids = [d.id for d in db.session.scalars(select(Delivery))]
    assert outbox.send_batch(ids) == {"sent": 6}
    received = smtp.to(person.email)
    assert len({m.message["Message-ID"] for m in received}) == 6
    assert len({m.peer for m in received}) == 1  # one SMTP connection for the batch


def test_a_batch_costs_a_few_queries_not_one_an_email(ctx, smtp):
    # 45 people: more than two mark groups (each a commit), one claim.
    names = [f"Person{n} Tester" for n in range(45)]
    for n, name in enumerate(names):
        accounts.request_signup(dict(CHAMPION, name=name, email=f"p{n}@example.org"))
    db.session.commit()
    ids = list(db.session.scalars(select(Delivery.id).order_by(Delivery.id)))
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert outbox.send_batch(ids) == {"sent": 45}
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    # The claim, the people (a sign-in link reads no suppressions or
    # unsubscribes), and a mark per 20 sends:
    # nothing per email (people loaded again after a mark's commit would be 45 more).
    assert len(statements) <= 6, statements
    for n in range(len(names)):
        (received,) = smtp.to(f"p{n}@example.org")
        assert received.message["Subject"] == f"Confirm your place in Hearth, Person{n}"
