"""Configuration from the environment (DESIGN.md names); a `.env` file is honoured."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance: Path, given: str | None = None) -> str:
    """SECRET_KEY given (an override, or the environment), or one generated once
    into instance/ for dev."""
    key = given or os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _embedded_redis_url(instance: Path) -> str | None:
    """The embedded Redis that `make run` started, while it runs (so `flask tick`
    in another terminal finds it)."""
    marker = instance / "redis.url"
    if not marker.exists():
        return None
    url = marker.read_text().strip()
    return url if Path(url.removeprefix("unix://")).exists() else None


def load(overrides: dict | None = None) -> dict:
    """Build the Flask config from the environment; tests pass `overrides`.
    INSTANCE_PATH and SECRET_KEY in `overrides` are used from the start, so
    nothing is read from, or written into, the environment's instance."""
    load_dotenv(ROOT / ".env", override=False)
    env = os.environ
    overrides = overrides or {}
    instance = Path(overrides.get("INSTANCE_PATH") or env.get("HEARTH_INSTANCE", ROOT / "instance"))
    base_url = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    host = urlsplit(base_url).hostname or "localhost"
    inbound_domain = env.get("INBOUND_DOMAIN") or host
    mail_domain = host if "." in host else "hearth.localhost"
    if inbound_domain.replace(".", "").isdigit() or "." not in inbound_domain:
        inbound_domain = "hearth.localhost"
    config = {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": _secret_key(instance, overrides.get("SECRET_KEY")),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL")
        or f"sqlite:///{instance / 'hearth.sqlite3'}",
        "REDIS_URL": env.get("REDIS_URL") or _embedded_redis_url(instance),
        "BASE_URL": base_url,
        "INBOUND_DOMAIN": inbound_domain,
        "INBOUND_SECRET": env.get("INBOUND_SECRET") or None,
        "MAIL_SERVER": env.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": int(env.get("MAIL_PORT", "1025")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _flag(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _flag(env.get("MAIL_USE_SSL")),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER") or f"Hearth <hello@{mail_domain}>",
        "MAIL_TIMEOUT": float(env.get("MAIL_TIMEOUT", "30")),
        "ALLOW_TIME_TRAVEL": _flag(env.get("ALLOW_TIME_TRAVEL")),
        "DEV_MAIL_VIEWER": _flag(env.get("DEV_MAIL_VIEWER")),
        "DEV_MAIL_DIR": env.get("DEV_MAIL_DIR", str(instance / "mail")),
        "RATELIMIT_ENABLED": _flag(env.get("RATELIMIT_ENABLED"), default=True),
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 24 * 30,
        "WTF_CSRF_TIME_LIMIT": None,
        # Every POST view validates a FlaskForm, whose CSRF field then fails like
        # any other field: the form re-renders with the reason and keeps what
        # was typed. tests/test_routes.py proves every POST route refuses a
        # missing token.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024 + 64 * 1024,
        "LOGIN_TOKEN_MINUTES": 30,
        "RATELIMIT_AUTH_PER_IP": env.get("RATELIMIT_AUTH_PER_IP", "30 per hour;10 per minute"),
        "RATELIMIT_AUTH_PER_ADDRESS": env.get("RATELIMIT_AUTH_PER_ADDRESS", "5 per 15 minutes"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Care for attention: programme emails per person (sign-in links exempt).
        "ATTENTION_MAX_PER_WEEK": int(env.get("ATTENTION_MAX_PER_WEEK", "3")),
        "ATTENTION_MAX_PER_DAY": int(env.get("ATTENTION_MAX_PER_DAY", "1")),
        "SEND_BATCH_SIZE": int(env.get("SEND_BATCH_SIZE", "100")),
        "SEND_LEASE_SECONDS": int(env.get("SEND_LEASE_SECONDS", "300")),
        # First wait before sending again after a temporary failure (doubles each time, at most
        # SEND_RETRY_MAX_SECONDS, 6 h).
        "SEND_RETRY_SECONDS": int(env.get("SEND_RETRY_SECONDS", "60")),
        "SEND_RETRY_MAX_SECONDS": int(env.get("SEND_RETRY_MAX_SECONDS", str(6 * 3600))),
        # The clock enqueues again what waited this long without being picked up
        # (a job lost with Redis): due deliveries and stored inbound messages.
        "REPAIR_AFTER_SECONDS": int(env.get("REPAIR_AFTER_SECONDS", "120")),
        # Operations (docs/deploy.md): logs, /healthz, /metrics, DKIM.
        "LOG_FORMAT": env.get("LOG_FORMAT", "text"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "HEALTH_TIMEOUT": float(env.get("HEALTH_TIMEOUT", "2")),
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "DKIM_SELECTOR": env.get("DKIM_SELECTOR") or None,
        "DKIM_DOMAIN": env.get("DKIM_DOMAIN") or None,
        "DKIM_PRIVATE_KEY_PATH": env.get("DKIM_PRIVATE_KEY_PATH") or None,
    }
    if overrides:
        config.update(overrides)
        if "SESSION_COOKIE_SECURE" not in overrides:
            config["SESSION_COOKIE_SECURE"] = config["BASE_URL"].startswith("https://")
    # A server's connections can drop while pooled; a file's cannot, and the
    # ping is a statement per request.
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
        "pool_pre_ping": not config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    })
    return config
