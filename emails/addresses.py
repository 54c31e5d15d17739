"""Signed reply addresses: `reply+<token>@INBOUND_DOMAIN`.

The token names what a reply answers (a delivery, a pair, ...) and carries an
HMAC, so it cannot be guessed or altered. It is lower-case base32, because some
mail servers lower-case the local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"^([a-z]+)(\d+)-([a-z2-7]{16})$")


@dataclass(frozen=True)
class ReplyTarget:
    kind: str
    id: int


def _mac(secret: str, kind: str, ident: int) -> str:
    digest = hmac.new(secret.encode(), f"reply:{kind}:{ident}".encode(), hashlib.sha256).digest()
    # Base32 turns each 5 bytes into 8 characters: the first 10 bytes give the
    # same 16 characters as the whole digest, in a third of the time (twice an email).
    return base64.b32encode(digest[:10]).decode().lower()


def reply_address(secret: str, domain: str, kind: str, ident: int) -> str:
    """The address a reply to this `kind`/`ident` goes to."""
    if not kind.isalpha() or not kind.islower():
        raise ValueError("kind must be lower-case letters")
    return f"reply+{kind}{int(ident)}-{_mac(secret, kind, ident)}@{domain}"


def parse_reply_address(secret: str, address: str) -> ReplyTarget | None:
    """The target named by a signed address, or None when it is not ours or forged."""
    local, _, _domain = address.strip().strip("<>").rpartition("@")
    prefix, plus, token = local.lower().partition("+")
    if not plus or prefix != "reply":
        return None
    match = _TOKEN.match(token)
    if not match:
        return None
    kind, ident, mac = match.group(1), int(match.group(2)), match.group(3)
    if not hmac.compare_digest(mac, _mac(secret, kind, ident)):
        return None
    return ReplyTarget(kind=kind, id=ident)
