"""One row written with a prebuilt INSERT on the session's connection, for
the request paths that must be quick (a signup, a sign-in link, an inbound
message): no ORM unit of work, which costs about three times the SQL there.
The row joins the session's transaction; the caller commits."""

from __future__ import annotations

from functools import cache

from app.extensions import db


def insert(model, values: dict) -> int:
    """Write one `model` row; its id."""
    return db.session.connection().execute(_insert_of(model), values).inserted_primary_key[0]


@cache
def _insert_of(model):
    """Built once per table: a statement given its values at execution is
    compiled once, where `.values(...)` would build and key a new one."""
    return model.__table__.insert()
