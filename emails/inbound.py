"""Raw inbound MIME -> ParsedMessage: what kind of mail, from whom, and what is new in it.

Pure: bytes in, values out; no Flask, no database, nothing from `app`. The
caller stores the raw bytes before calling this (DESIGN.md invariant 4), so
every guess made here can be made again by a better parser later.

`parse_message` answers, in this order:

1. the kind: a bounce (DSN first), a loop from our own address, a calendar
   reply (METHOD:REPLY), an auto-reply (RFC 3834 and the headers and subjects
   real responders use), or else a person's reply;
2. who wrote to whom in answer to which Message-ID;
3. what the person newly wrote: quoted history, attribution lines ("On ...
   wrote:"), Outlook header blocks and signatures removed.

It never raises on a broken email; only input that is not an email at all
raises `UnparseableMessage`.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.header
import email.parser
import email.policy
import email.utils
import functools
import quopri
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from html.parser import HTMLParser

from mailparser_reply import EmailMessage as ReplyParserMessage


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str | None  # without <>; None when missing
    in_reply_to: list[str]  # message ids without <>
    references: list[str]
    from_address: str | None  # lower-cased addr-spec; None when unparseable
    from_name: str
    to_addresses: list[str]  # To, Cc, Delivered-To, X-Original-To; lower-cased, deduplicated
    subject: str
    date: datetime | None  # aware
    text: str  # only the new words: no quoted history, attribution lines or signatures
    full_text: str  # the whole body as text
    kind: str  # REPLY | AUTO_REPLY | BOUNCE | CALENDAR_REPLY
    kind_reason: str  # why, for people: "Auto-Submitted: auto-replied", "DSN multipart/report"
    bounced_recipients: list[str]  # bounces: the failed final recipients
    bounced_message_id: str | None  # bounces: Message-ID of our message, when the DSN has it
    bounce_status: str | None  # bounces: "5.1.1"
    calendar: bytes | None  # a text/calendar part (METHOD:REPLY preferred), as sent
    attachments: list[tuple[str, str, int]]  # (filename, content type, size); never content
    charset_problems: bool  # some text was in a wrong, unknown or undeclared charset


@dataclass(frozen=True)
class Command:
    """A reply whose first line is a command; `days` is set for every pause."""

    name: str
    weeks: int | None = None
    days: int | None = None


class UnparseableMessage(Exception):
    """The input is not an email at all (empty, or no header fields)."""


REPLY = "reply"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
CALENDAR_REPLY = "calendar_reply"


def parse_message(raw: bytes, *, own_addresses: Iterable[str] = ()) -> ParsedMessage:
    """Parse one raw RFC 5322 message; `own_addresses` are the addresses we send from."""
    msg = _read_mime(raw)
    headers = _Headers(msg)
    if not headers.names() & _EMAIL_HEADERS:
        raise UnparseableMessage("no email header fields: this is not an email")
    try:
        return _parse(msg, headers, own_addresses)
    except (RecursionError, MemoryError) as exc:
        raise UnparseableMessage(f"message too deeply nested or too large: {exc!r}") from exc
    except Exception as exc:
        # A parser bug must quarantine the message, not crash the job; the chained
        # cause lets tests and logs tell a bug from garbage input.
        raise UnparseableMessage(f"parser error: {exc!r}") from exc


def parse_command(text: str) -> Command | None:
    """The command on the first non-empty line of `text`, or None.

    Only a line that is exactly a command counts ("pause 3 weeks", "stop!"),
    never a sentence that starts with one ("stop worrying, it went well").
    """
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    line = " ".join(_TRAILING_PUNCTUATION.sub("", first.lower()).split())
    if line in _COMMANDS:
        return Command(_COMMANDS[line])
    match = _PAUSE.fullmatch(line)
    if match is None:
        return None
    if match.group(1) is None:
        return Command("pause", weeks=_DEFAULT_PAUSE_WEEKS, days=7 * _DEFAULT_PAUSE_WEEKS)
    count, unit = int(match.group(1)), match.group(2)
    if not 1 <= count <= 52:
        return None
    return Command("pause", weeks=count if unit == "week" else None, days=count * _UNIT_DAYS[unit])


_COMMANDS = {
    "resume": "resume",
    "stop": "stop",
    "unsubscribe": "stop",
    "help": "help",
    "object": "object",
    "end": "end",
    "circle": "circle",
    "graduate": "graduate",
}
_PAUSE = re.compile(r"pause(?: (\d{1,2}) (day|week|month)s?)?")
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30}  # a month is 30 days: a pause, not a calendar
_DEFAULT_PAUSE_WEEKS = 2
_TRAILING_PUNCTUATION = re.compile(r"\s*[.!]+$")


# --- reading the MIME tree --------------------------------------------------------------------

# A message needs at least one of these to be an email rather than some other bytes.
_EMAIL_HEADERS = frozenset(
    [
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "received",
        "return-path",
        "mime-version",
        "content-type",
        "delivered-to",
        "sender",
        "reply-to",
        "in-reply-to",
        "references",
        "x-original-to",
    ]
)
_MAX_DEPTH = 40  # MIME nesting we follow; real mail stays under 10


def _read_mime(raw: bytes) -> Message:
    """The MIME tree, read with compat32: `policy.default` parses every header
    through its registry on each access (about half of a reply's parse), and
    this module reads headers raw and decodes them itself (`_Headers`)."""
    data = bytes(raw).lstrip(b"\r\n\t ")
    if not data:
        raise UnparseableMessage("empty message")
    try:
        return email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception as exc:  # RecursionError on absurd nesting; otherwise the parser is lenient
        raise UnparseableMessage(f"the MIME parser gave up: {exc!r}") from exc


def _parse(msg: Message, headers: _Headers, own_addresses: Iterable[str]) -> ParsedMessage:
    charsets = _Charsets()
    froms = _addresses(headers, "From", charsets)
    from_name, from_address = froms[0] if froms else ("", None)
    if not froms:
        from_name = _display_name_only(headers.all("From"), charsets)
    to_addresses = _unique(
        address
        for name in ("To", "Cc", "Delivered-To", "X-Original-To")
        for _, address in _addresses(headers, name, charsets)
    )
    subject = _collapse_spaces(charsets.header(headers.first("Subject")))

    tree = _part_tree(msg)
    plain, html = _body_parts(tree, "plain"), _body_parts(tree, "html")
    full_text = "\n".join(charsets.part_text(part) for part in plain)
    if full_text.strip():
        text = extract_new_text(full_text)
    elif html:
        markup = "\n".join(charsets.part_text(part) for part in html)
        full_text = html_to_text(markup)
        text = extract_new_text(html_to_text(markup, cut_quotes=True))
    else:
        text = ""
    full_text = _tidy(full_text)

    calendar = _calendar_part(tree)
    kind, reason, bounce = _classify(
        headers, tree, from_address, subject, full_text, calendar, _own(own_addresses)
    )
    return ParsedMessage(
        message_id=next(iter(_message_ids(headers.first("Message-ID"))), None),
        in_reply_to=_message_ids(" ".join(headers.all("In-Reply-To"))),
        references=_message_ids(" ".join(headers.all("References"))),
        from_address=from_address,
        from_name=from_name,
        to_addresses=to_addresses,
        subject=subject,
        date=_date(headers.first("Date")),
        text=text,
        full_text=full_text,
        kind=kind,
        kind_reason=reason,
        bounced_recipients=bounce.recipients if bounce else [],
        bounced_message_id=bounce.message_id if bounce else None,
        bounce_status=bounce.status if bounce else None,
        calendar=calendar[0] if calendar else None,
        attachments=_attachments(tree, {id(part) for part in plain + html}),
        charset_problems=charsets.problems,
    )


@dataclass(frozen=True)
class _Part:
    """One MIME part with its headers read once (the stdlib re-parses them on every access)."""

    message: Message
    content_type: str
    is_attachment: bool
    filename: str
    children: tuple[_Part, ...]

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    def param(self, name: str) -> str:
        try:
            return str(self.message.get_param(name, "") or "").strip().lower()
        except Exception:  # a malformed RFC 2231 parameter reads as absent
            return ""


def _part_tree(message: Message, depth: int = 0) -> _Part:
    """The MIME tree; an attached message/* is a leaf (its parts are not the reply's parts)."""
    try:
        content_type = message.get_content_type()
    except Exception:  # unreadable Content-Type: RFC 2045's default
        content_type = "text/plain"
    try:
        disposition = message.get_content_disposition()
        filename = message.get_filename()
    except Exception:  # a broken RFC 2231 parameter: keep the part, as an attachment
        disposition, filename = "attachment", ""
    children: tuple[_Part, ...] = ()
    if content_type.startswith("multipart/") and depth < _MAX_DEPTH:
        children = tuple(_part_tree(child, depth + 1) for child in _subparts(message))
    return _Part(
        message=message,
        content_type=content_type,
        is_attachment=disposition == "attachment" or filename is not None,
        filename=_clean_surrogates(_decoded_filename(filename or "")),
        children=children,
    )


def _decoded_filename(filename: str) -> str:
    """Mail clients write non-ASCII names as RFC 2047 words inside the quotes
    (not the standard's RFC 2231); the compat32 parser leaves those as they are."""
    if "=?" not in filename:
        return filename
    try:
        return str(email.header.make_header(email.header.decode_header(filename)))
    except Exception:  # an unknown charset or a broken word: the name as written
        return filename


def _subparts(message: Message) -> list[Message]:
    # Only a list payload: get_payload() on a str payload decodes it with the declared
    # charset and raises on labels like "idna" (CPython's email.message, 3.11).
    if not message.is_multipart():
        return []
    return [child for child in message.get_payload() if isinstance(child, Message)]


def _leaves(part: _Part) -> Iterator[_Part]:
    if part.maintype == "multipart":
        for child in part.children:
            yield from _leaves(child)
    else:
        yield part


def _multiparts(part: _Part) -> Iterator[_Part]:
    if part.maintype == "multipart":
        yield part
        for child in part.children:
            yield from _multiparts(child)


def _body_parts(part: _Part, subtype: str) -> list[_Part]:
    """The inline text/<subtype> parts a reader would see, in order.

    Alternatives give their first match, related parts their root, and any
    other multipart (mixed, report, signed) the matches of each inline child.
    """
    if part.maintype != "multipart":
        wanted = part.content_type == f"text/{subtype}" and not part.is_attachment
        return [part] if wanted else []
    children = [child for child in part.children if not child.is_attachment]
    if part.subtype == "related":
        children = children[:1]
    if part.subtype == "alternative":
        for child in children:
            found = _body_parts(child, subtype)
            if found:
                return found
        return []
    return [found for child in children for found in _body_parts(child, subtype)]


def _payload_bytes(part: _Part) -> bytes:
    try:
        if part.maintype == "message" and part.message.is_multipart():
            return b"".join(child.as_bytes() for child in _subparts(part.message))
        data = part.message.get_payload(decode=True)
    except Exception:  # unusual transfer encodings; the raw bytes are stored anyway
        return b""
    return data if isinstance(data, bytes) else b""


# Machine-readable report parts are the report, not attachments.
_REPORT_PARTS = frozenset(
    [
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/feedback-report",
        "text/rfc822-headers",
        "message/global-headers",
    ]
)


def _attachments(tree: _Part, body_ids: set[int]) -> list[tuple[str, str, int]]:
    return [
        (part.filename, part.content_type, len(_payload_bytes(part)))
        for part in _leaves(tree)
        if id(part) not in body_ids
        and part.content_type not in _REPORT_PARTS
        and (part.is_attachment or part.maintype != "text")
    ]


# iTIP answers an attendee's client sends back: an answer (REPLY), a proposed
# new time (COUNTER), or a request for the current version (REFRESH).
_METHOD_REPLY = re.compile(
    rb"^METHOD[ \t]*:[ \t]*(?:REPLY|COUNTER|REFRESH)[ \t]*\r?$", re.MULTILINE | re.IGNORECASE
)


def _calendar_part(tree: _Part) -> tuple[bytes, bool] | None:
    """(iCalendar bytes, is it METHOD:REPLY) of the best calendar part, if any."""
    candidates = []
    for part in _leaves(tree):
        if part.content_type in ("text/calendar", "application/ics") or (
            part.filename.lower().endswith(".ics")
        ):
            data = _payload_bytes(part)
            is_reply = bool(_METHOD_REPLY.search(data)) or part.param("method") in ("reply", "counter", "refresh")
            candidates.append((not is_reply, part.content_type != "text/calendar", data, is_reply))
    if not candidates:
        return None
    _, _, data, is_reply = min(candidates, key=lambda c: (c[0], c[1]))
    return data, is_reply


# --- charsets ---------------------------------------------------------------------------------

# Labels browsers (WHATWG Encoding) decode as windows-1252; mail clients mislabel the same way.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
}
# Codecs that are not charsets (or that raise on every input): never trust such a label.
_NOT_CHARSETS = frozenset(
    [
        "undefined",
        "unicode_escape",
        "raw_unicode_escape",
        "idna",
        "punycode",
        "mbcs",
        "oem",
        "rot_13",
        "base64_codec",
        "hex_codec",
        "quopri_codec",
        "uu_codec",
        "zlib_codec",
        "bz2_codec",
    ]
)
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _codec(label: str) -> str | None:
    """Python codec for a MIME charset label; "" means RFC 2045's default us-ascii."""
    label = label.strip().strip("\"'").lower().split("*", 1)[0]
    if not label:
        return "ascii"
    try:
        info = codecs.lookup(_CHARSET_ALIASES.get(label, label))
    except (LookupError, ValueError):
        return None
    if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """(text, was the label wrong or missing) for bytes in a claimed charset. Never raises.

    The declared charset wins when the bytes fit it. Otherwise the bytes are
    UTF-8 when they hold valid UTF-8 sequences, and windows-1252 (the usual
    truth behind a wrong label) when they do not.
    """
    codec = _codec(charset or "")
    if codec is not None:
        try:
            return data.decode(codec), False
        except (UnicodeError, LookupError, ValueError):
            if codec == "cp1252":  # five bytes undefined in 1252 exist in latin-1
                return data.decode("latin-1"), False
    if codec not in ("utf-8", "ascii"):
        try:
            return data.decode("utf-8"), True
        except UnicodeDecodeError:
            pass
    sequences = sum(len(m) for m in _UTF8_SEQUENCE.findall(data))
    if sequences and sequences * 2 >= len(_HIGH_BYTE.findall(data)):
        return data.decode("utf-8", errors="replace"), True
    if codec not in (None, "utf-8", "ascii"):
        try:
            return data.decode(codec, errors="replace"), True
        except (UnicodeError, LookupError, ValueError):
            pass
    return data.decode("cp1252", errors="replace"), True


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean_surrogates(text: str) -> str:
    """Valid text: escaped raw bytes read as UTF-8, any other lone surrogate replaced."""
    if not _SURROGATE.search(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # not escaped bytes: lone surrogates from a utf-7/utf-16 label
        return _SURROGATE.sub("\ufffd", text)


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_ENCODED_WORDS = re.compile(r"(\?=)\s+(=\?)")


class _Charsets:
    """Decodes header and body text, remembering whether any of it was a guess."""

    def __init__(self) -> None:
        self.problems = False

    def bytes(self, data: bytes, charset: str | None) -> str:
        text, guessed = _decode_bytes(data, charset)
        if _SURROGATE.search(text):  # utf-7 and utf-16 decode to lone surrogates
            text, guessed = _SURROGATE.sub("\ufffd", text), True
        self.problems |= guessed or "\ufffd" in text
        return text

    def text(self, value: str) -> str:
        """A header string from the parser: raw 8-bit bytes arrive as escaped surrogates."""
        if not _SURROGATE.search(value):
            return value
        try:
            data = value.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:  # lone surrogates from an encoded word in utf-7 or utf-16
            self.problems = True
            return _SURROGATE.sub("\ufffd", value)
        # RFC 6532 allows raw UTF-8 in headers; anything else is a guess.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return self.bytes(data, "x-unknown")

    def header(self, raw: str | None) -> str:
        """An unstructured header (Subject) with RFC 2047 encoded words decoded."""
        if not raw:
            return ""
        value = _BETWEEN_ENCODED_WORDS.sub(r"\1\2", self.text(raw))
        return _ENCODED_WORD.sub(self._encoded_word, value)

    def _encoded_word(self, match: re.Match[str]) -> str:
        charset, encoding, payload = match.groups()
        try:
            if encoding.upper() == "B":
                data = base64.b64decode(payload + "=" * (-len(payload) % 4))
            else:
                data = quopri.decodestring(
                    payload.replace("_", " ").encode("ascii", "replace"), header=True
                )
        except (binascii.Error, ValueError):
            self.problems = True
            return match.group(0)
        return self.bytes(data, charset)

    def part_text(self, part: _Part) -> str:
        try:
            charset = part.message.get_content_charset()
        except Exception:  # a malformed RFC 2231 charset parameter
            charset = "x-unknown"
        text = self.bytes(_payload_bytes(part), charset)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if part.content_type == "text/plain" and part.param("format") == "flowed":
            text = _unflow(text, delsp=part.param("delsp") == "yes")
        return text


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines of the same quote depth."""
    out: list[str] = []
    paragraph: str | None = None
    paragraph_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):  # space-stuffing
            content = content[1:]
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if paragraph is not None and depth != paragraph_depth:
            out.append(_quote_prefix(paragraph_depth) + paragraph)
            paragraph = None
        paragraph = content if paragraph is None else paragraph + content
        paragraph_depth = depth
        if not soft:
            out.append(_quote_prefix(depth) + paragraph)
            paragraph = None
    if paragraph is not None:
        out.append(_quote_prefix(paragraph_depth) + paragraph)
    return "\n".join(out)


def _quote_prefix(depth: int) -> str:
    return ">" * depth + " " if depth else ""


# --- headers ----------------------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


class _Headers:
    """Raw header values by lower-cased name, unfolded: read once, neither parsed nor decoded."""

    def __init__(self, msg: Message) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            self._values.setdefault(name.lower(), []).append(_LINE_BREAKS.sub("", str(value)))

    def names(self) -> set[str]:
        return set(self._values)

    def all(self, name: str) -> list[str]:
        return self._values.get(name.lower(), [])

    def first(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None


@functools.cache
def _header_class(name: str) -> type:
    # The registry builds a new class on every lookup (slow); the class for a name never changes.
    return email.policy.default.header_factory[name]


_ADDRESS = re.compile(
    r"(?!\.)(?!.*\.\.)[\w.!#$%&'*+/=?^`{|}~-]{1,64}(?<!\.)@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_][\w-]{0,62}"
)


def _valid_address(address: str) -> str | None:
    address = address.strip().strip("<>").strip()
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        return None
    return address.lower()


def _addresses(headers: _Headers, name: str, charsets: _Charsets) -> list[tuple[str, str]]:
    """(display name, lower-cased address) of each valid address in every `name` header."""
    found = []
    for raw in headers.all(name):
        simple = _SIMPLE_MAILBOX.fullmatch(raw)
        if simple is not None:
            pairs = [((simple["name"] or simple["quoted"] or "").strip(), simple["addr"] or simple["bare"])]
        else:
            pairs = _mailboxes(name, raw)
        for display, address in pairs:
            valid = _valid_address(charsets.text(address))
            if valid:
                if not display and len(pairs) == 1:  # "addr (Name)": the comment names the sender
                    display = _parseaddr_name(raw)
                name_text = _collapse_spaces(charsets.header(charsets.text(display)))
                found.append((name_text.strip("\"' "), valid))
    return found


# One mailbox in the shapes nearly all mail uses ("Name <a@b>", "\"Name\" <a@b>",
# "<a@b>", "a@b"): read without the RFC 5322 parser, which costs a third of a
# reply's parse. Anything else (lists, groups, comments, escapes) takes that parser.
_SIMPLE_MAILBOX = re.compile(
    r'\s*(?:(?P<name>[^"<>,;:()\\]*?)|"(?P<quoted>[^"\\]*)")\s*<(?P<addr>[^<>\s"(),;:\\]+)>\s*'
    r'|\s*(?P<bare>[^<>\s"(),;:\\]+)\s*'
)


def _mailboxes(name: str, raw: str) -> list[tuple[str, str]]:
    try:
        header = _header_class(name.lower())(name, raw)
        return [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:  # not an address header, or the strict parser failed on it
        try:
            return email.utils.getaddresses([raw])
        except Exception:
            return []


def _parseaddr_name(raw: str) -> str:
    try:
        return email.utils.parseaddr(raw)[0]
    except Exception:  # hostile input must never decide whether parsing crashes
        return ""


def _display_name_only(raw_values: list[str], charsets: _Charsets) -> str:
    """A From without a usable address may still say who it is."""
    for raw in raw_values:
        display = _parseaddr_name(raw)
        if not display and not re.search(r"[@<>]", raw):  # "From: Anna Lindqvist"
            display = raw
        if display:
            return _collapse_spaces(charsets.header(charsets.text(display))).strip("\"' ")
    return ""


_MESSAGE_ID = re.compile(r"<\s*([^<>\s]+?)\s*>")


def _message_ids(raw: str | None) -> list[str]:
    """Message-IDs without <>; bare ids (no brackets) count when they hold an @."""
    if not raw:
        return []
    raw = _clean_surrogates(raw)
    ids = _MESSAGE_ID.findall(raw)
    if not ids:
        ids = [token.strip("<>") for token in re.split(r"[\s,]+", raw) if "@" in token]
    return _unique(i for i in ids if i)


def _date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = email.utils.parsedate_to_datetime(_clean_surrogates(raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _collapse_spaces(text: str) -> str:
    return " ".join(text.split())


# --- kind: bounce, loop, calendar reply, auto-reply, reply ------------------------------------


@dataclass(frozen=True)
class _Bounce:
    recipients: list[str]
    message_id: str | None
    status: str | None


def _own(addresses: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    own = {_valid_address(a) for a in addresses if a}
    own.discard(None)
    return frozenset(own), frozenset(a.rpartition("@")[2] for a in own)


def _classify(
    headers: _Headers,
    tree: _Part,
    from_address: str | None,
    subject: str,
    full_text: str,
    calendar: tuple[bytes, bool] | None,
    own: tuple[frozenset[str], frozenset[str]],
) -> tuple[str, str, _Bounce | None]:
    bounce_reason = _bounce_reason(headers, tree, subject)
    if bounce_reason:
        return BOUNCE, bounce_reason, _bounce_details(headers, tree, full_text)
    if _is_own(from_address, own):
        return AUTO_REPLY, "mail from our own address", None
    if calendar is not None and calendar[1]:
        # Before the auto-reply checks: a calendar reply is machine-made but a person's decision.
        return CALENDAR_REPLY, "text/calendar METHOD:REPLY", None
    auto_reason = _auto_reply_reason(headers, tree, subject, from_address)
    if auto_reason:
        return AUTO_REPLY, auto_reason, None
    return REPLY, "no bounce, auto-reply or calendar markers", None


def _is_own(address: str | None, own: tuple[frozenset[str], frozenset[str]]) -> bool:
    if address is None:
        return False
    addresses, domains = own
    local, _, domain = address.rpartition("@")
    return address in addresses or (local.startswith("reply+") and domain in domains)


def _report_type(part: _Part) -> str:
    return part.param("report-type") if part.content_type == "multipart/report" else ""


_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undelivered mail returned to sender|undeliverable\b|undelivered\b"
    r"|delivery status notification \((?:failure|delay)\)|mail delivery failed|delivery failure"
    r"|returned mail\b|failure notice|unzustellbar|nicht zustellbar|non remis|non distribuable"
    r"|onbestelbaar|no se puede entregar|impossibile recapitare|olevererbart)",
    re.IGNORECASE,
)
_MAILER_DAEMON = re.compile(r"(?<![\w.+-])(mailer-daemon|postmaster)(?![\w-])", re.IGNORECASE)


def _bounce_reason(headers: _Headers, tree: _Part, subject: str) -> str | None:
    """Why this is a bounce, or None. The DSN structure is the strongest sign (RFC 3464)."""
    if any(_report_type(part) == "delivery-status" for part in _multiparts(tree)):
        return "DSN multipart/report"
    match = _MAILER_DAEMON.search(headers.first("From") or "")
    if match:
        return (
            "From MAILER-DAEMON" if match.group(1).lower() == "mailer-daemon" else "From postmaster"
        )
    if _BOUNCE_SUBJECT.match(subject):
        return "bounce subject"
    if headers.first("X-Failed-Recipients"):
        return "X-Failed-Recipients header"
    return None


_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_BODY_MESSAGE_ID = re.compile(r"^[ \t]*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def _bounce_details(headers: _Headers, tree: _Part, full_text: str) -> _Bounce:
    failed: list[str] = []
    statuses: list[str] = []
    message_id = None
    for part in _leaves(tree):
        content_type = part.content_type
        if content_type in ("message/delivery-status", "message/global-delivery-status"):
            for fields in _dsn_recipient_blocks(part):
                recipient = fields.get("final-recipient") or fields.get("original-recipient", "")
                address = _valid_address(recipient.rpartition(";")[2])
                status_match = _STATUS.search(fields.get("status", ""))
                status = status_match.group(1) if status_match else None
                action = fields.get("action", "").strip().lower()
                if action == "failed" or (not action and status and status.startswith("5.")):
                    if address:
                        failed.append(address)
                    if status:
                        statuses.insert(len(failed) - 1, status)
                elif status:
                    statuses.append(status)
        elif message_id is None and content_type in (
            "message/rfc822",
            "message/global",
            "text/rfc822-headers",
            "message/global-headers",
        ):
            message_id = _original_message_id(part)
    for raw in headers.all("X-Failed-Recipients"):
        failed.extend(a for a in map(_valid_address, raw.split(",")) if a)
    if message_id is None:
        match = _BODY_MESSAGE_ID.search(full_text)
        message_id = _message_ids(match.group(1))[0] if match else None
    if not statuses:
        match = _STATUS.search(full_text)
        statuses = [match.group(1)] if match else []
    return _Bounce(_unique(failed), message_id, statuses[0] if statuses else None)


def _dsn_recipient_blocks(part: _Part) -> list[dict[str, str]]:
    """The per-recipient field blocks of a message/delivery-status part (RFC 3464)."""
    if part.message.is_multipart():
        blocks = [
            {key.lower(): _clean_surrogates(str(value)) for key, value in block.raw_items()}
            for block in _subparts(part.message)
        ]
    else:
        text, _ = _decode_bytes(_payload_bytes(part), "utf-8")
        blocks = []
        for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
            fields = {}
            for line in chunk.split("\n"):
                key, colon, value = line.partition(":")
                if colon and not key.startswith((" ", "\t")):
                    fields[key.strip().lower()] = value.strip()
            blocks.append(fields)
    return [b for b in blocks if "final-recipient" in b or "original-recipient" in b]


def _original_message_id(part: _Part) -> str | None:
    if part.message.is_multipart():
        inner = next(iter(_subparts(part.message)), None)
        raw = _Headers(inner).first("Message-ID") if inner is not None else None
    else:
        text, _ = _decode_bytes(_payload_bytes(part), "utf-8")
        parsed = email.parser.HeaderParser(policy=email.policy.default).parsestr(text)
        raw = _Headers(parsed).first("Message-ID")
    ids = _message_ids(raw)
    return ids[0] if ids else None


_AUTO_REPLY_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Autogenerated",
    "X-Mail-Autoreply",
    "X-AutoReply-From",
)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\s*(?:out of (?:the )?office|ooo|automatic reply|automatische antwort|auto[- ]?reply"
    r"|auto[- ]?response|autoresponder|auto:|abwesenheitsnotiz|abwesenheit|nicht im büro"
    r"|respuesta automática|respuesta automatica|fuera de la oficina|ausente"
    r"|réponse automatique|reponse automatique|absence|absent|afwezig|automatisch antwoord"
    r"|afwezigheidsbericht|risposta automatica|fuori sede|fuori ufficio|assente"
    r"|resposta automática|resposta automatica|ausência|fora do escritório|frånvaro|autosvar"
    r"|automatiskt svar|automatisk svar|poza biurem|odpowiedź automatyczna|on vacation"
    r"|vacation reply|away from (?:the )?office)(?!\w)",
    re.IGNORECASE,
)
_NO_REPLY_LOCAL = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|noreply-[\w.-]+)$")


def _auto_reply_reason(
    headers: _Headers, tree: _Part, subject: str, from_address: str | None
) -> str | None:
    auto_submitted = _header_token(headers.first("Auto-Submitted"))
    if auto_submitted and auto_submitted != "no":  # RFC 3834
        return f"Auto-Submitted: {auto_submitted}"
    # Not X-Auto-Response-Suppress: Outlook and Exchange set it on mail people write.
    for name in _AUTO_REPLY_HEADERS:
        value = _header_token(headers.first(name))
        if value is not None and value not in ("no", "false", "0"):
            return f"{name}: {value}" if value else name
    for name in ("Precedence", "X-Precedence"):
        value = _header_token(headers.first(name))
        if value in _BULK_PRECEDENCE:
            return f"{name}: {value}"
    for name in ("List-Id", "List-Unsubscribe"):
        if headers.first(name) is not None:
            return f"{name} present (mailing list)"
    if any(_report_type(part) == "disposition-notification" for part in _multiparts(tree)):
        return "read receipt (MDN)"
    if _OUT_OF_OFFICE_SUBJECT.match(subject):
        return "out-of-office subject"
    if from_address and _NO_REPLY_LOCAL.match(from_address.rpartition("@")[0]):
        return "From a no-reply address"
    return None


def _header_token(raw: str | None) -> str | None:
    """The first token of a header value, lower-cased; None when the header is absent."""
    if raw is None:
        return None
    return _clean_surrogates(raw).split(";", 1)[0].strip().lower()[:60]


# --- HTML to text -----------------------------------------------------------------------------

_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_HIDDEN_TAGS = frozenset(["head", "style", "script", "title", "template", "noscript", "xml", "svg"])
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    ]
)
# Where each client starts the quoted history (everything from there on is old mail).
_QUOTE_CLASSES = frozenset(
    [
        "gmail_quote",
        "gmail_quote_container",
        "gmail_extra",
        "yahoo_quoted",
        "protonmail_quote",
        "moz-cite-prefix",
        "zmail_extra",
        "outlookmessageheader",
        "mail-editor-reference-message-container",
    ]
)
_QUOTE_IDS = frozenset(
    [
        "mail-editor-reference-message-container",
        "divrplyfwdmsg",
        "appendonsend",
        "stopspelling",
        "x_divrplyfwdmsg",
        "x_appendonsend",
    ]
)
_SIGNATURE_CLASSES = frozenset(["gmail_signature", "moz-signature"])
_SIGNATURE_IDS = frozenset(["applemailsignature", "signature", "ms-outlook-mobile-signature"])
_HTML_SPACES = re.compile(r"[ \t\n\r\f\v]+")


class _HtmlText(HTMLParser):
    """Readable text from mail HTML; with `cut_quotes`, only what precedes the quoted history."""

    def __init__(self, *, cut_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.cut_quotes = cut_quotes
        self.lines: list[str] = []
        self.line: list[str] = []
        self.line_has_text = False
        self.open: list[tuple[str, str, bool]] = []  # (tag, role, is a spaced paragraph)
        self.open_count: dict[str, int] = {}
        self.hidden = 0
        self.quoted = 0
        self.pre = 0
        self.stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        attributes = {name: value or "" for name, value in attrs}
        classes = set(attributes.get("class", "").lower().split())
        ident = attributes.get("id", "").lower()
        if tag == "body" and self.open_count.get("head"):
            self._close("head")
        if self.cut_quotes and (
            tag == "blockquote" or classes & _QUOTE_CLASSES or ident in _QUOTE_IDS
        ):
            self._end_line()
            self.stopped = True
            return
        if tag in _VOID_TAGS:
            if tag == "br":
                self._end_line(keep_empty=True)
            elif tag == "hr":
                self._end_line()
            return
        role = ""
        if tag in _HIDDEN_TAGS or (
            self.cut_quotes and (classes & _SIGNATURE_CLASSES or ident in _SIGNATURE_IDS)
        ):
            role = "hidden"
        elif tag == "blockquote":
            role = "quote"
        elif tag == "pre":
            role = "pre"
        spaced = tag == "p" and "msonormal" not in classes  # Outlook's lines are unspaced <p>s
        if tag in _BLOCK_TAGS:
            self._block(spaced)
        if tag == "li" and not self.hidden:
            self.line.append("- ")
        self.open.append((tag, role, spaced))
        self.open_count[tag] = self.open_count.get(tag, 0) + 1
        self.hidden += role == "hidden"
        self.quoted += role == "quote"
        self.pre += role == "pre"

    def handle_endtag(self, tag: str) -> None:
        if not self.stopped and self.open_count.get(tag):
            self._close(tag)
        elif tag in ("td", "th") and not self.stopped and not self.hidden:
            self.line.append(" ")

    def _close(self, tag: str) -> None:
        while self.open:
            name, role, spaced = self.open.pop()
            self.open_count[name] -= 1
            if name in _BLOCK_TAGS:
                self._block(spaced)
            elif name in ("td", "th") and not self.hidden:
                self.line.append(" ")
            self.hidden -= role == "hidden"
            self.quoted -= role == "quote"
            self.pre -= role == "pre"
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if self.stopped or self.hidden:
            return
        if self.pre:
            first, *rest = data.replace("\r\n", "\n").split("\n")
            self.line.append(first)
            for piece in rest:
                self._end_line(keep_empty=True)
                self.line.append(piece)
            return
        text = _HTML_SPACES.sub(" ", data)
        if not self.line_has_text:
            text = text.lstrip(" ")
        if text:
            self.line.append(text)
            self.line_has_text = True

    def _block(self, spaced: bool) -> None:
        if self.hidden:
            return
        # A block holding only &nbsp; is how Outlook writes an empty line.
        self._end_line(keep_empty="\xa0" in "".join(self.line))
        if spaced and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def _end_line(self, *, keep_empty: bool = False) -> None:
        if self.hidden:
            return
        text = "".join(self.line).replace("\xa0", " ")
        if not self.pre:
            text = re.sub(" {2,}", " ", text)
        text = text.rstrip()
        self.line = []
        self.line_has_text = False
        if text or keep_empty:
            prefix = "> " * self.quoted if text else ">" * self.quoted
            self.lines.append(prefix + text)

    def result(self) -> str:
        self._end_line()
        return "\n".join(self.lines)


_TAG = re.compile(r"<[^>]*>")
# An unclosed comment runs to the end, as in browsers.
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_UNCLOSED_TAG = re.compile(r"<(?=[^<>]*(?:<|\Z))")


def _defuse_html(html: str) -> str:
    """Turn every "<" that no ">" closes into text.

    CPython's html.parser rescans the rest of the input for each such "<",
    so a hostile "<<<<..." or "<a <a <a..." takes minutes (measured: 80 kB of
    "<" took 33 s on 3.11). Comments are kept whole; their insides may hold "<".
    """
    pieces = []
    position = 0
    for comment in _COMMENT.finditer(html):
        pieces.append(_UNCLOSED_TAG.sub("&lt;", html[position : comment.start()]))
        pieces.append(comment.group() if comment.group().endswith("-->") else "")
        position = comment.end()
    pieces.append(_UNCLOSED_TAG.sub("&lt;", html[position:]))
    return "".join(pieces)


def html_to_text(html: str, *, cut_quotes: bool = False) -> str:
    """Readable text from mail HTML: blocks and <br> become line breaks, quotes become "> ".

    With `cut_quotes`, stop where the quoted history starts (Gmail `gmail_quote`,
    Outlook `divRplyFwdMsg`/`appendonsend`, Apple `blockquote type=cite`,
    Thunderbird `moz-cite-prefix`, any blockquote) and drop marked signatures.
    """
    parser = _HtmlText(cut_quotes=cut_quotes)
    try:
        parser.feed(_defuse_html(html))
        parser.close()
        text = parser.result()
    except Exception:  # html.parser asserts on some malformed declarations ("<![ x")
        text = _TAG.sub(" ", html)
    return _tidy(text)


# --- the new text of a reply ------------------------------------------------------------------

# mail-parser-reply's quote-header patterns, all languages but "pl": its pattern takes a
# single "Data: ..." or "Do: ..." line for a header block (Polish is covered below).
# Its sign-off patterns are not used: they cut at "Thanks," anywhere in a message.
_REPLY_PARSER_LANGUAGES = (
    "en", "de", "es", "fr", "nl", "it", "sv", "da", "cs", "ja", "ko", "zh", "david"
)  # fmt: skip

_OPENERS = r"(?:On|At|Am|El|Le|Op|Il|Em|Den|Dne|W dniu|Dnia|Pada|mån|tis|ons|tors|fre|lör|sön)"
_VERBS = (
    r"(?:wrote|writes|schrieb|escribió|a écrit|a ecrit|schreef|ha scritto|escreveu|skrev"
    r"|napsal(?:\(a\))?|napisał(?:\(a\))?|pisze|kirjoitti)"
)
_ATTRIBUTION = re.compile(
    rf"{_OPENERS}\b.{{0,300}}?\b{_VERBS}(?:\s[^:]{{0,120}})?\s?:", re.IGNORECASE
)
# "2026-03-02 9:00 GMT+01:00 Hearth <hello@hearth.example>:" and other languages' forms.
_ATTRIBUTION_WITH_ADDRESS = re.compile(r".{0,300}<[^<>\s@]+@[^<>\s]+>\)?\s*(?:\S+\s*){0,2}:")
_DIGIT = re.compile(r"\d")
_FROM_FIELD = re.compile(
    r"\*?(?:From|Von|De|Van|Da|Från|Fra|Od|Lähettäjä|Expéditeur|Afzender)\s?:\*?\s*\S",
    re.IGNORECASE,
)
_SENT_FIELD = re.compile(
    r"\*?(?:Sent|Date|Gesendet|Datum|Enviado(?: el)?|Enviada(?: em)?|Fecha|Envoyé(?: le)?|Verzonden"
    r"|Inviato|Data|Skickat|Sendt|Wysłano|Wysłane|Odesláno|Lähetetty)\s?:\*?\s*\S",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"-{2,}\s*(?:Original Message|Forwarded message|Ursprüngliche Nachricht|Weitergeleitete Nachricht"
    r"|Mensaje original|Mensaje reenviado|Message d'origine|Message transféré|Oorspronkelijk bericht"
    r"|Doorgestuurd bericht|Messaggio originale|Messaggio inoltrato|Mensagem original"
    r"|Mensagem encaminhada|Ursprungligt meddelande|Vidarebefordrat meddelande)\s*-{2,}"
    r"|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:"
    r"|Début du message réexpédié :|Inicio del mensaje reenviado:",
    re.IGNORECASE,
)
_RULE_LINE = re.compile(r"[_\-=]{10,}")
_MOBILE_SIGNATURE = re.compile(
    r"(?:Sent from (?:my|Mail for|Outlook|Yahoo)\b|Sent with Proton|Get Outlook for"
    r"|Von meinem .{1,40} gesendet|Gesendet von|Gesendet mit|Envoyé de mon|Envoyé depuis"
    r"|Enviado desde|Enviado do meu|Enviado a partir d|Verzonden (?:met|vanaf)|Verstuurd (?:met|vanaf)"
    r"|Inviato da|Skickat från|Sendt fra|Wysłane z|Wysłano z|Odesláno z).{0,80}",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"(?:best|best wishes|best regards|kind regards|warm regards|regards|warmly|cheers|thanks"
    r"|thank you|many thanks|thanks again|thanks so much|all the best|take care|love|sincerely"
    r"|yours|talk soon|see you|viele grüße|liebe grüße|beste grüße|herzliche grüße|schöne grüße"
    r"|mit freundlichen grüßen|freundliche grüße|grüße|gruß|lg|vg|mfg|danke|saludos|un saludo"
    r"|un abrazo|abrazos|gracias|muchas gracias|atentamente|cordialmente|besos|cordialement"
    r"|bien à vous|bien cordialement|merci|amitiés|bises|à bientôt|groeten"
    r"|met vriendelijke groet(?:en)?|hartelijke groet(?:en)?|groetjes|bedankt|dank je|mvg|saluti"
    r"|cordiali saluti|un saluto|grazie|a presto|abraço|abraços|obrigad[oa]|atenciosamente"
    r"|cumprimentos|hälsningar|vänliga hälsningar|mvh|tack|kram|greetings|pozdrawiam|pozdrowienia)"
    r"(?:\s+(?:from|aus|de|desde|uit|da|från|z)(?:\s+[\w'.-]+){1,3})?"  # "Grüße aus München"
    r"(?:\s*,(?:\s+[\w'.-]+){1,3}|\s*[,.!]*)",  # "Best, Anna" but not "Thanks, we met on Tuesday."
    re.IGNORECASE,
)
_SIGNATURE_BLOCK_LINES = 4  # name, role, organisation, phone
_REPLY_PARSER_HEADER = ReplyParserMessage(
    text="", languages=list(_REPLY_PARSER_LANGUAGES), keep_hyphen_lists=True
).HEADER_REGEX
_REPLY_PARSER_MAX_LINES = 10_000
_REPLY_PARSER_MAX_LINE = 1_000


def extract_new_text(body: str) -> str:
    """The text a person newly wrote above (or between) the quoted history of `body`."""
    lines = _normalise(body).split("\n")
    start, end, kind = _history_marker(lines, 0)
    region = lines[:start]
    if not any(line.strip() and not _is_quoted(line) for line in region) and kind == "attribution":
        # Bottom-posted or interleaved: the answers follow the quoted lines.
        region = lines[end : _history_marker(lines, end)[0]]
    region = [line for line in region if not _is_quoted(line)]
    region = region[: _lines_before_reply_header(region)]
    region = _without_signature(region)
    return _tidy("\n".join(region))


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = text.replace("\u200b", "").replace("\ufeff", "")
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _history_marker(lines: list[str], begin: int) -> tuple[int, int, str | None]:
    """(first line, line after, kind) of the first unquoted start of history from `begin`."""
    for i in range(begin, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith(">"):
            continue
        if _SEPARATOR.match(stripped):
            return i, i + 1, "separator"
        if _FROM_FIELD.match(stripped) and _is_header_block(lines, i):
            start = i
            while start > begin and (
                not lines[start - 1].strip() or _RULE_LINE.fullmatch(lines[start - 1].strip())
            ):
                start -= 1
            return start, i + 1, "header"
        ends_with_colon = any(line.endswith(":") for line in lines[i : i + 3])
        span = _attribution_lines(lines, i) if ends_with_colon else 0
        if span:
            return i, i + span, "attribution"
    return len(lines), len(lines), None


def _is_header_block(lines: list[str], i: int) -> bool:
    """An Outlook-style "From: ... / Sent: ..." block starts at line i."""
    for line in lines[i + 1 : i + 5]:
        stripped = line.strip()
        if not stripped:
            return False
        if _SENT_FIELD.match(stripped):
            return True
    return False


def _attribution_lines(lines: list[str], i: int) -> int:
    """How many lines (1-3) an "On <date>, <someone> wrote:" starting at line i spans; 0 if none.

    Clients wrap long attribution lines, often inside the address ("<" / "hello@...>:").
    """
    for count in (1, 2, 3):
        chunk = [line.strip() for line in lines[i : i + count]]
        if len(chunk) < count or any(not line or line.startswith(">") for line in chunk):
            return 0
        if count > 1 and (chunk[-2].endswith((".", "!", "?")) or _is_attribution(chunk[-1])):
            return 0  # a sentence ends there, or the attribution starts on the next line
        if _is_attribution(" ".join(chunk)):
            return count
    return 0


def _is_attribution(text: str) -> bool:
    return (
        len(text) <= 400
        and _DIGIT.search(text) is not None
        and (_ATTRIBUTION.fullmatch(text) or _ATTRIBUTION_WITH_ADDRESS.fullmatch(text)) is not None
    )


def _lines_before_reply_header(lines: list[str]) -> int:
    """How many of `lines` precede the first quote header mail-parser-reply knows of.

    Its header patterns all start at a line start, so they are tried there only
    (searching everywhere costs ~0.2 ms a line), on the first lines only, and
    never on overlong lines, where their nested lazy groups backtrack quadratically.
    """
    candidates = [
        line.strip() if len(line) <= _REPLY_PARSER_MAX_LINE else ""
        for line in lines[:_REPLY_PARSER_MAX_LINES]
    ]
    text = "\n".join(candidates)
    position = 0
    for index, line in enumerate(candidates):
        if line and _REPLY_PARSER_HEADER.match(text, position):
            return index
        position += len(line) + 1
    return len(lines)


def _without_signature(lines: list[str]) -> list[str]:
    """Lines before a "-- " separator, a "Sent from my iPhone" line, or a closing and name."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "--" or _MOBILE_SIGNATURE.fullmatch(stripped):
            lines = lines[:i]
            break
    content = [i for i, line in enumerate(lines) if line.strip()]
    # A closing is followed by at most a short signature block, so only the last lines qualify.
    first_candidate = max(1, len(content) - _SIGNATURE_BLOCK_LINES - 1)
    for position in range(first_candidate, len(content)):
        after = [lines[j].strip() for j in content[position + 1 :]]
        if _CLOSING.fullmatch(lines[content[position]].strip()) and all(
            _is_signature_line(line) for line in after
        ):
            return lines[: content[position]]
    return lines


def _is_signature_line(line: str) -> bool:
    return len(line) <= 60 and len(line.split()) <= 6 and not line.endswith((".", "!", "?", ":"))


def _tidy(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
