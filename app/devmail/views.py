"""`/dev/mail`: the messages the dev catcher stored, as text, HTML and source.

Registered only when DEV_MAIL_VIEWER is set (`make run` sets it)."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template
from markupsafe import Markup

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")
_NAME = re.compile(r"^[\w.-]+\.eml$")
_LINK = re.compile(r"https?://[^\s<>\"')]+")


def _folder() -> Path:
    return Path(current_app.config["DEV_MAIL_DIR"])


def _load(name: str):
    if not _NAME.match(name):
        abort(404)
    path = _folder() / name
    if not path.is_file():
        abort(404)
    raw = path.read_bytes()
    return raw, BytesParser(policy=policy.default).parsebytes(raw)


def _part(message, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


@bp.get("/")
def inbox():
    files = sorted(_folder().glob("*.eml"), reverse=True)[:200] if _folder().exists() else []
    messages = []
    for path in files:
        with path.open("rb") as handle:
            headers = BytesParser(policy=policy.default).parse(handle, headersonly=True)
        messages.append(
            {"name": path.name, "to": headers["To"], "subject": headers["Subject"], "date": headers["Date"]}
        )
    return render_template("devmail/inbox.html", messages=messages)


@bp.get("/<name>")
def show(name: str):
    raw, message = _load(name)
    text = _part(message, "plain")
    linked = _LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', str(Markup.escape(text)))
    return render_template(
        "devmail/message.html",
        name=name,
        message=message,
        text=Markup(linked),
        raw=raw.decode("utf-8", errors="replace"),
        has_html=bool(_part(message, "html")),
    )


@bp.get("/<name>/html")
def html(name: str):
    """The HTML part alone, for a sandboxed iframe: its own CSP allows the
    email's inline styles and nothing else."""
    _raw, message = _load(name)
    return _part(message, "html"), 200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
        "X-Frame-Options": "SAMEORIGIN",
    }
