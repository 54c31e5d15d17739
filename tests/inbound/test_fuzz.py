"""A few thousand mutated messages through store + process: no crash, and
every message ends with a final status and a reason."""

from __future__ import annotations

import random

from sqlalchemy import select

from app.extensions import db
from app.inbound import service
from app.inbound.models import InboundMessage
from tests.inbound.mail import FIXTURES

FINAL = {"processed", "ignored", "quarantined", "failed"}


def mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        if choice < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.6:
            data = data[: rng.randrange(len(data) + 1)]
        elif choice < 0.75:
            start = rng.randrange(len(data) + 1)
            data[start:start] = rng.choice([b"\r\n\r\n", b"--", b"=?utf-8?b?", b"\x00", b"Content-Type: multipart/mixed\r\n"])
        elif choice < 0.9:
            headers, _, body = bytes(data).partition(b"\r\n\r\n")
            lines = headers.split(b"\n")
            data = bytearray(b"\n".join(lines + rng.sample(lines, min(3, len(lines)))) + b"\r\n\r\n" + body)
        else:
            data = bytearray(bytes(data).replace(b"boundary", b"boundry", 1))
    return bytes(data)


def test_mutated_mail_always_ends_with_a_status(app):
    rng = random.Random(20261125)
    sources = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
    with app.app_context():
        for i in range(1000):
            raw = mutate(rng.choice(sources), rng) or b"x"
            raw = raw.replace(b"Message-ID:", f"X-Was: {i}\r\nMessage-ID:".encode(), 1)
            try:
                stored = service.store(raw, via="webhook")
            except Exception as error:  # storing must never fail on content
                raise AssertionError(f"store failed on mutation {i}: {error!r}") from error
            if stored.created:
                service.process(stored.id)
        rows = db.session.execute(select(InboundMessage.status, InboundMessage.reason)).all()
        assert len(rows) > 500
        assert {status for status, _ in rows} <= FINAL
        assert all(reason for _, reason in rows)
        assert not [r for r in rows if r.status == "failed"], [r.reason for r in rows if r.status == "failed"][:5]
