"""`flask inbound smtp|reprocess|list`."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.inbound import receiver, service
from app.inbound.models import InboundMessage

inbound_cli = AppGroup("inbound", help="Inbound mail: the SMTP receiver and reprocessing.")


@inbound_cli.command("smtp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=int)
@click.option("--lmtp", is_flag=True, help="Speak LMTP instead of SMTP (for Postfix/Dovecot).")
def smtp_command(host: str, port: int, lmtp: bool) -> None:
    """Receive mail for INBOUND_DOMAIN; store it raw and enqueue its processing."""
    app = current_app._get_current_object()
    controller = receiver.start(app, host, port, lmtp=lmtp)
    click.echo(f"inbound {'LMTP' if lmtp else 'SMTP'} on {host}:{port} for @{app.config['INBOUND_DOMAIN']}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


@inbound_cli.command("reprocess")
@click.argument("message_id", type=int)
def reprocess_command(message_id: int) -> None:
    """Process stored message MESSAGE_ID again and say what became of it."""
    if db.session.get(InboundMessage, message_id) is None:
        raise click.ClickException(f"There is no inbound message {message_id}.")
    message = service.process(message_id)
    click.echo(f"inbound {message.id}: {message.status}: {message.reason}")


@inbound_cli.command("list")
@click.option("--status", help="Only this status (new, processed, ignored, quarantined, failed).")
@click.option("--limit", default=50, show_default=True)
def list_command(status: str | None, limit: int) -> None:
    """The latest inbound messages with their status and reason."""
    query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
    if status:
        query = query.where(InboundMessage.status == status)
    for m in db.session.scalars(query):
        click.echo(f"{m.id}\t{m.received_at:%Y-%m-%d %H:%M}\t{m.status}\t{m.from_address or '-'}\t"
                   f"{(m.subject or '')[:40]}\t{m.reason or ''}")
