"""Signed tokens in circle links (itsdangerous, like unsubscribe links): an
RSVP page per member and meeting, a leave page per membership, and a
personal calendar feed. Each names its purpose in the salt, so one kind of
token never opens another kind of page. A feed link also names its
generation: a person who replaces it (it was shared by mistake) makes every
older link stop working."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from app import links
from app.circles.errors import RsvpLinkInvalid
from app.circles.models import CalendarFeed
from app.extensions import db


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"hearth-circle-{purpose}")


def _load(purpose: str, token: str) -> list:
    try:
        value = _serializer(purpose).loads(token)
    except (BadSignature, ValueError, TypeError) as error:
        raise RsvpLinkInvalid("This link is not valid. Use the newest email about your circle.") from error
    if not isinstance(value, list):
        raise RsvpLinkInvalid("This link is not valid. Use the newest email about your circle.")
    return value


@dataclass(frozen=True)
class RsvpLink:
    person_id: int
    circle_id: int
    original_start: datetime  # aware UTC: the meeting's RECURRENCE-ID


def rsvp_token(person_id: int, circle_id: int, original_start: datetime) -> str:
    stamp = int(original_start.astimezone(UTC).timestamp())
    return _serializer("rsvp").dumps([person_id, circle_id, stamp])


def read_rsvp_token(token: str) -> RsvpLink:
    value = _load("rsvp", token)
    try:
        person_id, circle_id, stamp = (int(v) for v in value)
    except (TypeError, ValueError) as error:
        raise RsvpLinkInvalid("This link is not valid.") from error
    return RsvpLink(person_id, circle_id, datetime.fromtimestamp(stamp, UTC))


def rsvp_links(person_id: int, circle_id: int, original_start: datetime) -> dict[str, str]:
    """The RSVP page, and the same page with an answer chosen (it still asks
    for the button press: a link scanner opening these changes nothing)."""
    page = links.url(f"/circles/rsvp/{rsvp_token(person_id, circle_id, original_start)}")
    return {
        "rsvp": page,
        "yes": f"{page}?answer=yes",
        "no": f"{page}?answer=no",
        "maybe": f"{page}?answer=maybe",
    }


def leave_token(person_id: int, membership_id: int) -> str:
    return _serializer("leave").dumps([person_id, membership_id])


def read_leave_token(token: str) -> tuple[int, int]:
    value = _load("leave", token)
    try:
        person_id, membership_id = (int(v) for v in value)
    except (TypeError, ValueError) as error:
        raise RsvpLinkInvalid("This link is not valid.") from error
    return person_id, membership_id


def leave_url(person_id: int, membership_id: int) -> str:
    return links.url(f"/circles/leave/{leave_token(person_id, membership_id)}")


def feed_generation(person_id: int) -> int:
    """Which generation of the feed link is the person's now (1 until replaced)."""
    return db.session.scalar(
        select(CalendarFeed.generation).where(CalendarFeed.person_id == person_id)
    ) or 1


def feed_token(person_id: int, generation: int | None = None) -> str:
    generation = generation or feed_generation(person_id)
    # The first generation keeps the shape links had before they could be
    # replaced ([person]), so the links in emails already sent go on working.
    return _serializer("feed").dumps([person_id] if generation == 1 else [person_id, generation])


def read_feed_token(token: str) -> tuple[int, int]:
    """(person id, generation) a feed link names."""
    value = _load("feed", token)
    if len(value) not in (1, 2):
        raise RsvpLinkInvalid("This calendar link is not valid.")
    person, generation = value if len(value) == 2 else (value[0], 1)
    try:
        person_id, generation = int(person), int(generation)
    except (TypeError, ValueError) as error:
        raise RsvpLinkInvalid("This calendar link is not valid.") from error
    return person_id, generation


def feed_url(person_id: int, generation: int | None = None) -> str:
    """https link of the person's calendar feed (`/calendar/<token>.ics`)."""
    return links.url(f"/calendar/{feed_token(person_id, generation)}.ics")


def webcal_url(person_id: int, generation: int | None = None) -> str:
    """The same feed as a webcal:// link: calendar apps subscribe to it in one click."""
    url = feed_url(person_id, generation)
    return "webcal://" + url.split("://", 1)[1]
