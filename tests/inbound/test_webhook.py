"""POST /inbound/mime: 202 when stored, 401, 413, 415, 400, each with a JSON reason."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.inbound.models import InboundMessage
from tests.inbound.mail import fixture


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(InboundMessage.id)))


def test_stored_raw_and_answered_202(inbound, app):
    raw = fixture("gmail_plain.eml")
    response = inbound.post(raw)
    assert response.status_code == 202
    body = response.get_json()
    assert body["duplicate"] is False
    with app.app_context():
        stored = db.session.get(InboundMessage, body["id"])
        assert stored.raw == raw and stored.size == len(raw)
        assert stored.status == "new" and stored.received_via == "webhook"


def test_the_same_message_twice_is_stored_once(inbound, app):
    first = inbound.post(fixture("duplicate_a.eml"))
    again = inbound.post(fixture("duplicate_b.eml"))  # same Message-ID, other Received lines
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json() == {"id": first.get_json()["id"], "duplicate": True}
    assert count(app) == 1


def test_a_reused_message_id_on_other_words_keeps_both(inbound, app):
    raw = fixture("gmail_plain.eml")
    other = raw.replace(b"Subject: Re:", b"Subject: Something else entirely, Re:")
    assert inbound.post(raw).status_code == 202
    assert inbound.post(other).get_json()["duplicate"] is False
    assert count(app) == 2


def test_wrong_or_missing_token_is_401(inbound, app, client):
    assert inbound.post(fixture("gmail_plain.eml"), token="wrong").status_code == 401
    response = client.post("/inbound/mime", data=b"x", headers={"Content-Type": "message/rfc822"})
    assert response.status_code == 401
    assert response.get_json()["reason"] == "missing or wrong bearer token"
    assert count(app) == 0


def test_webhook_is_off_without_a_secret(inbound, app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_SECRET", None)
    response = inbound.post(fixture("gmail_plain.eml"))
    assert response.status_code == 401
    assert "INBOUND_SECRET" in response.get_json()["reason"]


def test_empty_and_wrong_type_and_too_large(inbound, app):
    assert inbound.post(b"   \r\n").status_code == 400
    wrong = inbound.post(fixture("gmail_plain.eml"), content_type="application/json")
    assert wrong.status_code == 415 and "message/rfc822" in wrong.get_json()["reason"]
    big = fixture("gmail_plain.eml") + b"x" * (10 * 1024 * 1024)
    response = inbound.post(big)
    assert response.status_code == 413
    assert response.get_json()["reason"]
    assert count(app) == 0
