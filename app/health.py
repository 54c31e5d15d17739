"""Operations endpoints (docs/deploy.md):

- `/ping`: liveness, touches nothing (also the benchmark's hello-world baseline);
- `/healthz`: readiness, the database, Redis and the SMTP relay reachable;
- `/metrics`: Prometheus, read from the database and Redis at scrape time,
  behind `Authorization: Bearer $METRICS_TOKEN` when that is set.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app import health_checks, metrics
from app.extensions import db

bp = Blueprint("health", __name__)
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/ping")
def ping():
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/healthz")
def healthz():
    results = health_checks.run_checks(current_app._get_current_object(), db.engine)
    healthy = all(result.ok for result in results)
    body = {
        "status": "ok" if healthy else "failing",
        "checks": {result.name: result.as_json() for result in results},
    }
    return jsonify(body), 200 if healthy else 503, NO_STORE


def _metrics_allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@bp.get("/metrics")
def prometheus_metrics():
    if not _metrics_allowed():
        return (
            "a valid Authorization: Bearer token is required (METRICS_TOKEN)\n",
            401,
            {"Content-Type": "text/plain; charset=utf-8", "WWW-Authenticate": "Bearer"},
        )
    return generate_latest(metrics.registry), 200, {"Content-Type": CONTENT_TYPE_LATEST, **NO_STORE}
