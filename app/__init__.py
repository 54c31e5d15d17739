"""Hearth: the web app and the domain (DESIGN.md: `workers -> app -> emails`)."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app import config as hearth_config
from app import logs
from app.columns import render_migration_type
from app.extensions import csrf, db, limiter, mail, migrate


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL + synchronous=NORMAL + a busy timeout: several processes write the
    same SQLite file in development (measured: the default journal serves
    about a third of the signups per second)."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _limiter_storage(redis_url: str | None) -> str:
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://") :]
    return redis_url


def create_app(overrides: dict | None = None) -> Flask:
    settings = hearth_config.load(overrides)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], instance_relative_config=False)
    app.config.update(settings)
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)
    app.config["RATELIMIT_STORAGE_URI"] = _limiter_storage(app.config["REDIS_URL"])
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(hearth_config.ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_type,
    )
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    _register_models()
    _register_blueprints(app)
    _register_errors(app)
    _register_headers(app)
    _register_cli(app)
    logs.configure(app)  # LOG_FORMAT=json: one JSON object a line, with delivery and message ids
    return app


def _register_models() -> None:
    from app.accounts import models as _accounts  # noqa: F401
    from app.buddies import models as _buddies  # noqa: F401
    from app.circles import models as _circles  # noqa: F401
    from app.inbound import models as _inbound  # noqa: F401
    from app.journeys import models as _journeys  # noqa: F401
    from app.outbox import models as _outbox  # noqa: F401
    from app.surveys import models as _surveys  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from app.accounts.views import bp as accounts_bp
    from app.admin.views import bp as admin_bp
    from app.buddies.views import bp as buddies_bp  # with its /admin pages
    from app.circles.views import bp as circles_bp  # with its /admin/circles pages
    from app.devmail.views import bp as devmail_bp
    from app.health import bp as health_bp
    from app.inbound.views import bp as inbound_bp
    from app.outbox.views import bp as outbox_bp
    from app.surveys.views import bp as surveys_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(buddies_bp)
    app.register_blueprint(circles_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(inbound_bp)
    app.register_blueprint(surveys_bp)
    if app.config["DEV_MAIL_VIEWER"]:
        app.register_blueprint(devmail_bp)

    from app.accounts.auth import current_person
    from app.accounts.forms import timezone_names

    app.jinja_env.globals["timezones"] = sorted(timezone_names())

    @app.context_processor
    def _people():
        return {"current_person": current_person()}


def _wants_json() -> bool:
    return request.path.startswith(("/inbound/", "/api/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if _wants_json():
            return jsonify(error=error.name, reason=error.description), error.code
        # A reason given by our own code (abort(404, "...")) is shown as it is.
        custom = error.description if error.description != type(error).description else None
        if error.code == 429:
            custom = None  # the limiter's own text ("5 per 15 minute") helps no one
        return (
            render_template(
                "errors/error.html", code=error.code, title=error.name, error=error, custom=custom
            ),
            error.code,
        )


def _register_headers(app: Flask) -> None:
    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        return response


def _register_cli(app: Flask) -> None:
    from app.cli import register

    register(app)
