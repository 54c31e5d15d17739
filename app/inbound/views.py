"""POST /inbound/mime: one raw RFC 5322 message from a provider's inbound
webhook or a mail server pipe. Stores it, answers 202, processes it later."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request

from app.extensions import db, limiter
from app.inbound import errors, service

bp = Blueprint("inbound", __name__, url_prefix="/inbound")


def _refuse(status: int, reason: str):
    return jsonify(error=status, reason=reason), status


@bp.post("/mime")
@limiter.exempt
def receive_mime():
    secret = current_app.config.get("INBOUND_SECRET")
    if not secret:
        return _refuse(401, "the inbound webhook is off: set INBOUND_SECRET to turn it on")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {secret}".encode()):
        return _refuse(401, "missing or wrong bearer token")
    if request.mimetype not in ("message/rfc822", "application/octet-stream", "text/plain"):
        return _refuse(415, f"send the raw message as message/rfc822, not {request.mimetype or 'nothing'}")
    if (request.content_length or 0) > service.MAX_BYTES:
        return _refuse(413, f"messages up to {service.MAX_BYTES} bytes are accepted")
    raw = request.get_data(cache=False)
    if not raw.strip():
        return _refuse(400, "the body is empty: send one raw RFC 5322 message")
    if len(raw) > service.MAX_BYTES:
        return _refuse(413, f"messages up to {service.MAX_BYTES} bytes are accepted")
    try:
        stored = service.store(raw, via="webhook")
    except errors.TooLarge as error:
        return _refuse(413, str(error))
    if stored.created:
        service.enqueue_processing(stored.id)
    db.session.remove()
    return jsonify(id=stored.id, duplicate=not stored.created), 202
