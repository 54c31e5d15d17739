"""Rendered email + addresses -> one MIME message. This module owns the headers."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from emails.render import Rendered


class HeaderInjection(ValueError):
    """A value meant for one header line contained a line break."""


def clean_header_value(value: str) -> str:
    """Refuse CR/LF in anything that becomes a header (names, subjects)."""
    if "\r" in value or "\n" in value:
        raise HeaderInjection("line breaks are not allowed in email headers")
    return value


def message_id(delivery_id: int, idempotency_key: str, secret: str, domain: str) -> str:
    """Deterministic: a resent delivery carries the same Message-ID, so receivers
    and our own inbound pipeline see one message (invariant 2)."""
    mac = hmac.new(secret.encode(), idempotency_key.encode(), hashlib.sha256).hexdigest()[:16]
    return f"<d{delivery_id}.{mac}@{domain}>"


def address(name: str | None, email: str) -> Address:
    local, _, domain = email.rpartition("@")
    return Address(display_name=clean_header_value(name or ""), username=local, domain=domain)


def compose(
    rendered: Rendered,
    *,
    sender: Address,
    to: Address | list[Address],
    msg_id: str,
    date: datetime,
    reply_to: Address | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message with a text and an HTML part."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to if isinstance(to, Address) else tuple(to)
    msg["Subject"] = clean_header_value(rendered.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = msg_id
    if reply_to is not None:
        msg["Reply-To"] = reply_to
    for name, value in (headers or {}).items():
        msg[name] = clean_header_value(value)
    msg.set_content(rendered.text, cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return msg
