"""The buddy logs a check-in just by replying: the prompt is captured from the
SMTP server, the reply goes through the webhook or the SMTP receiver, and the
check-in appears once, with only the new words and the energy score."""

from __future__ import annotations

import smtplib
from datetime import timedelta

from sqlalchemy import select

from app.buddies.models import Checkin, Pair
from app.extensions import db
from app.inbound import receiver
from tests.buddies.pairing import START, introduced_pair
from tests.inbound.mail import readdressed, reply_from
from tests.mailbox import free_port
from tests.story import travel

PROMPT = "How is your champion doing"


def first_prompt(app, smtp, drain):
    travel(app, drain, START + timedelta(days=16))
    return smtp.wait_for(to="sam@example.org", subject=PROMPT)


def checkins(app) -> list[tuple]:
    with app.app_context():
        return [(c.author_id, c.text, c.energy) for c in db.session.scalars(select(Checkin))]


def test_buddy_reply_becomes_one_checkin_via_the_webhook(app, smtp, drain, inbound):
    pair = introduced_pair(app, drain)
    prompt = first_prompt(app, smtp, drain)
    assert prompt.message["Reply-To"].addresses[0].addr_spec.startswith(f"reply+p{pair.pair_id}-")
    raw = reply_from("sam@example.org", prompt, "We met.\nenergy: 4\nShe ran her first round.")
    for _ in range(2):  # resent by the client: stored once
        assert inbound.post(raw).status_code == 202
    drain()
    assert checkins(app) == [(pair.buddy_id, "We met.\nShe ran her first round.", 4)]


def test_buddy_reply_over_smtp_from_outlook(app, smtp, drain):
    pair = introduced_pair(app, drain)
    prompt = first_prompt(app, smtp, drain)
    raw = readdressed("outlook_desktop_topposted.eml", prompt)
    raw = raw.replace(b"sam.okafor@riverside-coop.example", b"sam@example.org")
    controller = receiver.start(app, "127.0.0.1", free_port())
    try:
        with smtplib.SMTP(controller.hostname, controller.port) as client:
            client.sendmail("sam@example.org", [prompt.message["Reply-To"].addresses[0].addr_spec], raw)
    finally:
        controller.stop()
    drain()
    logged = checkins(app)
    assert len(logged) == 1 and logged[0][0] == pair.buddy_id
    assert "From:" not in logged[0][1] and "Sent:" not in logged[0][1]


def test_a_stranger_cannot_log_a_checkin(app, smtp, drain, inbound):
    introduced_pair(app, drain)
    prompt = first_prompt(app, smtp, drain)
    inbound.post(reply_from("mallory@example.org", prompt, "All fine, energy: 5"))
    drain()
    assert checkins(app) == []


def test_end_by_reply_ends_the_pair(app, smtp, drain, inbound):
    pair = introduced_pair(app, drain)
    prompt = first_prompt(app, smtp, drain)
    inbound.post(reply_from("sam@example.org", prompt, "end"))
    drain()
    with app.app_context():
        assert db.session.get(Pair, pair.pair_id).status == "ended"
    assert checkins(app) == []
