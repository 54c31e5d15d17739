"""A real SMTP server (aiosmtpd) for tests: it records what arrives and can be
told to answer like a troubled server (451, 550, 421)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    peer: tuple = ()  # the client's (host, port): one per SMTP connection

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()


class SMTPSink:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[Received] = []
        self.data_answers: list[str] = []  # answers for the next DATA commands, in order
        self.rcpt_answers: dict[str, str] = {}  # address -> answer to its RCPT TO
        self.data_delay = 0.0  # seconds to sit on each DATA before answering

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.data_answers.clear()
            self.rcpt_answers.clear()
            self.data_delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self.rcpt_answers.get(address.lower())
        if answer and not answer.startswith("250"):
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self._lock:
            if self.data_answers:
                answer = self.data_answers.pop(0)
                if not answer.startswith("250"):
                    return answer
            raw = envelope.original_content or envelope.content
            message = BytesParser(policy=policy.default).parsebytes(raw)
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message, tuple(session.peer))
            )
        return "250 Message accepted"

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, *, to: str | None = None, subject: str | None = None, timeout: float = 5.0) -> Received:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for m in self.messages:
                    if to and to.lower() not in (r.lower() for r in m.rcpt_tos):
                        continue
                    if subject and subject not in m.subject:
                        continue
                    return m
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no email to={to!r} subject~{subject!r}; got {[(m.rcpt_tos, m.subject) for m in self.messages]}"
                )
            time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink() -> tuple[SMTPSink, Controller]:
    sink = SMTPSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    return sink, controller
