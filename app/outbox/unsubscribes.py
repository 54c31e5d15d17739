"""Unsubscribe per stream or from all, by signed token (RFC 8058 one-click
needs no session: the token in the URL is the authentication)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.outbox.models import Unsubscribe

PROGRAMME_STREAMS = ("onboarding", "buddy", "circles", "surveys")
STREAM_NAMES = {
    "onboarding": "the onboarding journey",
    "buddy": "buddy check-ins",
    "circles": "support circle invitations and reminders",
    "surveys": "surveys",
    "all": "every Hearth programme email",
}


class BadUnsubscribeToken(Exception):
    """The unsubscribe link was altered or is not ours."""


@dataclass(frozen=True)
class UnsubscribeRequest:
    person_id: int
    stream: str


def _serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@lru_cache(maxsize=4)
def _serializer_for(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="hearth-unsubscribe")


def token_for(person_id: int, stream: str) -> str:
    return _token(current_app.config["SECRET_KEY"], person_id, stream)


@lru_cache(maxsize=4096)
def _token(secret: str, person_id: int, stream: str) -> str:
    """Deterministic, so kept: an email asks twice (footer and List-Unsubscribe)."""
    return _serializer_for(secret).dumps([person_id, stream])


def read_token(token: str) -> UnsubscribeRequest:
    try:
        person_id, stream = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError) as error:
        raise BadUnsubscribeToken("This unsubscribe link is not valid.") from error
    if stream not in STREAM_NAMES:
        raise BadUnsubscribeToken("This unsubscribe link is not valid.")
    return UnsubscribeRequest(int(person_id), stream)


def is_unsubscribed(person_id: int, stream: str) -> bool:
    """Transactional mail is never suppressed by a stream unsubscribe."""
    if stream in ("transactional", "replies"):
        return False
    return (
        db.session.scalar(
            select(Unsubscribe.id).where(
                Unsubscribe.person_id == person_id, Unsubscribe.stream.in_((stream, "all"))
            )
        )
        is not None
    )


def unsubscribe(person_id: int, stream: str, how: str) -> bool:
    """Idempotent; True when it changed something. The caller commits."""
    if stream not in STREAM_NAMES:
        raise ValueError(f"unknown stream {stream!r}")
    exists = db.session.scalar(
        select(Unsubscribe.id).where(Unsubscribe.person_id == person_id, Unsubscribe.stream == stream)
    )
    if exists is not None:
        return False
    db.session.add(Unsubscribe(person_id=person_id, stream=stream, how=how, created_at=clock.now()))
    return True


def resubscribe(person_id: int, stream: str) -> None:
    for row in db.session.scalars(
        select(Unsubscribe).where(Unsubscribe.person_id == person_id, Unsubscribe.stream == stream)
    ):
        db.session.delete(row)


def streams_of(person_id: int) -> set[str]:
    return set(db.session.scalars(select(Unsubscribe.stream).where(Unsubscribe.person_id == person_id)))
