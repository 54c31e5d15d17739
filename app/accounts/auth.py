"""Who is signed in, and the decorators that guard pages."""

from __future__ import annotations

from functools import wraps

from flask import abort, g, redirect, request, session, url_for

from app.accounts.models import Person
from app.extensions import db


def current_person() -> Person | None:
    if "person" not in g:
        person_id = session.get("person_id")
        person = db.session.get(Person, person_id) if person_id else None
        if person is not None and person.status != "active":
            person = None
        g.person = person
    return g.person


def sign_in(person: Person) -> None:
    session.clear()
    session["person_id"] = person.id
    session.permanent = True
    g.person = person


def sign_out() -> None:
    session.clear()
    g.person = None


def _to_login():
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("accounts.login", next=target))


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_person() is None:
            return _to_login()
        return view(*args, **kwargs)

    return wrapped


def coordinator_required(view):
    """Anonymous visitors are sent to sign in; signed-in non-coordinators get 403."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        person = current_person()
        if person is None:
            return _to_login()
        if not person.is_coordinator:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
