"""Templates -> subject, preheader, text and HTML.

Each email is one Markdown file under `emails/templates/` with a TOML front
matter between `+++` lines (subject, preheader, optional sender_name). The body
is a Jinja template rendered twice, once for the HTML part and once for the
plain-text part, so helpers like `button()` can say the right thing in each.
Templates are compiled once per process (the Jinja environment caches them).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import css_inline
import jinja2
import mistune
from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"
_FRONT = re.compile(r"\A\+\+\+\n(.*?)\n\+\+\+\n", re.S)


class TemplateError(Exception):
    """A template is missing, malformed or uses a variable it was not given."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    preheader: str
    text: str
    html: str
    sender_name: str | None = None


@dataclass(frozen=True)
class _Source:
    meta: dict
    body: str


def _button_html(label: str, url: str) -> Markup:
    return Markup(
        '<p class="cta"><a class="button" href="{url}">{label}</a></p>\n'
        '<p class="small">If the button does not work, copy this address into your browser:'
        '<br><a href="{url}">{url}</a></p>'
    ).format(url=url, label=label)


def _button_text(label: str, url: str) -> str:
    return f"{label}:\n{url}"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    return env


@lru_cache(maxsize=256)
def _source(name: str) -> _Source:
    path = TEMPLATES / f"{name}.md"
    if not path.is_file():
        raise TemplateError(f"no email template named {name!r} (looked for {path})")
    raw = path.read_text(encoding="utf-8")
    match = _FRONT.match(raw)
    if not match:
        raise TemplateError(f"{path.name}: front matter between +++ lines is missing")
    try:
        meta = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as error:
        raise TemplateError(f"{path.name}: front matter is not valid TOML: {error}") from error
    if not meta.get("subject"):
        raise TemplateError(f"{path.name}: front matter needs a subject")
    return _Source(meta=meta, body=raw[match.end():])


@lru_cache(maxsize=256)
def _compiled(name: str, part: str) -> jinja2.Template:
    src = _source(name)
    env = _environment()
    text = src.meta[part] if part in ("subject", "preheader") else src.body
    return env.from_string(text)


_markdown = mistune.create_markdown(escape=False, plugins=["strikethrough", "table"])


def _plain(markdown_text: str) -> str:
    """Markdown reads well as text already; only tidy links and emphasis."""
    text = re.sub(r"\[([^\]]+)\]\((\S+?)\)", r"\1 (\2)", markdown_text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"(?<!\w)_(.+?)_(?!\w)", r"\1", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def _render_part(name: str, part: str, context: dict) -> str:
    try:
        return _compiled(name, part).render(**context)
    except jinja2.UndefinedError as error:
        raise TemplateError(f"{name}: {error}") from error
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(f"{name}: line {error.lineno}: {error.message}") from error


def render(name: str, context: dict) -> Rendered:
    """Render template `name` with `context` into subject, text and inlined HTML."""
    source = _source(name)
    subject = " ".join(_render_part(name, "subject", context).split())
    preheader = (
        " ".join(_render_part(name, "preheader", context).split())
        if "preheader" in source.meta
        else ""
    )
    body_text = _render_part(name, "body", {**context, "button": _button_text})
    body_html_md = _render_part(name, "body", {**context, "button": _button_html})
    footer = context.get("footer", {})
    text = _plain(body_text) + _text_footer(footer)
    html = _layout().render(
        subject=subject,
        preheader=preheader,
        content=Markup(_markdown(body_html_md)),
        footer=footer,
    )
    return Rendered(
        subject=subject,
        preheader=preheader,
        text=text,
        html=_inliner().inline(html),
        sender_name=source.meta.get("sender_name"),
    )


def _text_footer(footer: dict) -> str:
    lines = ["", "-- ", footer.get("reason", "Hearth: support for sociocracy champions.")]
    for label, url in footer.get("links", []):
        lines.append(f"{label}: {url}")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1)
def _layout() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True
    )
    return env.get_template("layout.html")


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # keep_style_tags: dark-mode and mobile media queries cannot be inlined.
    return css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.md"))


__all__ = ["Rendered", "TemplateError", "render", "template_names"]
