"""Reply commands on the first line of any reply to Hearth: pause, resume,
stop, help, object, end (and circle, graduate). Each is confirmed by a short
email; mail from our own addresses and auto-replies never get here."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from app import clock
from app.accounts.models import Person
from app.inbound import errors
from app.inbound.models import InboundMessage
from app.inbound.routes import Route
from app.outbox import service as outbox
from app.outbox import unsubscribes
from emails.inbound import Command


def unsubscribe_command() -> Command:
    return Command("unsubscribe-stream")


def _confirm(person: Person, message: InboundMessage, template: str, **params) -> None:
    outbox.queue_email(
        person,
        template,
        stream="replies",
        key=f"{person.id}:inbound:{message.id}:confirm",
        params=params,
    )


def apply(command: Command, author: Person, route: Route, message: InboundMessage) -> str:
    name = command.name
    if name == "pause":
        today = clock.now().astimezone(ZoneInfo(author.timezone)).date()
        author.paused_until = today + timedelta(days=command.days or 14)
        _confirm(author, message, "command_paused", until=author.paused_until.strftime("%A %-d %B %Y"))
        return f"command pause: paused until {author.paused_until.isoformat()}"
    if name == "resume":
        author.paused_until = None
        _confirm(author, message, "command_resumed")
        return "command resume"
    if name == "stop":
        unsubscribes.unsubscribe(author.id, "all", how="reply-command")
        _confirm(author, message, "command_stopped")
        return "command stop: unsubscribed from all programme emails"
    if name == "unsubscribe-stream":
        stream = route.stream if route.stream in unsubscribes.PROGRAMME_STREAMS else "all"
        unsubscribes.unsubscribe(author.id, stream, how="mailto")
        _confirm(author, message, "command_unsubscribed", stream_name=unsubscribes.STREAM_NAMES[stream])
        return f"mailto unsubscribe from {stream}"
    if name == "help":
        _confirm(author, message, "command_help")
        return "command help"
    if name in ("object", "end"):
        return _pair_command(name, author, route, message)
    if name == "circle":
        from app.circles import service as circles

        return circles.request_recovery_circle(author.id, inbound_id=message.id)
    if name == "graduate":
        from app.surveys import service as surveys
        from app.surveys.errors import SurveyError

        try:
            return surveys.graduate_by_reply(author.id)
        except SurveyError as error:
            raise errors.NeedsCoordinator(f"'graduate' by reply: {error}") from error
    raise errors.NeedsCoordinator(f"'{name}' by reply: a coordinator will follow up")


def _pair_command(name: str, author: Person, route: Route, message: InboundMessage) -> str:
    from app.buddies import service as buddies

    pair_id = route.id if route.kind == "pair" else None
    if pair_id is None:
        pair = buddies.active_pair_for(author.id)
        pair_id = pair.id if pair is not None else None
    if pair_id is None:
        raise errors.NeedsCoordinator(f"'{name}' by reply, but {author.email} has no buddy pair")
    from app.buddies.errors import BuddyError

    try:
        if name == "object":
            buddies.object_to_pair(pair_id, author.id, how="reply")
            _confirm(author, message, "command_objected")
            return f"command object: pair {pair_id}"
        buddies.end_pair(pair_id, author.id, reason="ended by reply")
    except BuddyError as error:
        raise errors.NeedsCoordinator(f"'{name}' by reply: {error}") from error
    return f"command end: pair {pair_id}"

