"""Real-looking replies to emails Hearth really sent: the client fixtures
under tests/fixtures/inbound/ re-addressed to a captured email's signed
Reply-To and Message-ID."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from app import clock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inbound"
FIXTURE_REPLY_TO = b"reply+d42-abcdefghijklmnop@hearth.example"
FIXTURE_MESSAGE_ID = b"d42.0123456789abcdef@hearth.example"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_sender(name: str) -> tuple[str, str]:
    for line in fixture(name).decode("latin-1").splitlines():
        if line.lower().startswith("from:"):
            display, address = parseaddr(line[5:].strip())
            return display or address.split("@")[0], address.lower()
    raise AssertionError(f"{name} has no From")


def readdressed(name: str, received) -> bytes:
    """The fixture as a reply to `received` (a tests.mailbox.Received)."""
    reply_to = received.message["Reply-To"].addresses[0].addr_spec.encode()
    message_id = received.message["Message-ID"].strip("<>").encode()
    return fixture(name).replace(FIXTURE_REPLY_TO, reply_to).replace(FIXTURE_MESSAGE_ID, message_id)


def reply_from(email: str, received, text: str, *, name: str = "", subject: str | None = None,
               headers: dict | None = None) -> bytes:
    """A plain reply as a mail client writes it, quoting the original below."""
    message = EmailMessage()
    message["From"] = f"{name} <{email}>" if name else email
    message["To"] = received.message["Reply-To"]
    message["Subject"] = subject or f"Re: {received.subject}"
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain="client.example")
    message["In-Reply-To"] = received.message["Message-ID"]
    message["References"] = received.message["Message-ID"]
    for key, value in (headers or {}).items():
        message[key] = value
    quoted = "\n".join(f"> {line}" for line in received.text.splitlines()[:8])
    message.set_content(f"{text}\n\nOn {received.message['Date']}, Hearth wrote:\n{quoted}\n")
    return message.as_bytes()
