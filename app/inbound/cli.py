"""`flask inbound smtp|reprocess|list`."""

from __future__ import annotations

import signal
import threading
from collections import Counter

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app import progress
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


# Statuses worth trying again; `processed` ones already acted (a second run
# would not repeat the act, but there is nothing to gain).
REPROCESSABLE = ("new", "failed", "quarantined", "ignored")
ONE_LINE_EACH = 20  # more messages than this: a summary line instead


@inbound_cli.command("reprocess")
@click.argument("message_ids", type=int, nargs=-1)
@click.option("--status", type=click.Choice(sorted(REPROCESSABLE)),
              help="Every message with this status (after a parser or routing fix).")
def reprocess_command(message_ids: tuple[int, ...], status: str | None) -> None:
    """Process stored messages again (MESSAGE_ID ..., or every one with
    --status) and say what became of them."""
    if bool(message_ids) == bool(status):
        raise click.UsageError("Give message ids, or --status (not both).")
    ids = list(message_ids) or list(db.session.scalars(
        select(InboundMessage.id).where(InboundMessage.status == status).order_by(InboundMessage.id)))
    missing = [i for i in message_ids if db.session.get(InboundMessage, i) is None]
    if missing:
        raise click.ClickException(f"There is no inbound message {', '.join(map(str, missing))}.")
    outcomes: Counter[str] = Counter()
    with progress.bar("reprocessing", total=len(ids)) as shown:
        for message_id in ids:
            message = service.process(message_id)
            outcomes[message.status] += 1
            if len(ids) <= ONE_LINE_EACH:
                click.echo(f"inbound {message.id}: {message.status}: {message.reason}")
            shown.advance()
    if len(ids) > ONE_LINE_EACH or not ids:
        summary = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
        click.echo(f"reprocessed {len(ids)} messages" + (f": {summary}" if summary else ""))


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
