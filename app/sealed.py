"""Encrypt small values that must rest in the database only briefly (a sign-in
token waiting in the outbox). The key is derived from SECRET_KEY, so a copy of
the database alone reveals nothing usable."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    return _fernet_for(current_app.config["SECRET_KEY"])


@lru_cache(maxsize=4)
def _fernet_for(secret: str) -> Fernet:
    # Per key, not per process: tests (and the simulator) run apps with other keys.
    digest = hashlib.sha256(b"hearth-sealed:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(values: dict) -> str:
    return _fernet().encrypt(json.dumps(values).encode()).decode()


def unseal(token: str | None) -> dict:
    """The sealed values, or {} when there are none; raises ValueError when tampered."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as error:
        raise ValueError("sealed values could not be opened (was SECRET_KEY changed?)") from error
