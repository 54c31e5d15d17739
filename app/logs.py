"""Logging for every Hearth process: lines for people, or one JSON object a
line for a log collector (`LOG_FORMAT=json`).

A JSON line carries `time` (UTC), `level`, `logger`, `message`, `process`,
every field given with `extra=` (`delivery_id`, `inbound_id`, ...), the RQ
`job_id` and `queue` when it was logged inside a job, and `exception` with the
traceback. `create_app` calls `configure(app)` once per process.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class JobContext(logging.Filter):
    """Adds the RQ job's id and queue to what is logged while a job runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        from rq import get_current_job

        try:
            job = get_current_job()
        except Exception:  # noqa: BLE001 - a log line must never fail for its context
            job = None
        if job is not None and not hasattr(record, "job_id"):
            record.job_id = job.id
            record.queue = job.origin
        return True


def install(log_format: str, level: str | int = "INFO", *,
            logger: logging.Logger | None = None, stream: IO[str] | None = None) -> None:
    """Set up `logger` (default: the root). Idempotent: a second call (another
    `create_app` in the same process) changes the format, never doubles lines."""
    target = logger or logging.getLogger()
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
    wants_json = log_format.strip().lower() == "json"
    ours = [handler for handler in target.handlers if getattr(handler, "hearth", False)
            # JSON also takes over a plain console handler that basicConfig or
            # alembic's fileConfig put there first, so no line is written twice.
            or (wants_json and type(handler) is logging.StreamHandler)]
    if not wants_json and not ours:
        # Text, like logging.basicConfig: leave alone what a host process set up.
        if not target.handlers:
            _add_handler(target, logging.Formatter(TEXT_FORMAT), stream)
            target.setLevel(level)
        return
    formatter = JSONFormatter() if wants_json else logging.Formatter(TEXT_FORMAT)
    if ours:
        for handler in ours:
            handler.hearth = True
            handler.setFormatter(formatter)
            if not any(isinstance(f, JobContext) for f in handler.filters):
                handler.addFilter(JobContext())
    else:
        _add_handler(target, formatter, stream)
    target.setLevel(level)


def _add_handler(target: logging.Logger, formatter: logging.Formatter, stream: IO[str] | None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.hearth = True
    handler.setFormatter(formatter)
    handler.addFilter(JobContext())
    target.addHandler(handler)


def configure(app) -> None:
    install(app.config.get("LOG_FORMAT", "text"), app.config.get("LOG_LEVEL", "INFO"))
