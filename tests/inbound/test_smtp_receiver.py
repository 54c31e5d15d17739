"""End to end over real SMTP: the prompt is captured from our SMTP sink, the
reply is sent to the inbound SMTP receiver, and the words arrive once."""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.inbound import receiver
from app.inbound.models import InboundMessage
from tests.inbound.conftest import make_champion, send_programme_email
from tests.inbound.mail import reply_from
from tests.mailbox import free_port


@pytest.fixture
def smtp_receiver(app):
    port = free_port()
    controller = receiver.start(app, "127.0.0.1", port)
    yield controller
    controller.stop()


def test_reply_over_smtp_is_stored_processed_and_forwarded_once(app, smtp, drain, smtp_receiver, coordinator):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    raw = reply_from("ada@example.org", sent, "Our first consent round worked.")
    to = sent.message["Reply-To"].addresses[0].addr_spec
    for _ in range(2):  # the sending server retried: stored once
        with smtplib.SMTP(smtp_receiver.hostname, smtp_receiver.port) as client:
            client.sendmail("ada@example.org", [to], raw)
    drain()
    with app.app_context():
        rows = db.session.scalars(select(InboundMessage)).all()
        assert [(m.status, m.received_via, m.envelope_to) for m in rows] == [("processed", "smtp", to)]
    forwards = smtp.to("coord@hearth.test")
    assert len(forwards) == 1 and "Our first consent round worked." in forwards[0].text


def test_lmtp_works_too(app, smtp, drain):
    port = free_port()
    controller = receiver.start(app, "127.0.0.1", port, lmtp=True)
    try:
        with smtplib.LMTP(controller.hostname, port) as client:
            client.sendmail("x@example.org", ["reply+d1-aaaaaaaaaaaaaaaa@in.hearth.test"],
                            b"From: x@example.org\r\nSubject: hi\r\nMessage-ID: <l1@x>\r\n\r\nhello\r\n")
    finally:
        controller.stop()
    with app.app_context():
        assert db.session.scalar(select(func.count(InboundMessage.id))) == 1


def test_too_large_is_refused_with_552_and_not_stored(app, smtp_receiver):
    big = b"From: a@example.org\r\nSubject: big\r\n\r\n" + (b"x" * 1000 + b"\r\n") * (12 * 1024)
    with (
        smtplib.SMTP(smtp_receiver.hostname, smtp_receiver.port) as client,
        pytest.raises(smtplib.SMTPException) as refused,
    ):
        client.sendmail("a@example.org", ["reply+d1-aaaaaaaaaaaaaaaa@in.hearth.test"], big)
    assert "552" in str(refused.value)
    with app.app_context():
        assert db.session.scalar(select(func.count(InboundMessage.id))) == 0
