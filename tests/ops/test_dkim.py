"""Optional DKIM signing: a programme email signed with a generated key
verifies with dkimpy, and its List-Unsubscribe headers are covered."""

from __future__ import annotations

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from app import clock
from app.accounts.models import Person
from app.extensions import db
from app.outbox import service as outbox
from app.outbox import signing
from app.outbox.models import Delivery
from app.outbox.smtp import SMTPSession
from emails import dkim
from tests.inbound.conftest import make_champion, send_programme_email


@pytest.fixture(scope="module")
def private_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def verifies(message: bytes, private_key: bytes) -> bool:
    """Verify as a receiving server would, with the TXT record we would publish."""
    record = dkim.dns_record(private_key).encode()

    def txt(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"hearth2027._domainkey.hearth.test."
        return record

    return dkimpy.verify(message, dnsfunc=txt)


def signature_tags(message: bytes) -> dict[str, str]:
    header = message.split(b"DKIM-Signature:", 1)[1].split(b"\nFrom:", 1)[0]
    unfolded = b"".join(header.split()).decode()
    return dict(tag.split("=", 1) for tag in unfolded.split(";") if tag)


@pytest.fixture
def programme_email(app):
    """The bytes of a real onboarding email, as the outbox builds them."""
    person_id = make_champion(app, "ada@example.org")
    with app.app_context():
        delivery = outbox.queue_email(db.session.get(Person, person_id), "onboarding_welcome",
                                      stream="onboarding", key=f"{person_id}:dkim-test")
        db.session.commit()
        message, _rendered, envelope_from, envelope_to = outbox.build_message(delivery, clock.now())
        db.session.remove()
    assert message["List-Unsubscribe"] and message["List-Unsubscribe-Post"]
    return message.as_bytes(), envelope_from, envelope_to


def test_a_signed_programme_email_verifies(programme_email, private_key):
    raw, _from, _to = programme_email
    signed = dkim.sign(raw, "hearth2027", "hearth.test", private_key)
    assert signed.startswith(b"DKIM-Signature: ") and signed.endswith(raw)
    assert verifies(signed, private_key)
    tags = signature_tags(signed)
    assert (tags["d"], tags["s"], tags["c"], tags["a"]) == (
        "hearth.test", "hearth2027", "relaxed/relaxed", "rsa-sha256")
    signed_headers = tags["h"].split(":")
    for name in ("from", "to", "subject", "date", "message-id", "reply-to",
                 "list-unsubscribe", "list-unsubscribe-post"):
        assert name in signed_headers


def test_a_changed_unsubscribe_link_breaks_the_signature(programme_email, private_key):
    raw, _from, _to = programme_email
    signed = dkim.sign(raw, "hearth2027", "hearth.test", private_key)
    head, body = signed.split(b"\r\n\r\n", 1)
    assert head.count(b"<mailto:reply+u") == 1  # only in List-Unsubscribe
    changed = head.replace(b"<mailto:reply+u", b"<mailto:evil+u") + b"\r\n\r\n" + body
    assert not verifies(changed, private_key)
    dropped = signed.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b"")
    assert dropped != signed
    assert not verifies(dropped, private_key)


def test_an_unsubscribe_header_added_later_breaks_the_signature(private_key):
    raw = (b"From: Hearth <hello@hearth.test>\r\nTo: ada@example.org\r\n"
           b"Subject: Your sign-in link\r\nMessage-ID: <d1.x@hearth.test>\r\n\r\nHello\r\n")
    signed = dkim.sign(raw, "hearth2027", "hearth.test", private_key)
    assert verifies(signed, private_key)
    added = signed.replace(b"Subject:", b"List-Unsubscribe: <https://evil.example/u>\r\nSubject:")
    assert not verifies(added, private_key)


def test_lf_line_endings_stay_lf_and_verify(private_key):
    raw = b"From: hello@hearth.test\nTo: ada@example.org\nSubject: Hi\n\nHello\n"
    signed = dkim.sign(raw, "hearth2027", "hearth.test", private_key)
    assert b"\r\n" not in signed
    assert verifies(signed, private_key)
    assert verifies(signed.replace(b"\n", b"\r\n"), private_key)  # as SMTP delivers it


def test_a_bad_key_or_no_from_is_a_clear_error(private_key):
    with pytest.raises(dkim.SigningError, match="From"):
        dkim.sign(b"From: a@b.c\r\n\r\nx\r\n", "s", "b.c", private_key, headers=("Subject",))
    with pytest.raises(dkim.SigningError):
        dkim.sign(b"From: a@b.c\r\n\r\nx\r\n", "s", "b.c", b"not a key")


def test_what_smtp_delivers_verifies(app, programme_email, private_key, tmp_path, smtp, monkeypatch):
    """The hook itself: sign_outgoing() on the bytes handed to SMTP."""
    path = tmp_path / "dkim.pem"
    path.write_bytes(private_key)
    monkeypatch.setitem(app.config, "DKIM_PRIVATE_KEY_PATH", str(path))
    monkeypatch.setitem(app.config, "DKIM_SELECTOR", "hearth2027")
    raw, envelope_from, envelope_to = programme_email
    with app.app_context():
        session = SMTPSession()
        session.send(envelope_from, envelope_to, signing.sign_outgoing(raw))
        session.close()
    [received] = smtp.messages
    assert verifies(received.raw, private_key)
    assert signature_tags(received.raw)["d"] == "hearth.test"  # MAIL_DEFAULT_SENDER's domain


def test_the_outbox_signs_every_email_it_sends(app, private_key, tmp_path, smtp, drain, monkeypatch):
    """End to end: a sign-in link and a programme email, sent by the worker."""
    path = tmp_path / "dkim.pem"
    path.write_bytes(private_key)
    monkeypatch.setitem(app.config, "DKIM_PRIVATE_KEY_PATH", str(path))
    monkeypatch.setitem(app.config, "DKIM_SELECTOR", "hearth2027")
    person_id = make_champion(app, "ada@example.org")
    programme = send_programme_email(app, smtp, drain, person_id)
    received = smtp.to("ada@example.org")
    assert len(received) >= 2 and programme in received
    for message in received:
        assert verifies(message.raw, private_key), message.message["Subject"]
    assert "list-unsubscribe" in signature_tags(programme.raw)["h"].split(":")


def test_a_key_that_cannot_sign_holds_the_email_instead_of_sending_it_unsigned(
        app, tmp_path, smtp, drain, monkeypatch):
    monkeypatch.setitem(app.config, "DKIM_PRIVATE_KEY_PATH", str(tmp_path / "missing.pem"))
    monkeypatch.setitem(app.config, "DKIM_SELECTOR", "hearth2027")
    person_id = make_champion(app, "ada@example.org")
    with app.app_context():
        outbox.queue_email(db.session.get(Person, person_id), "onboarding_welcome",
                           stream="onboarding", key=f"{person_id}:dkim-held")
        db.session.commit()
        outbox.enqueue_new()
    drain()
    assert smtp.to("ada@example.org") == []
    with app.app_context():
        held = db.session.scalar(select(Delivery).where(Delivery.idempotency_key == f"{person_id}:dkim-held"))
        assert held.status == "pending" and held.attempts == 1
        assert held.last_error.startswith("DKIM: ") and "missing.pem" in held.last_error


def test_without_a_key_nothing_changes(app):
    with app.app_context():
        assert signing.sign_outgoing(b"From: a@b.c\r\n\r\nx\r\n") == b"From: a@b.c\r\n\r\nx\r\n"


def test_healthz_reports_a_dkim_key_that_cannot_sign(client, app, monkeypatch, tmp_path,
                                                      private_key):
    monkeypatch.setitem(app.config, "DKIM_SELECTOR", "hearth2027")
    good = tmp_path / "good.pem"
    good.write_bytes(private_key)
    monkeypatch.setitem(app.config, "DKIM_PRIVATE_KEY_PATH", str(good))
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["checks"]["dkim"]["ok"]

    monkeypatch.setitem(app.config, "DKIM_PRIVATE_KEY_PATH", str(tmp_path / "missing.pem"))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "missing.pem" in response.get_json()["checks"]["dkim"]["error"]

    monkeypatch.setitem(app.config, "DKIM_SELECTOR", None)
    monkeypatch.setitem(app.config, "DKIM_PRIVATE_KEY_PATH", str(good))
    with app.app_context(), pytest.raises(signing.DKIMNotConfigured, match="DKIM_SELECTOR"):
        signing.sign_outgoing(b"From: a@b.c\r\n\r\nx\r\n")
