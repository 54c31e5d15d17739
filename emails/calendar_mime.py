"""How an iCalendar object rides in an email.

The shape Google Calendar sends, which Gmail, Outlook and Apple Mail all read
as a meeting:

    multipart/mixed
      multipart/alternative
        text/plain
        text/html
        text/calendar; charset="utf-8"; method=REQUEST   (inline, no disposition)
      application/ics; name="invite.ics"                 (attachment)

RFC 6047 (iMIP) 2.4: the `method` parameter must equal the METHOD inside.
Flask-Mail cannot put `method=` on an alternative part, hence the stdlib.
"""

from __future__ import annotations

import re
from email.message import EmailMessage, MIMEPart

_METHOD = re.compile(rb"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)
_MAX_7BIT_LINE = 998  # RFC 5322 2.1.1, octets without CRLF


def attach_calendar(msg: EmailMessage, ics: bytes, *, method: str) -> None:
    """Turn a text+HTML multipart/alternative `msg` into an iMIP message, in place.

    Every header of `msg` is kept. The inline part goes 7bit when the calendar is
    ASCII, otherwise base64 (as Outlook sends it): both carry the folded lines and
    their CRLFs unchanged. The attachment is base64.
    """
    if msg.get_content_type() != "multipart/alternative":
        raise ValueError(
            f"attach_calendar needs a multipart/alternative message, not {msg.get_content_type()}"
        )
    method = method.upper()
    inside = _METHOD.search(ics)
    if inside is None:
        raise ValueError("the calendar has no METHOD line: it is not an iTIP message")
    if inside.group(1).decode("ascii").upper() != method:
        raise ValueError(
            f"method={method} but the calendar says METHOD:{inside.group(1).decode('ascii')}"
        )

    msg.attach(_inline_part(msg, ics, method))
    msg.make_mixed()  # moves Content-Type & co. into a new first part, keeps the rest

    filename = "cancel.ics" if method == "CANCEL" else "invite.ics"
    attachment = MIMEPart(policy=msg.policy)
    attachment.set_content(
        ics,
        maintype="application",
        subtype="ics",
        cte="base64",
        disposition="attachment",
        filename=filename,
        params={"name": filename},
    )
    msg.attach(attachment)


def _inline_part(msg: EmailMessage, ics: bytes, method: str) -> MIMEPart:
    part = MIMEPart(policy=msg.policy)
    if ics.isascii() and all(len(line) <= _MAX_7BIT_LINE for line in ics.splitlines()):
        part.set_content(ics.decode("ascii"), subtype="calendar", charset="utf-8", cte="7bit")
    else:
        part.set_content(ics, maintype="text", subtype="calendar", cte="base64")
    # Stored raw: the policy would write method="REQUEST"; Google and Outlook send it bare.
    del part["Content-Type"]
    part.set_raw("Content-Type", f'text/calendar; charset="utf-8"; method={method}')
    return part
