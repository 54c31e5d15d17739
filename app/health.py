"""Liveness: `/ping` answers without touching anything (also the benchmark's
hello-world baseline)."""

from flask import Blueprint

bp = Blueprint("health", __name__)


@bp.get("/ping")
def ping():
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
