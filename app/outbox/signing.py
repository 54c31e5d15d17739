"""Optional DKIM signing of every outgoing message, when a key is configured:
`DKIM_PRIVATE_KEY_PATH` (a PEM RSA key), `DKIM_SELECTOR`, and `DKIM_DOMAIN`
(default: the domain of `MAIL_DEFAULT_SENDER`, which DMARC alignment wants).
Without a key path, messages leave unchanged (a relay may sign them instead).
"""

from __future__ import annotations

from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path

from flask import current_app

from emails import dkim


class DKIMNotConfigured(RuntimeError):
    """A key path is set, but the key or the selector cannot be used."""


@lru_cache(maxsize=4)
def _key(path: str) -> bytes:
    # Read once per process; a new key means a restart (and a new selector).
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise DKIMNotConfigured(f"DKIM_PRIVATE_KEY_PATH {path}: {error.strerror}") from error


def settings(config) -> tuple[str, str, bytes] | None:
    """(selector, domain, key) when signing is on, None when it is off."""
    path = config.get("DKIM_PRIVATE_KEY_PATH")
    if not path:
        return None
    selector = config.get("DKIM_SELECTOR")
    if not selector:
        raise DKIMNotConfigured("DKIM_PRIVATE_KEY_PATH is set but DKIM_SELECTOR is not")
    domain = config.get("DKIM_DOMAIN") or parseaddr(config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    return selector, domain, _key(path)


def sign_outgoing(data: bytes) -> bytes:
    """The bytes to hand to SMTP: signed when DKIM is configured."""
    found = settings(current_app.config)
    if found is None:
        return data
    selector, domain, key = found
    return dkim.sign(data, selector, domain, key)


def check(config) -> None:
    """For /healthz: raise when DKIM is configured but cannot sign."""
    found = settings(config)
    if found is not None:
        selector, domain, key = found
        dkim.sign(b"From: check@" + domain.encode() + b"\n\n.\n", selector, domain, key)
