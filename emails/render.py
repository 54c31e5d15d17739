"""Templates -> subject, preheader, text and HTML.

Each email is one Markdown file under `emails/templates/` with a TOML front
matter between `+++` lines (subject, preheader, optional sender_name). The body
is a Jinja template rendered twice, once for the HTML part and once for the
plain-text part, so helpers like `button()` can say the right thing in each.
Templates are compiled once per process (the Jinja environment caches them).

The HTML part (Markdown, the layout, CSS inlining) costs about 2 ms an email,
and one template sent to many people differs only in their values. So it is
built once per template *shape* and cached: every string value that Jinja,
Markdown and the CSS inliner would pass through unchanged is replaced by a
placeholder, and each email puts its own values back in. Which values qualify
depends on where they land (`_needs`); anything else is rendered in full.
"""

from __future__ import annotations

import re
import secrets
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import css_inline
import jinja2
import mistune
from markupsafe import Markup, escape

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


_BUTTON_HTML = (
    '<p class="cta"><a class="button" href="{url}">{label}</a></p>\n'
    '<p class="small">If the button does not work, copy this address into your browser:'
    '<br><a href="{url}">{url}</a></p>'
)


def _button_html(label: str, url: str) -> Markup:
    # What Markup(...).format() does (escape each value), without its slow formatter.
    return Markup(_BUTTON_HTML.format(url=escape(url), label=escape(label)))


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


_MARKDOWN_PLUGINS = ["strikethrough", "table"]
_markdown = mistune.create_markdown(escape=False, plugins=_MARKDOWN_PLUGINS)
_markdown_tokens = mistune.create_markdown(renderer=None, escape=False, plugins=_MARKDOWN_PLUGINS)


def _plain(markdown_text: str) -> str:
    """Markdown reads well as text already; only tidy links and emphasis."""
    # Each pattern runs only where its marker occurs (most emails have no
    # link or underscore): the same text, without four scans of every email.
    text = markdown_text
    if "](" in text:
        text = _LINK.sub(r"\1 (\2)", text)
    if "**" in text:
        text = _STRONG.sub(r"\1", text)
    if "_" in text:
        text = _EMPHASIS.sub(r"\1", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() + "\n"


_LINK = re.compile(r"\[([^\]]+)\]\((\S+?)\)")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<!\w)_(.+?)_(?!\w)")
_BLANK_LINES = re.compile(r"\n{3,}")


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
    subject = _render_line(name, "subject", context)
    preheader = _render_line(name, "preheader", context) if "preheader" in source.meta else ""
    body_text = _render_part(name, "body", {**context, "button": _button_text})
    body_html_md = _render_part(name, "body", {**context, "button": _button_html})
    footer = context.get("footer", {})
    text = _plain(body_text) + _text_footer(footer)
    html = _html_from_shape(name, context, subject, preheader, body_html_md)
    if html is None:
        html = _html(subject, preheader, body_html_md, footer)
    return Rendered(
        subject=subject,
        preheader=preheader,
        text=text,
        html=html,
        sender_name=source.meta.get("sender_name"),
    )


def _render_line(name: str, part: str, context: dict) -> str:
    return " ".join(_render_part(name, part, context).split())


def _html(subject: str, preheader: str, markdown_text: str, footer: dict) -> str:
    """The HTML part in full: Markdown, the layout, CSS inlined."""
    html = _layout().render(
        subject=subject,
        preheader=preheader,
        content=Markup(_markdown(markdown_text)),
        footer=footer,
    )
    return _inliner().inline(html)


# -- the HTML part by shape ---------------------------------------------------
#
# A placeholder is letters and digits only (random per process, so no value or
# template contains one by chance). A value may take its place when it is
# "HTML-inert": no & < > " and no white space but single spaces, so that Jinja's
# escaping and the inliner's HTML parser and serializer give it back unchanged.
# Where Markdown reads it, more is needed: in text it must hold no Markdown
# syntax, start with a letter where a line starts (no list or heading), and
# start or end with a letter or digit next to an emphasis mark (flanking); in a
# link target it must be a plain http(s) URL that Markdown does not escape.
# Each shape records where its placeholders landed; a value that does not fit
# its places, or a place nobody vouches for, means a full render.

_PLACEHOLDER_STEM = "Hq" + secrets.token_hex(5) + "v"
_PLACEHOLDER = re.compile(_PLACEHOLDER_STEM + r"(\d+)Q")
_HTML_INERT = re.compile(r"[^&<>\"\s\x00-\x1f\x7f-\x9f]+(?: [^&<>\"\s\x00-\x1f\x7f-\x9f]+)*")
_TEXT_INERT = re.compile(r"(?:[^\W_]|[ .,:;?!/@+=%#'’()-])+")
_URL_INERT = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$+,;=%-]*")
_INERT_CHECKS: dict[str, Callable[[str], object]] = {
    "html": _HTML_INERT.fullmatch,
    "text": _TEXT_INERT.fullmatch,
    "url": _URL_INERT.fullmatch,
    "letter-first": lambda value: value[:1].isalpha(),
    "alnum-first": lambda value: value[:1].isalnum(),
    "alnum-last": lambda value: value[-1:].isalnum(),
    "not-hash-last": lambda value: not value.endswith("#"),  # an ATX heading's closing #s
    "unknown": lambda value: False,
}
# Block markers a line may start with before a value (a list item, a quote, a heading).
_LINE_START = re.compile(r"[ \t>*+#-]*(?:\d+[.)])?[ \t]*\Z")
_SHAPES_KEPT = 256


@dataclass(frozen=True)
class _Shape:
    html: str  # the inlined HTML with placeholders
    needs: dict[str, frozenset[str]]  # placeholder number -> kinds of place it landed in


# (template, placeholder context, has a preheader) -> its renders with
# placeholders (body Markdown, subject, preheader) and its shape.
_shapes: dict[tuple, tuple[str, str, str, _Shape | None]] = {}
_shapes_lock = threading.Lock()


def _placeholder(number: str) -> str:
    return f"{_PLACEHOLDER_STEM}{number}Q"


def _put_back(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def _with_placeholders(value, values: dict[str, str]):
    """`value` with each HTML-inert string in it (in dicts, lists, tuples)
    replaced by a placeholder; `values` maps the placeholders back."""
    if type(value) is str:
        if not _HTML_INERT.fullmatch(value):
            return value
        number = str(len(values))
        values[number] = value
        return _placeholder(number)
    if type(value) is dict:
        return {key: _with_placeholders(item, values) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_with_placeholders(item, values) for item in value)
    return value


def _html_from_shape(name: str, context: dict, subject: str, preheader: str,
                     markdown_text: str) -> str | None:
    """The HTML part from the cached shape of this email, or None when this
    email must be rendered in full."""
    values: dict[str, str] = {}
    shaped = _with_placeholders(context, values)
    if not values or not _is_plain_data(shaped):
        return None
    # The same template and placeholders render the same: one shape for all.
    key = (name, repr(shaped), bool(preheader))
    found = _shapes.get(key)
    if found is None:
        shaped_md = _render_part(name, "body", {**shaped, "button": _button_html})
        shaped_subject = _render_line(name, "subject", shaped)
        shaped_preheader = _render_line(name, "preheader", shaped) if preheader else ""
        found = (shaped_md, shaped_subject, shaped_preheader,
                 _shape(shaped_md, shaped_subject, shaped_preheader, shaped.get("footer", {})))
        with _shapes_lock:
            if len(_shapes) >= _SHAPES_KEPT:
                del _shapes[next(iter(_shapes))]
            _shapes[key] = found
    shaped_md, shaped_subject, shaped_preheader, shape = found
    # Jinja treated every value as opaque (no test, filter or escaping changed it).
    if (shape is None or _put_back(shaped_md, values) != markdown_text
            or _put_back(shaped_subject, values) != subject
            or _put_back(shaped_preheader, values) != preheader):
        return None
    for number, kinds in shape.needs.items():
        if not all(_INERT_CHECKS[kind](values[number]) for kind in kinds):
            return None
    return _put_back(shape.html, values)


def _is_plain_data(value) -> bool:
    if type(value) is dict:
        return all(type(k) is str and _is_plain_data(v) for k, v in value.items())
    if type(value) in (list, tuple):
        return all(_is_plain_data(item) for item in value)
    return value is None or type(value) in (str, int, float, bool)


def _shape(markdown_text: str, subject: str, preheader: str, footer: dict) -> _Shape | None:
    if re.search(r"^ {0,3}\[[^\]]+\]:", markdown_text, re.M):
        return None  # a reference link's label may be a value: Markdown would read it
    needs: dict[str, set[str]] = {}
    for number, kind in _markdown_places(markdown_text):
        needs.setdefault(number, set()).add(kind)
    body = _markdown(markdown_text)
    document = _layout().render(subject=subject, preheader=preheader, content=Markup(body),
                                footer=footer)
    inlined = _inliner().inline(document)
    for number, kind in _html_places(document):
        needs.setdefault(number, set()).add(kind)
    # Markdown and the inliner neither dropped nor doubled a placeholder.
    for text, produced in ((markdown_text, body), (document, inlined)):
        for number in set(_PLACEHOLDER.findall(text)) | set(_PLACEHOLDER.findall(produced)):
            if text.count(_placeholder(number)) != produced.count(_placeholder(number)):
                needs.setdefault(number, set()).add("unknown")
    return _Shape(html=inlined, needs={n: frozenset(k) for n, k in needs.items()})


def _markdown_places(markdown_text: str):
    """(placeholder number, kind of place) for each placeholder Markdown reads."""
    found = 0
    for token in _tokens(_markdown_tokens(markdown_text)):
        kind = token["type"]
        raw = token.get("raw")
        if isinstance(raw, str):
            for match in _PLACEHOLDER.finditer(raw):
                found += 1
                if kind in ("text", "codespan", "block_code"):
                    yield match.group(1), "text"
                elif kind in ("block_html", "inline_html"):
                    yield match.group(1), _place_in_html(raw, match.start())
                else:
                    yield match.group(1), "unknown"
        for attr, value in (token.get("attrs") or {}).items():
            if isinstance(value, str):
                for match in _PLACEHOLDER.finditer(value):
                    found += 1
                    yield match.group(1), "url" if attr == "url" else "unknown"
    for match in _PLACEHOLDER.finditer(markdown_text):
        number, start, end = match.group(1), match.start(), match.end()
        before, after = markdown_text[start - 1 : start], markdown_text[end : end + 1]
        if before in ("<", "&", "\\"):
            yield number, "unknown"  # a tag name, an autolink, an entity, an escape
        if _LINE_START.match(markdown_text, markdown_text.rfind("\n", 0, start) + 1, start):
            yield number, "letter-first"
        if before and before in "*_~]!`":
            yield number, "alnum-first"
        if after and after in "*_~[]`":
            yield number, "alnum-last"
        line_end = markdown_text.find("\n", end)
        if not markdown_text[end : None if line_end < 0 else line_end].strip(" \t#"):
            yield number, "not-hash-last"
    if found != len(_PLACEHOLDER.findall(markdown_text)):
        for match in _PLACEHOLDER.finditer(markdown_text):
            yield match.group(1), "unknown"


def _tokens(tokens):
    for token in tokens:
        yield token
        yield from _tokens(token.get("children") or ())


def _html_places(document: str):
    for match in _PLACEHOLDER.finditer(document):
        yield match.group(1), _place_in_html(document, match.start())


def _place_in_html(html: str, at: int) -> str:
    """"html" for text between tags or a double-quoted attribute value;
    "unknown" for any other place in a tag, or inside <style> or <script>."""
    before = html[:at]
    lowered = before.lower()
    for element in ("style", "script"):
        if lowered.rfind(f"<{element}") > lowered.rfind(f"</{element}"):
            return "unknown"
    opened = before.rfind("<")
    if opened <= before.rfind(">"):
        return "html"
    return "html" if before.count('"', opened) % 2 == 1 else "unknown"


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
