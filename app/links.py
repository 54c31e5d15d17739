"""Every link Hearth puts in an email or page is built from BASE_URL, never
from the request's Host header (a forged Host must not forge our links)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import current_app

REASONS = {
    "transactional": "You get this email because someone asked for it with this address on Hearth.",
    "onboarding": "You get this email because you joined Hearth as a champion.",
    "buddy": "You get this email because you take part in Hearth's buddy programme.",
    "circles": "You get this email because you are a member of a Hearth support circle.",
    "surveys": "You get this email because you took part in Hearth's programme.",
    "replies": "You get this email because of a message you sent to Hearth.",
}


def url(path: str, **query: str) -> str:
    base = current_app.config["BASE_URL"]
    tail = f"?{urlencode(query)}" if query else ""
    return f"{base}{path}{tail}"


def footer_for(stream: str, person_id: int | None = None) -> dict:
    from app.outbox.unsubscribes import token_for

    found = [("Your details and preferences", url("/me"))]
    if stream not in ("transactional", "replies") and person_id:
        found.append(("Pause or unsubscribe", url(f"/unsubscribe/{token_for(person_id, stream)}")))
    return {"reason": REASONS.get(stream, REASONS["transactional"]), "links": found}


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirects)."""
    if not target or not isinstance(target, str):
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target
