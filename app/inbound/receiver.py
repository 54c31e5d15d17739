"""`flask inbound smtp`: an SMTP (or LMTP) server for a self-hosted mail
server. Like the webhook it only stores the raw message and enqueues its
processing; a database error answers 451 so the sending server retries."""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from flask import Flask

from app.extensions import db
from app.inbound import errors, service

log = logging.getLogger(__name__)


class StoreHandler:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def _store(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> str:
        with self.app.app_context():
            try:
                stored = service.store(raw, via="smtp", envelope_from=mail_from, envelope_to=rcpt_tos)
                if stored.created:
                    service.enqueue_processing(stored.id)
                return "250 Message accepted"
            except errors.TooLarge:
                return "552 5.3.4 Message too big"
            except Exception:
                log.exception("could not store an inbound message")
                return "451 4.3.0 Temporary failure, please try again"
            finally:
                db.session.remove()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        # Database work off the event loop, so one slow commit never blocks the server.
        return await asyncio.get_running_loop().run_in_executor(
            None, self._store, raw, envelope.mail_from, list(envelope.rcpt_tos)
        )


class _LMTPController(Controller):
    def factory(self):
        return LMTP(self.handler, **self.SMTP_kwargs)


def start(app: Flask, host: str, port: int, *, lmtp: bool = False) -> Controller:
    kind = _LMTPController if lmtp else Controller
    controller = kind(
        StoreHandler(app), hostname=host, port=port, data_size_limit=service.MAX_BYTES,
        server_hostname=app.config["INBOUND_DOMAIN"],
    )
    controller.start()
    return controller
