"""Coordinators only: every route of this blueprint is guarded in one place."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import func, or_, select

from app.accounts.auth import coordinator_required
from app.accounts.models import Person
from app.extensions import db
from app.outbox.models import Delivery

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 50


@bp.before_request
@coordinator_required
def _guard():
    """Runs before every admin view: anonymous -> sign in, others -> 403."""
    return None


@bp.get("/")
def home():
    query = (request.args.get("q") or "").strip().lower()
    page = request.args.get("page", 1, type=int) or 1
    page = max(page, 1)
    people_q = select(Person).order_by(Person.created_at.desc(), Person.id.desc())
    if query:
        like = f"%{query}%"
        people_q = people_q.where(or_(Person.email.like(like), func.lower(Person.name).like(like)))
    people = db.session.scalars(people_q.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).all()
    deliveries = db.session.scalars(
        select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(30)
    ).all()
    counts = dict(
        db.session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
    )
    totals = {
        "people": db.session.scalar(select(func.count(Person.id))),
        "active": db.session.scalar(select(func.count(Person.id)).where(Person.status == "active")),
    }
    return render_template(
        "admin/home.html",
        people=people[:PAGE_SIZE],
        has_more=len(people) > PAGE_SIZE,
        page=page,
        q=query,
        deliveries=deliveries,
        counts=counts,
        totals=totals,
    )
