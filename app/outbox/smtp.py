"""Flask-Mail's connection, with the timeout it lacks (a hung server must not
hang a worker) and a raw send of our own composed MIME bytes."""

from __future__ import annotations

import contextlib
import smtplib

from flask import current_app
from flask_mail import Connection


class TimedConnection(Connection):
    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        timeout = current_app.config.get("MAIL_TIMEOUT", 30)
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=timeout)
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class SMTPSession:
    """One SMTP connection reused for a batch, opened on first use."""

    def __init__(self) -> None:
        self._conn: TimedConnection | None = None

    def send(self, envelope_from: str, to: list[str], data: bytes) -> None:
        if self._conn is None or self._conn.host is None:
            self._conn = TimedConnection(current_app.extensions["mail"])
            self._conn.host = self._conn.configure_host()
        refused = self._conn.host.sendmail(envelope_from, to, data)
        if refused and len(refused) == len(to):
            raise smtplib.SMTPRecipientsRefused(refused)

    def reset(self) -> None:
        """Drop a connection after an error; the next send opens a new one."""
        if self._conn is not None and self._conn.host is not None:
            with contextlib.suppress(OSError):
                self._conn.host.close()
        self._conn = None

    def close(self) -> None:
        if self._conn is not None and self._conn.host is not None:
            try:
                self._conn.host.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.host.close()
        self._conn = None

