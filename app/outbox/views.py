"""/unsubscribe/<token>: a page with buttons (GET changes nothing), its form
POST, and the RFC 8058 one-click POST that mail providers send without a
session or CSRF token; the signed token authenticates it."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from flask_wtf import FlaskForm

from app.accounts.models import Person
from app.extensions import db
from app.outbox import unsubscribes

bp = Blueprint("outbox", __name__)


class UnsubscribeForm(FlaskForm):
    """CSRF only; the pressed button names the scope."""


def _request_for(token: str) -> tuple[unsubscribes.UnsubscribeRequest, Person]:
    try:
        wanted = unsubscribes.read_token(token)
    except unsubscribes.BadUnsubscribeToken:
        abort(404, "This unsubscribe link is not valid. Sign in and use your preferences instead.")
    person = db.session.get(Person, wanted.person_id)
    if person is None:
        abort(404, "There is no account for this link any more: nothing will be sent.")
    return wanted, person


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    wanted, person = _request_for(token)
    return render_template(
        "outbox/unsubscribe.html",
        form=UnsubscribeForm(),
        stream=wanted.stream,
        stream_name=unsubscribes.STREAM_NAMES[wanted.stream],
        already=unsubscribes.streams_of(person.id),
        email=person.email,
    )


@bp.post("/unsubscribe/<token>")
def unsubscribe_post(token: str):
    wanted, person = _request_for(token)
    if request.form.get("List-Unsubscribe") == "One-Click":
        unsubscribes.unsubscribe(person.id, wanted.stream, how="one-click")
        db.session.commit()
        return jsonify(unsubscribed=wanted.stream), 200
    form = UnsubscribeForm()
    if not form.validate_on_submit():
        abort(400, "The form's security token was missing. Please open the link again.")
    scope = "all" if request.form.get("scope") == "all" else wanted.stream
    unsubscribes.unsubscribe(person.id, scope, how="page")
    db.session.commit()
    return render_template(
        "outbox/unsubscribed.html", stream_name=unsubscribes.STREAM_NAMES[scope], scope=scope
    )
