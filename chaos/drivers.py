"""The people of a chaos run: champions signing up and confirming over HTTP
(through either web server), and buddies and champions replying by email to
the inbound SMTP receiver. Each retries what failed, as a person or a mail
server would, and records what Hearth accepted, for the checks at the end."""

from __future__ import annotations

import http.client
import re
import smtplib
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlencode

from chaos.faults import FaultySink

_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
_LINK = re.compile(r"http://hearth\.example\.org(/auth/[A-Za-z0-9_\-]+)")
RETRY_FOR = 120.0  # seconds a person keeps trying


@dataclass
class Ledger:
    """What Hearth said yes to."""

    signed_up: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)  # Message-ID -> "checkin:<pair>" | "question"
    http_retries: int = 0
    smtp_retries: int = 0
    gave_up: list[str] = field(default_factory=list)


class _Browser:
    def __init__(self, port: int) -> None:
        self.port, self.cookies = port, {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urlencode(body)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            return response.status, text
        finally:
            conn.close()


def _form_post(ports: list[int], number: int, path: str, page: str, form: dict,
               ledger: Ledger, ok=(200, 302)) -> bool:
    """GET `page` for a session and CSRF token, POST `form` to `path`; again
    (on the other web server) until it works or RETRY_FOR has passed."""
    deadline = time.monotonic() + RETRY_FOR
    attempt = 0
    while time.monotonic() < deadline:
        browser = _Browser(ports[(number + attempt) % len(ports)])
        attempt += 1
        try:
            status, text = browser.request("GET", page)
            token = _CSRF.search(text) if status == 200 else None
            if token is not None:
                status, _ = browser.request("POST", path, {**form, "csrf_token": token.group(1)})
                if status in ok:
                    return True
        except (OSError, http.client.HTTPException):
            pass
        ledger.http_retries += 1
        time.sleep(0.5)
    return False


def sign_up(ports: list[int], number: int, ledger: Ledger) -> str | None:
    email = f"chaos-{number}-{uuid.uuid4().hex[:6]}@champions.example"
    form = {"name": f"Chaos Champion {number}", "email": email, "timezone": "Europe/Berlin",
            "organisation": "Chaos Co-op", "organisation_kind": "cooperative",
            "organisation_size": "10-49", "could_pay_consultant": "no", "language": "en",
            "situation": "Testing what survives.", "consent": "y"}
    if _form_post(ports, number, "/signup", "/signup", form, ledger, ok=(200,)):
        ledger.signed_up.append(email)
        return email
    ledger.gave_up.append(f"signup {email}")
    return None


def confirm(ports: list[int], number: int, email: str, sink: FaultySink, ledger: Ledger) -> None:
    """Open the link of the confirmation email, when it has arrived, and press Continue."""
    deadline = time.monotonic() + RETRY_FOR
    while time.monotonic() < deadline:
        for accepted in reversed(sink.snapshot()):
            if email in accepted.rcpts:
                match = _LINK.search(accepted.raw.decode("utf-8", "replace").replace("=\r\n", ""))
                if match and _form_post(ports, number, match.group(1), match.group(1), {}, ledger):
                    ledger.confirmed.append(email)
                    return
                break
        time.sleep(0.5)
    ledger.gave_up.append(f"confirm {email}")


def reply(port: int, sender: str, to: str, text: str, kind: str, ledger: Ledger) -> None:
    """One email to the inbound receiver, sent again on a 4xx or a dropped
    connection, as a mail server does."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Re: your check-in" if kind.startswith("checkin") else "Re: Welcome"
    message["Date"] = format_datetime(time_now())
    message["Message-ID"] = make_msgid(domain="client.example")
    message.set_content(f"{text}\n\nOn Monday, Hearth wrote:\n> How is it going?\n")
    raw = message.as_bytes()
    deadline = time.monotonic() + RETRY_FOR
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
                smtp.sendmail(sender, [to], raw)
            ledger.replies[str(message["Message-ID"])] = kind
            return
        except (smtplib.SMTPException, OSError):
            ledger.smtp_retries += 1
            time.sleep(1.0)
    ledger.gave_up.append(f"reply {message['Message-ID']}")


def time_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
