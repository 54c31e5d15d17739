"""DKIM signatures (RFC 6376) for outgoing mail, with dkimpy. Pure: bytes in,
bytes out; the caller reads the key and the settings.

Signed headers include `List-Unsubscribe` and `List-Unsubscribe-Post`:
RFC 8058 section 4 asks for both to be covered by a valid DKIM signature, and
Gmail and Yahoo only offer one-click unsubscribe when they are. A header in
the list that a message lacks is signed as absent, so nobody can add it later.
Canonicalization is relaxed/relaxed, which survives relays that re-fold headers.
"""

from __future__ import annotations

import base64

import dkim
from cryptography.hazmat.primitives import serialization

SIGNED_HEADERS: tuple[str, ...] = (
    "From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID",
    "In-Reply-To", "References", "MIME-Version", "Content-Type",
    "Content-Transfer-Encoding", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post",
    "Auto-Submitted",
)


class SigningError(ValueError):
    """The message cannot be signed with this key (unreadable key, no From)."""


def _linesep(message: bytes) -> bytes:
    end = message.find(b"\n")
    return b"\r\n" if end > 0 and message[end - 1 : end] == b"\r" else b"\n"


def sign(message: bytes, selector: str, domain: str, private_key_pem: bytes | str,
         headers: tuple[str, ...] | list[str] = SIGNED_HEADERS) -> bytes:
    """`message` with a DKIM-Signature header in front, in the message's own
    line endings (smtplib sends bytes as they are; receivers verify the CRLF
    form, which relaxed canonicalization makes the same)."""
    key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    names = [name.lower().encode() for name in headers]
    if b"from" not in names:
        raise SigningError("the From header must be signed (RFC 6376 section 5.4)")
    linesep = _linesep(message)
    try:
        signature = dkim.sign(
            message, selector.encode(), domain.encode(), key,
            canonicalize=(b"relaxed", b"relaxed"), include_headers=names, linesep=linesep,
        )
    except dkim.DKIMException as error:
        raise SigningError(f"cannot DKIM-sign: {error}") from error
    return signature + message


def dns_record(private_key_pem: bytes | str) -> str:
    """The TXT record to publish at `<selector>._domainkey.<domain>` for this key."""
    key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as error:
        raise SigningError(f"not a PEM private key without a passphrase: {error}") from error
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
