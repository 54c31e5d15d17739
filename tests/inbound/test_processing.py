"""Replies from real mail clients through the whole pipeline: stored, parsed,
trimmed, routed, acted on, with a status and reason for every message."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.accounts.models import Person
from app.extensions import db
from app.inbound import service
from app.inbound.models import InboundMessage
from app.outbox.models import Delivery, Suppression, Unsubscribe
from tests.inbound.conftest import make_champion, send_programme_email
from tests.inbound.mail import fixture, fixture_sender, readdressed, reply_from


def processed(app, response) -> SimpleNamespace:
    """Process the stored message now (as the job would) and snapshot the outcome."""
    assert response.status_code == 202, response.get_json()
    with app.app_context():
        message = service.process(response.get_json()["id"])
        fields = ("id", "status", "reason", "kind", "text", "person_id", "routed_kind", "routed_id")
        return SimpleNamespace(**{name: getattr(message, name) for name in fields})


@pytest.mark.parametrize(
    ("name", "starts"),
    [
        ("gmail_plain.eml", "Thanks, we met on Tuesday"),
        ("gmail_html.eml", None),
        ("gmail_html_only.eml", None),
        ("outlook_desktop_topposted.eml", None),
        ("outlook_web.eml", None),
        ("apple_mail.eml", None),
        ("thunderbird.eml", None),
        ("german_reply.eml", None),
        ("spanish_reply.eml", None),
        ("quoted_printable.eml", None),
        ("base64_body.eml", None),
        ("iso_8859_1.eml", None),
        ("windows_1252.eml", None),
        ("windows_1252_undeclared.eml", None),
        ("with_attachment.eml", None),
    ],
)
def test_a_champion_s_reply_reaches_a_person(name, starts, inbound, app, smtp, drain, coordinator):
    """No buddy yet: the words go to the coordinators, with only the new text,
    and the coordinator's answer goes straight back to the champion."""
    display, address = fixture_sender(name)
    champion_id = make_champion(app, address, display)
    sent = send_programme_email(app, smtp, drain, champion_id)
    message = processed(app, inbound.post(readdressed(name, sent)))
    assert (message.status, message.kind) == ("processed", "reply"), message.reason
    assert message.reason == "forwarded to coord@hearth.test"
    assert message.person_id == champion_id
    drain()
    forward = smtp.wait_for(to="coord@hearth.test", subject="wrote back")
    assert forward.message["Reply-To"].addresses[0].addr_spec == address
    text = forward.text
    assert message.text.strip() and message.text.splitlines()[0] in text
    # Only the new words: no quoted history of our own email.
    assert "Welcome to Hearth" not in message.text and "wrote:" not in message.text.splitlines()[-1]
    if starts:
        assert message.text.startswith(starts)


def test_auto_replies_are_ignored_and_never_answered(inbound, app, smtp, drain, coordinator):
    for name in ("out_of_office.eml", "out_of_office_de.eml"):
        display, address = fixture_sender(name)
        champion_id = make_champion(app, address, display)
        sent = send_programme_email(app, smtp, drain, champion_id)
        message = processed(app, inbound.post(readdressed(name, sent)))
        assert message.status == "ignored" and message.reason.startswith("auto-reply")
    drain()
    assert smtp.to("coord@hearth.test") == []


def test_a_bounce_marks_its_delivery_and_suppresses_the_address(inbound, app, smtp, drain):
    champion_id = make_champion(app, "lena.fischer@example.de", "Lena Fischer")
    sent = send_programme_email(app, smtp, drain, champion_id)
    raw = readdressed("dsn_bounce.eml", sent)
    with app.app_context():
        recipient = raw.decode("latin-1").split("Final-Recipient: rfc822;")[1].split()[0].strip()
        person = db.session.get(Person, champion_id)
        person.email = recipient.lower()
        delivery = db.session.scalar(select(Delivery).where(Delivery.message_id == sent.message["Message-ID"]))
        delivery.to_email = recipient.lower()
        db.session.commit()
    message = processed(app, inbound.post(raw))
    assert message.status == "ignored" and message.reason.startswith("bounce (permanent")
    with app.app_context():
        delivery = db.session.scalar(select(Delivery).where(Delivery.message_id == sent.message["Message-ID"]))
        assert delivery.status == "bounced"
        assert db.session.scalar(select(Suppression.email)) == recipient.lower()


def test_a_forged_from_is_quarantined_not_logged(inbound, app, smtp, drain, coordinator):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    message = processed(app, inbound.post(readdressed("forged_from.eml", sent)))
    assert message.status == "quarantined"
    assert "belongs to ada@example.org" in message.reason
    drain()
    assert smtp.to("coord@hearth.test") == []


def test_a_stranger_answering_a_forwarded_email_is_quarantined(inbound, app, smtp, drain):
    champion_id = make_champion(app, "sam.okafor@riverside-coop.example", "Sam Okafor")
    sent = send_programme_email(app, smtp, drain, champion_id)
    message = processed(app, inbound.post(readdressed("forwarded_stranger.eml", sent)))
    assert message.status == "quarantined" and "belongs to" in message.reason


def test_mail_to_no_address_of_ours_is_quarantined(inbound, app):
    message = processed(app, inbound.post(fixture("gmail_plain.eml")))  # reply+d42-… is not signed by us
    assert message.status == "quarantined"
    assert message.reason.startswith("not addressed to a reply address of ours")


def test_a_thread_reply_without_our_address_is_routed_by_in_reply_to(inbound, app, smtp, drain, coordinator):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    raw = reply_from("ada@example.org", sent, "Quick question about rounds.")
    raw = raw.replace(sent.message["Reply-To"].addresses[0].addr_spec.encode(), b"hello@hearth.test")
    message = processed(app, inbound.post(raw))
    assert message.status == "processed" and message.text == "Quick question about rounds."


def test_reply_commands_are_applied_and_confirmed(inbound, app, smtp, drain):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    message = processed(app, inbound.post(reply_from("ada@example.org", sent, "pause 3 weeks")))
    assert message.status == "processed" and message.reason.startswith("command pause")
    with app.app_context():
        assert db.session.get(Person, champion_id).paused_until is not None
    drain()
    assert smtp.to("ada@example.org")[-1].subject.startswith("Paused until")

    for text, subject in [("resume", "Welcome back"), ("help", "What you can reply"),
                          ("STOP.", "no more programme emails")]:
        processed(app, inbound.post(reply_from("ada@example.org", sent, text)))
        drain()
        assert subject in smtp.to("ada@example.org")[-1].subject
    with app.app_context():
        assert db.session.get(Person, champion_id).paused_until is None
        assert db.session.scalar(select(Unsubscribe.stream)) == "all"


def test_a_sentence_that_starts_like_a_command_is_words(inbound, app, smtp, drain, coordinator):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    message = processed(app, inbound.post(reply_from("ada@example.org", sent, "Stop worrying, it went well!")))
    assert message.reason == "forwarded to coord@hearth.test"


def test_mailto_unsubscribe_from_the_list_header(inbound, app, smtp, drain):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    mailto = sent.message["List-Unsubscribe"].split(",")[1].strip(" <>").removeprefix("mailto:")
    address = mailto.split("?")[0]
    raw = reply_from("ada@example.org", sent, "", subject="unsubscribe").replace(
        sent.message["Reply-To"].addresses[0].addr_spec.encode(), address.encode()
    )
    message = processed(app, inbound.post(raw))
    assert message.status == "processed" and message.reason == "mailto unsubscribe from onboarding"
    with app.app_context():
        assert db.session.scalar(select(Unsubscribe.stream)) == "onboarding"


def test_only_quoted_history_is_ignored_with_a_reason(inbound, app, smtp, drain):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    message = processed(app, inbound.post(reply_from("ada@example.org", sent, "")))
    assert message.status == "ignored" and "no new text" in message.reason


def test_a_crash_leaves_failed_and_reprocess_runs_it_again(inbound, app, smtp, drain, coordinator,
                                                          runner, monkeypatch):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    response = inbound.post(reply_from("ada@example.org", sent, "We held our first round!"))

    def broken(*args, **kwargs):
        raise RuntimeError("a parser bug")

    monkeypatch.setattr("emails.inbound.parse_message", broken)
    message = processed(app, response)
    assert (message.status, message.reason) == ("failed", "RuntimeError: a parser bug")
    monkeypatch.undo()
    result = runner.invoke(args=["inbound", "reprocess", str(message.id)])
    assert result.exit_code == 0, result.output
    assert f"inbound {message.id}: processed: forwarded to coord@hearth.test" in result.output
    missing = runner.invoke(args=["inbound", "reprocess", "999999"])
    assert missing.exit_code != 0 and "There is no inbound message 999999." in missing.output
    with app.app_context():
        assert db.session.get(InboundMessage, message.id).attempts == 2  # the failed one counts


def test_reprocess_every_message_of_a_status_after_a_fix(inbound, app, smtp, drain, coordinator,
                                                         runner, monkeypatch):
    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    monkeypatch.setattr("emails.inbound.parse_message", lambda *a, **k: 1 / 0)
    failed = [processed(app, inbound.post(reply_from("ada@example.org", sent, f"Update {n}: it went well.")))
              for n in range(3)]
    assert {m.status for m in failed} == {"failed"}
    monkeypatch.undo()
    result = runner.invoke(args=["inbound", "reprocess", "--status", "failed"])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[1].strip() for line in result.output.splitlines()] == ["processed"] * 3
    again = runner.invoke(args=["inbound", "reprocess", "--status", "failed"])
    assert again.exit_code == 0 and again.output.strip() == "reprocessed 0 messages"
    both = runner.invoke(args=["inbound", "reprocess", "1", "--status", "failed"])
    assert both.exit_code != 0 and "not both" in both.output


def test_a_lost_processing_job_is_enqueued_again_by_the_clock(inbound, app, smtp, drain, redis, coordinator):
    from datetime import timedelta

    from app import clock
    from app.tick import tick

    champion_id = make_champion(app, "ada@example.org")
    sent = send_programme_email(app, smtp, drain, champion_id)
    inbound.post(reply_from("ada@example.org", sent, "Hello there"))
    redis.flushdb()
    clock.set(clock.now() + timedelta(minutes=3))
    with app.app_context():
        assert tick().inbound_requeued == 1
    drain()
    with app.app_context():
        assert db.session.scalar(select(InboundMessage.status)) == "processed"
