"""/metrics: Prometheus exposition read from the database and Redis at
scrape time, so any web process answers for every worker and clock."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from app import clock
from tests.inbound.mail import fixture
from tests.story import sign_up


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_an_empty_programme_reads_zero_everywhere(client):
    samples = scrape(client)
    assert value(samples, "hearth_source_up", source="database") == 1
    assert value(samples, "hearth_source_up", source="redis") == 1
    for queue in ("login", "inbound", "default", "bulk"):
        assert value(samples, "hearth_queue_jobs", queue=queue) == 0
        assert value(samples, "hearth_deliveries_due", queue=queue) == 0
    assert value(samples, "hearth_send_lateness_window_sends") == 0
    assert math.isnan(value(samples, "hearth_send_lateness_seconds", quantile="0.99"))


def test_a_signup_moves_through_queue_status_and_lateness(client, drain, smtp):
    start = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    clock.set(start)
    sign_up(client)  # the confirmation email: a Delivery and a job on the login queue
    waiting = scrape(client)
    assert value(waiting, "hearth_queue_jobs", queue="login") == 1
    assert value(waiting, "hearth_deliveries", status="pending", stream="transactional") == 1
    assert value(waiting, "hearth_deliveries_due", queue="login") == 1

    clock.set(start + timedelta(seconds=90))  # the worker takes it 90 s late
    drain()
    smtp.wait_for(subject="Confirm")
    sent = scrape(client)
    assert value(sent, "hearth_queue_jobs", queue="login") == 0
    assert value(sent, "hearth_deliveries", status="sent", stream="transactional") == 1
    assert ("hearth_deliveries", (("status", "pending"), ("stream", "transactional"))) not in sent
    assert value(sent, "hearth_send_lateness_window_sends") == 1
    assert value(sent, "hearth_send_lateness_seconds", quantile="0.5") == 90
    assert value(sent, "hearth_send_lateness_seconds", quantile="0.99") == 90

    clock.set(start + timedelta(hours=2))  # outside the one-hour window
    assert value(scrape(client), "hearth_send_lateness_window_sends") == 0


def test_inbound_by_status(client, inbound, drain):
    assert inbound.post(fixture("gmail_plain.eml")).status_code == 202  # to nobody we know
    stored = scrape(client)
    assert value(stored, "hearth_inbound_messages", status="new") == 1
    assert value(stored, "hearth_queue_jobs", queue="inbound") == 1
    drain()
    processed = scrape(client)
    assert value(processed, "hearth_inbound_messages", status="quarantined") == 1
    assert value(processed, "hearth_inbound_oldest_new_seconds") == 0


def test_a_token_protects_the_metrics_when_set(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-me")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    samples = scrape(client, Authorization="Bearer scrape-me")
    assert value(samples, "hearth_source_up", source="database") == 1


def test_a_dead_redis_leaves_the_database_figures(client, app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "REDIS_URL", f"unix://{tmp_path / 'no-redis.sock'}")
    samples = scrape(client)
    assert value(samples, "hearth_source_up", source="redis") == 0
    assert value(samples, "hearth_source_up", source="database") == 1
    assert ("hearth_queue_jobs", (("queue", "login"),)) not in samples
    assert value(samples, "hearth_send_lateness_window_sends") == 0


def test_waiting_for_a_send_window_is_not_lateness(app, client, drain):
    """An email planned for 09:00 tomorrow and sent then is on time."""
    from app.accounts.models import Person
    from app.extensions import db
    from app.outbox import service as outbox
    from tests.inbound.conftest import make_champion

    start = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    clock.set(start)
    person_id = make_champion(app, "ada@example.org")
    slot = start + timedelta(hours=13)
    with app.app_context():
        outbox.queue_email(db.session.get(Person, person_id), "onboarding_welcome",
                           stream="onboarding", key="window-test", due_at=start, send_at=slot)
        db.session.commit()
        outbox.enqueue_pending()
    drain()  # the signup confirmation goes now; the welcome waits for its slot
    clock.set(slot + timedelta(seconds=30))
    with app.app_context():
        outbox.enqueue_pending()
    drain()
    samples = scrape(client)
    assert value(samples, "hearth_send_lateness_seconds", quantile="0.99") == 30
