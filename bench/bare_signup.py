"""The signup benchmark's floor: the same work as Hearth's `POST /signup`,
written as bare as the stack allows, served by gunicorn beside Hearth in the
same run (`gunicorn 'bench.bare_signup:create()'`).

What it keeps: Flask, Flask-WTF's CSRF and Hearth's own `SignupForm` (the
validation the issue asks for), SQLAlchemy Core on the same database with the
same pragmas, one person, organisation, sign-in token and Delivery row in one
transaction, one RQ enqueue, a small HTML answer. What it leaves out is
everything else Hearth does on that path: the service layer, the
known-address branch, the sealed link, the page layout, the security headers,
the rate limiter's hooks. So "Hearth / bare" says what Hearth's structure
costs, and "bare / ping" what the stack itself allows on this machine.

Configured by the environment the benchmark gives Hearth's own processes
(DATABASE_URL, REDIS_URL, SECRET_KEY).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import timedelta

import redis
from flask import Flask, request
from rq import Queue
from sqlalchemy import bindparam, create_engine, select

import app as _hearth  # noqa: F401  (its Engine "connect" hook: WAL, synchronous=NORMAL, busy timeout)
from app import clock
from app.accounts.forms import SignupForm
from app.accounts.models import LoginToken, Organisation, Person
from app.outbox.models import Delivery

_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Sign up</title>
<form method="post"><input type="hidden" name="csrf_token" value="{{ form.csrf_token.current_token }}">
</form>"""
_DONE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Check your email</title>
<p>If <strong>{{ email }}</strong> can be used, a link is on its way to it now.</p>"""


def create() -> Flask:
    bare = Flask(__name__)
    bare.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    engine = create_engine(os.environ["DATABASE_URL"])
    queue = Queue("login", connection=redis.Redis.from_url(os.environ["REDIS_URL"]))
    people, organisations = Person.__table__, Organisation.__table__
    tokens, deliveries = LoginToken.__table__, Delivery.__table__
    # Statements built once: each `.insert()` or `.where()` built per request
    # would be keyed for SQLAlchemy's cache again every time.
    by_email = select(people.c.id).where(people.c.email == bindparam("email"))
    insert_organisation, insert_person = organisations.insert(), people.insert()
    insert_token, insert_delivery = tokens.insert(), deliveries.insert()

    # Compiled once (render_template_string would compile on every call).
    page, done = bare.jinja_env.from_string(_PAGE), bare.jinja_env.from_string(_DONE)

    @bare.get("/ping")
    def ping():
        return "ok"

    @bare.route("/signup", methods=["GET", "POST"])
    def signup():
        form = SignupForm()
        if request.method == "GET":
            return page.render(form=form)
        if not form.validate_on_submit():
            return page.render(form=form), 422
        now = clock.now()
        data = form.data
        email = data["email"]
        raw = secrets.token_urlsafe(32)
        with engine.begin() as conn:
            if conn.execute(by_email, {"email": email}).first() is None:
                organisation_id = conn.execute(insert_organisation, {
                    "name": data["organisation"], "kind": data["organisation_kind"],
                    "size": data["organisation_size"], "created_at": now,
                }).inserted_primary_key[0]
                person_id = conn.execute(insert_person, {
                    "email": email, "name": data["name"], "timezone": data["timezone"],
                    "language": data["language"], "situation": data["situation"],
                    "status": "pending", "is_champion": False, "is_buddy": False,
                    "is_coordinator": False, "organisation_id": organisation_id,
                    "created_at": now, "consented_at": now,
                }).inserted_primary_key[0]
                token_id = conn.execute(insert_token, {
                    "person_id": person_id, "token_hash": hashlib.sha256(raw.encode()).hexdigest(),
                    "purpose": "confirm", "created_at": now, "expires_at": now + timedelta(minutes=30),
                }).inserted_primary_key[0]
                delivery_id = conn.execute(insert_delivery, {
                    "idempotency_key": f"bare:{person_id}:{token_id}", "person_id": person_id,
                    "to_email": email, "stream": "transactional", "template": "confirm_signup",
                    "queue": "login", "params": {"link": f"/auth/{raw}"}, "status": "pending",
                    "created_at": now, "due_at": now, "next_attempt_at": now,
                }).inserted_primary_key[0]
            else:
                delivery_id = None
        if delivery_id is not None:
            queue.enqueue_call("workers.jobs.send_deliveries", args=([delivery_id],))
        return done.render(email=email)

    return bare
