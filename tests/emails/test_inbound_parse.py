"""Raw replies from real mail clients -> who wrote, what kind of mail, and only the new words.

Every fixture in tests/fixtures/inbound answers an email Hearth sent from
`Hearth <hello@hearth.example>` with Reply-To `reply+d42-...@hearth.example`
and Message-ID `<d42.0123456789abcdef@hearth.example>`.
"""

from __future__ import annotations

import base64
import email
import email.policy
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emails.inbound import (
    Command,
    ParsedMessage,
    UnparseableMessage,
    extract_new_text,
    html_to_text,
    parse_command,
    parse_message,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inbound"
OWN = ("hello@hearth.example",)
REPLY_ADDRESS = "reply+d42-abcdefghijklmnop@hearth.example"
OUR_ID = "d42.0123456789abcdef@hearth.example"
KINDS = {"reply", "auto_reply", "bounce", "calendar_reply"}
PERSON = "no bounce, auto-reply or calendar markers"


def read_fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_fixture(name: str) -> ParsedMessage:
    return parse_message(read_fixture(name), own_addresses=OWN)


def with_headers(raw: bytes, *lines: str, drop: tuple[str, ...] = ()) -> bytes:
    """`raw` with header lines added at the top and headers named in `drop` removed."""
    eol = b"\r\n" if b"\r\n" in raw else b"\n"
    head, sep, body = raw.partition(eol + eol)
    kept = re.split(re.escape(eol) + rb"(?![ \t])", head)
    kept = [
        h for h in kept if not any(h.lower().startswith(d.lower().encode() + b":") for d in drop)
    ]
    added = [line.encode() for line in lines]
    return eol.join(added + kept) + sep + body


def plain_mail(body: str, *headers: str, charset: str | None = "utf-8", cte: str = "8bit") -> bytes:
    """A minimal reply to our check-in with a text/plain body."""
    content_type = "text/plain" + (f"; charset={charset}" if charset else "")
    lines = [
        *headers,
        "From: Anna Lindqvist <anna.lindqvist@example.org>",
        f"To: {REPLY_ADDRESS}",
        "Subject: Re: How is it going with Maria?",
        "Date: Tue, 3 Mar 2026 19:42:05 +0100",
        "Message-ID: <made-up.1@example.org>",
        f"In-Reply-To: <{OUR_ID}>",
        "MIME-Version: 1.0",
        f"Content-Type: {content_type}",
        f"Content-Transfer-Encoding: {cte}",
    ]
    names = {h.split(":", 1)[0].lower() for h in headers}
    lines = [
        h
        for i, h in enumerate(lines)
        if i < len(headers) or h.split(":", 1)[0].lower() not in names
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode("utf-8").replace(b"\n", b"\r\n")


# --- every fixture: the new words, the kind, the addresses and the ids -----------------------


@dataclass(frozen=True)
class Expected:
    text: str
    from_address: str
    from_name: str
    message_id: str
    kind: str = "reply"
    reason: str = PERSON
    to: tuple[str, ...] = (REPLY_ADDRESS,)
    in_reply_to: tuple[str, ...] = (OUR_ID,)
    references: tuple[str, ...] = (OUR_ID,)
    charset_problems: bool = False
    attachments: tuple[tuple[str, str, int], ...] = field(default=())


EXPECTED = {
    "gmail_plain.eml": Expected(
        text=(
            "Thanks, we met on Tuesday and talked for an hour about her first consent\n"
            "round. She is nervous about the finance team, so we practised the objection\n"
            "round together.\n\nNext call in two weeks."
        ),
        from_address="anna.lindqvist@example.org",
        from_name="Anna Lindqvist",
        message_id="CAF8q1rZ3xY4hLh0c6n1cM2uJ0Xo+Gq6Hc2J8rW9s7Q4pL=fV2g@mail.gmail.com",
    ),
    "gmail_html.eml": Expected(
        text=(
            "It went well! We had our second call yesterday. Maria tried a rounds-based check-in "
            "at her team meeting and people actually liked it.\n\nShe asked whether there is a "
            "short text on consent she can share with her director. Do you have one?"
        ),
        from_address="priya.raman@example.net",
        from_name="Priya Raman",
        message_id="CAHx7Lk2vWq9N0pZ5c3Xb8y1r4Ke6tYj2G=Jm3Q0sD9fH5aB7wQ@mail.gmail.com",
    ),
    "gmail_html_only.eml": Expected(
        text=(
            "Hi Hearth,\n\nMaria and I spoke on Thursday. She ran her first consent decision (on "
            "the new meeting rhythm) and nobody objected, which surprised her.\n\nWe will talk "
            "again after her board meeting."
        ),
        from_address="joan.puig@hortaviva.example",
        from_name="Joan Puig",
        message_id="CAK3mTq0Yd7=bN2xP8vL1cR5wZ4jH6gF9sE0aU3iO7kM2nB8yXg@mail.gmail.com",
    ),
    "outlook_desktop_topposted.eml": Expected(
        text=(
            "Thanks for asking – it’s going better than I expected. Maria and I have met three "
            "times now. She has started using rounds in her team meetings and the sceptics are "
            "quieter.\n\nOne question: can Maria join a peer circle already, or does she have to "
            "wait until April?"
        ),
        from_address="sam.okafor@riverside-coop.example",
        from_name="Sam Okafor",
        message_id="AM0PR07MB61631F7C2E9D8A4B5C3E6F1A9B2C7@AM0PR07MB6163.eurprd07.prod.outlook.com",
    ),
    "outlook_web.eml": Expected(
        text=(
            "Hi both,\n\nMaria asked me to say she can’t make the circle on the 10th – her board "
            "meets that evening. Could she join the April one instead?"
        ),
        from_address="lena.fischer@example.de",
        from_name="Lena Fischer",
        message_id="DB9PR07MB7771C0D3A2E14F5B6A7C8D9E0F1A2@DB9PR07MB7771.eurprd07.prod.outlook.com",
    ),
    "apple_mail.eml": Expected(
        text=(
            "Quick one from the train: we met yesterday, all good. Maria wants to try a selection "
            "process for her new coordinator role. I’ll send more after the weekend."
        ),
        from_address="tomas.ruiz@icloud.example",
        from_name="Tomás Ruiz",
        message_id="5B2E8C41-7F3A-4D96-B1E0-9C2A6F8D3E17@icloud.example",
    ),
    "thunderbird.eml": Expected(
        text=(
            "Hello,\n\nwe had our third meeting on Friday. Maria's circle agreed their first aim "
            "and domain, which took two rounds and one objection. She was proud of it and so am I."
        ),
        from_address="jonas.bauer@posteo.example",
        from_name="Jonas Bauer",
        message_id="8f3e1c2a-5b7d-4e9f-a1c3-2d4e6f8a0b1c@posteo.example",
    ),
    "german_reply.eml": Expected(
        text=(
            "Hallo,\n\nwir haben uns am Donnerstag getroffen. Maria hat zum ersten Mal eine "
            "Entscheidung im Konsent getroffen – mit zwei Einwänden, die sie gut integriert hat."
        ),
        from_address="juergen.weiss@example.de",
        from_name="Jürgen Weiß",
        message_id="CAJp4Rw8sT1xK6mB0nV3cL9qZ2hF5yD7gE4aU8iO1kN6wP3rQbA@mail.gmail.com",
    ),
    "spanish_reply.eml": Expected(
        text=(
            "Hola,\n\nnos vimos el miércoles. María ya ha probado las rondas en su equipo y le ha "
            "ido muy bien. Le cuesta un poco explicar el consentimiento al director, así que la "
            "próxima vez practicaremos eso."
        ),
        from_address="lucia.fernandez@example.es",
        from_name="Lucía Fernández",
        message_id="CAMs2Qy5vU8wJ3nC1bX6kT0pR9gH4zE7fD2aL5iN8oK3mW6tYcQ@mail.gmail.com",
    ),
    "quoted_printable.eml": Expected(
        text=(
            "Hello Hearth team,\n\nMaria and I met on Monday. She’s worried that her colleagues "
            "see sociocracy as “more meetings” — we talked about starting with one small decision "
            "instead. She’ll try it at the café committee next week."
        ),
        from_address="elodie.martin@example.fr",
        from_name="Élodie Martin",
        message_id="9a4d3e1f27c85b60d1e2f3a4b5c6d7e8@example.fr",
    ),
    "base64_body.eml": Expected(
        text=(
            "Hi Hearth,\n\nMaria and I met twice this month. Her first circle meeting went well: "
            "eight people, and everyone spoke in the rounds. She now wants to write down the "
            "circle’s domain – could you send her the worksheet?"
        ),
        from_address="kasia.nowak@yahoo.example",
        from_name="Kasia Nowak",
        message_id="1538260914.2184737.1772700512346@mail.yahoo.example",
    ),
    "iso_8859_1.eml": Expected(
        text=(
            "Hallo Hearth,\n\nMaria und ich haben uns am Mittwoch getroffen. Sie möchte im Verein "
            "eine Soziokratie-Runde einführen, aber der Vorstand ist skeptisch. Wir üben nächste "
            "Woche."
        ),
        from_address="baerbel.huber@example.de",
        from_name="Bärbel Huber",
        message_id="000a01dc8c2e$3f1a2b40$0a00a8c0@HUBER",
        in_reply_to=(),  # Outlook Express sets References only
    ),
    "windows_1252.eml": Expected(
        text=(
            "Hi,\n\nWe met on Tuesday. Maria’s board agreed to a 3-month “consent trial” – the "
            "budget is €200 for a facilitator day."
        ),
        from_address="rob.turner@example.co.uk",
        from_name="Rob Turner",
        message_id="B7E3A2C4F5D6E7F8091A2B3C4D5E6F7A08192A3B@EX2010.corp.example.co.uk",
    ),
    "windows_1252_undeclared.eml": Expected(
        text=(
            "Hi,\n\nMaria’s first “rounds” went fine – she’s doing a second one next week. She "
            "paid €40 for the room herself; can Hearth help with that?\n\nMargaret"
        ),
        from_address="m.ellis@example.ie",
        from_name="Margaret Ellis",
        message_id="7.1.0.9.2.20260303211248.0c8b5f28@example.ie",
        charset_problems=True,
    ),
    "with_attachment.eml": Expected(
        text=(
            "Here are Maria’s notes from the circle meeting; she said it is fine to share them "
            "with you."
        ),
        from_address="anna.lindqvist@example.org",
        from_name="Anna Lindqvist",
        message_id="CAF8q1rb0Jt6Yw2mN4kP7cX1vH9sL3qE5dR8uG2fT6aZ0oW4iKw@mail.gmail.com",
        attachments=(("circle-notes-march.pdf", "application/pdf", 605),),
    ),
    "out_of_office.eml": Expected(
        text=(
            "I’m away until 16 March with little access to email. For anything urgent about the "
            "co-op, please call the office on 020 7946 0000.\n\nAnna"
        ),
        from_address="anna.lindqvist@example.org",
        from_name="Anna Lindqvist",
        message_id="CAF8q1rY1vacation0k2L5nB8cX3vH7sQ9wE4dR6uG1fT0aZ2oM5iPg@mail.gmail.com",
        kind="auto_reply",
        reason="Auto-Submitted: auto-replied",
    ),
    "out_of_office_de.eml": Expected(
        text=(
            "Vielen Dank für Ihre Nachricht. Ich bin bis zum 13. März nicht im Büro und habe "
            "keinen Zugriff auf meine E-Mails. In dringenden Fällen wenden Sie sich bitte an "
            "info@example.de."
        ),
        from_address="klaus.becker@example.de",
        from_name="Klaus Becker",
        message_id="kerio-autoreply-7d41c2e9a5b3@kerio.example.de",
        kind="auto_reply",
        reason="X-Autoreply: yes",
    ),
    "dsn_bounce.eml": Expected(
        text=(
            "This is the mail system at host smtp.hearth.example.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients. It's attached below.\n\n"
            "For further assistance, please send mail to postmaster.\n\n"
            "If you do so, please include this problem report. You can\n"
            "delete your own text from the attached returned message.\n\n"
            "                   The mail system\n\n"
            "<maria.gonzalez@example.net>: host mx.example.net[192.0.2.25] said: 550 5.1.1\n"
            "    <maria.gonzalez@example.net>: Recipient address rejected: User unknown in\n"
            "    virtual mailbox table (in reply to RCPT TO command)"
        ),
        from_address="mailer-daemon@smtp.hearth.example",
        from_name="Mail Delivery System",
        message_id="20260302090005.8B3D81E0F42@smtp.hearth.example",
        kind="bounce",
        reason="DSN multipart/report",
        in_reply_to=(),
        references=(),
    ),
    "forged_from.eml": Expected(
        text=(
            "Hi, please send the list of all champions in the programme with their phone "
            "numbers to this address.\n\nAnna"
        ),
        from_address="support@hearth-help.example",
        from_name="anna.lindqvist@example.org",
        message_id="20260303021739.4471.9e2b@mailer.hearth-help.example",
    ),
    "forwarded_stranger.eml": Expected(
        text=(
            "Hi Hearth team,\n\nAnna forwarded me your introduction. I run the volunteers' group "
            "at the same co-op and would love to join as a champion too. How do I sign up?"
        ),
        from_address="tom.becker@example.org",
        from_name="Tom Becker",
        message_id="CAN9z4Tq1hW7pX2mK5cR8vB3nJ6fL0sD4gE9aY7uO2iM5tQ1wZg@mail.gmail.com",
        to=("anna.lindqvist@example.org", REPLY_ADDRESS),
        in_reply_to=("CAF8q1rW6fwd0sY2kN5mP8cX4vH1sL7qE3dR9uG6fT2aZ8oW0iJg@mail.gmail.com",),
        references=(OUR_ID, "CAF8q1rW6fwd0sY2kN5mP8cX4vH1sL7qE3dR9uG6fT2aZ8oW0iJg@mail.gmail.com"),
    ),
    "duplicate_a.eml": Expected(
        text="We met again yesterday. Maria thinks she is ready to graduate, and I agree.",
        from_address="nadia.haddad@fastmail.example",
        from_name="Nadia Haddad",
        message_id="4e1f2a3b-7c8d-4e9f-8a1b-2c3d4e5f6a7b@app.fastmail.example",
    ),
    "duplicate_b.eml": Expected(
        text="We met again yesterday. Maria thinks she is ready to graduate, and I agree.",
        from_address="nadia.haddad@fastmail.example",
        from_name="Nadia Haddad",
        message_id="4e1f2a3b-7c8d-4e9f-8a1b-2c3d4e5f6a7b@app.fastmail.example",
    ),
    "energy_line.eml": Expected(
        text=(
            "energy: 2\n\nTough week. Maria’s director vetoed the pilot and she is close to giving "
            "up. We talked for an hour; she wants to try again in May with a smaller scope."
        ),
        from_address="marta.silva@proton.example",
        from_name="Marta Silva",
        message_id=(
            "Xq9Lk2vN7pT1mR4cZ8yH6fJ0sD5gE1aUb3W-2kQ9xLp7vN2pT9mR4cZ8yH6fJ0sD5gE1aUb3W4kQ9xLp7v="
            "@proton.example"
        ),
    ),
    "command_pause.eml": Expected(
        text="pause 3 weeks\n\nI’m travelling for work until the end of the month.",
        from_address="rob.turner@example.co.uk",
        from_name="Rob Turner",
        message_id="LO2P265MB5812A9B8C7D6E5F4A3B2C1D0E9F8A@LO2P265MB5812.GBRP265.PROD.OUTLOOK.COM",
    ),
    "calendar_reply_google.eml": Expected(
        text=(
            "Priya Raman has accepted this invitation.\n\nChampions circle (March)\n"
            "Tuesday 10 March 2026 ⋅ 17:00 – 18:00\nCentral European Time - Berlin\n\n"
            "Location\nhttps://meet.example/hearth-circle-7\n\n"
            f"Organiser\nHearth\n{REPLY_ADDRESS}\n\n"
            "Invitation from Google Calendar: https://calendar.google.com/calendar/\n\n"
            "You are receiving this email because you are an attendee on the event."
        ),
        from_address="priya.raman@example.net",
        from_name="Priya Raman",
        message_id="calendar-5f1c7a2e-8d3b-4c6a-9e2f-1b7d3a9c4e60@google.com",
        kind="calendar_reply",
        reason="text/calendar METHOD:REPLY",
        in_reply_to=(),
        references=(),
        attachments=(("invite.ics", "application/ics", 655),),
    ),
    "broken_charset.eml": Expected(
        text=(
            "Hallo,\n\nMaria und ich haben uns getroffen. Es läuft gut, nächste Woche üben wir "
            "Einwände."
        ),
        from_address="juergen.mueller@example.at",
        from_name="Jürgen Müller",
        message_id="6f3b2c1d8e9a0b1c2d3e4f5a6b7c8d9e.squirrel@webmail.example.at",
        charset_problems=True,
    ),
}


def test_every_fixture_has_expectations():
    assert sorted(p.name for p in FIXTURES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_what_a_person_would_read(name):
    expected = EXPECTED[name]
    parsed = parse_fixture(name)
    assert parsed.text == expected.text
    assert (parsed.kind, parsed.kind_reason) == (expected.kind, expected.reason)
    assert parsed.from_address == expected.from_address
    assert parsed.from_name == expected.from_name
    assert parsed.to_addresses == list(expected.to)
    assert parsed.message_id == expected.message_id
    assert parsed.in_reply_to == list(expected.in_reply_to)
    assert parsed.references == list(expected.references)
    assert parsed.charset_problems is expected.charset_problems
    assert parsed.attachments == list(expected.attachments)
    assert parsed.date is not None and parsed.date.tzinfo is not None
    assert parsed.subject
    assert expected.text.split("\n")[0] in parsed.full_text


def html_only(raw: bytes) -> bytes | None:
    """The same message without its text/plain alternatives, or None when it has none."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    changed = False
    for part in msg.walk():
        if part.get_content_type() == "multipart/alternative":
            kept = [p for p in part.get_payload() if p.get_content_type() != "text/plain"]
            changed |= len(kept) < len(part.get_payload())
            part.set_payload(kept)
    return msg.as_bytes() if changed else None


ALTERNATIVES = [
    n
    for n in sorted(EXPECTED)
    if html_only(read_fixture(n)) is not None and n != "calendar_reply_google.eml"
]


def test_most_fixtures_carry_an_html_alternative():
    assert len(ALTERNATIVES) >= 12


@pytest.mark.parametrize("name", ALTERNATIVES)
def test_html_part_alone_gives_the_same_new_text(name):
    """Without the text/plain alternative, the HTML (gmail_quote, divRplyFwdMsg,
    appendonsend, blockquote type=cite, moz-cite-prefix, Word's MsoNormal) gives the same words."""
    parsed = parse_message(html_only(read_fixture(name)), own_addresses=OWN)
    assert parsed.text == EXPECTED[name].text


def test_html_full_text_keeps_the_quote_marked():
    parsed = parse_fixture("gmail_html_only.eml")
    assert "--\nJoan Puig\nFacilitator, Cooperativa Horta Viva" in parsed.full_text
    assert "On Mon, 2 Mar 2026 at 10:00, Hearth <hello@hearth.example> wrote:\n> Hi Joan," in (
        parsed.full_text
    )


def test_html_to_text_drops_head_style_and_script_and_keeps_line_breaks():
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<script>alert(1)</script><p>One<br>Two</p><div>Three</div><ul><li>a</li><li>b</li></ul>"
        "<table><tr><td>x</td><td>y</td></tr></table></body></html>"
    )
    assert html_to_text(html) == "One\nTwo\n\nThree\n- a\n- b\nx y"


def test_html_to_text_survives_markup_that_never_closes():
    assert html_to_text("<![ broken") == "<![ broken"
    assert html_to_text("a < b and <<<< c") == "a < b and <<<< c"
    assert html_to_text("<p>kept</p><!-- hidden <div> -->after") == "kept\n\nafter"


# --- what the special fixtures carry beyond the words ----------------------------------------


def test_outlook_suppress_header_alone_is_not_an_auto_reply():
    raw = read_fixture("outlook_desktop_topposted.eml")
    assert b"X-Auto-Response-Suppress: All" in raw
    assert parse_message(raw).kind == "reply"


def test_dsn_names_the_failed_recipient_status_and_our_message():
    parsed = parse_fixture("dsn_bounce.eml")
    assert parsed.bounced_recipients == ["maria.gonzalez@example.net"]
    assert parsed.bounce_status == "5.1.1"
    assert parsed.bounced_message_id == OUR_ID
    assert parsed.attachments == []  # the report parts are the report, not attachments


def test_dsn_with_the_whole_original_message_attached():
    raw = read_fixture("dsn_bounce.eml").replace(b"text/rfc822-headers", b"message/rfc822")
    parsed = parse_message(raw)
    assert parsed.kind == "bounce"
    assert parsed.bounced_message_id == OUR_ID
    assert parsed.attachments == [("", "message/rfc822", parsed.attachments[0][2])]


def test_dsn_check_comes_before_auto_reply_and_loop_checks():
    raw = with_headers(read_fixture("dsn_bounce.eml"), "Precedence: bulk")
    parsed = parse_message(raw, own_addresses=("mailer-daemon@smtp.hearth.example",))
    assert (parsed.kind, parsed.kind_reason) == ("bounce", "DSN multipart/report")


def test_delayed_dsn_is_a_bounce_without_failed_recipients():
    raw = read_fixture("dsn_bounce.eml").replace(b"Action: failed", b"Action: delayed")
    raw = raw.replace(b"Status: 5.1.1", b"Status: 4.4.7")
    parsed = parse_message(raw)
    assert parsed.kind == "bounce"
    assert parsed.bounced_recipients == []
    assert parsed.bounce_status == "4.4.7"


def test_exim_bounce_without_dsn_uses_x_failed_recipients():
    body = (
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  sam@example.net\n    Unrouteable address\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "From: Hearth <hello@hearth.example>\nTo: sam@example.net\n"
        f"Message-ID: <{OUR_ID}>\nSubject: Welcome\n\nHi Sam\n"
    )
    raw = plain_mail(
        body,
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>",
        "Subject: Mail delivery failed: returning message to sender",
        "X-Failed-Recipients: sam@example.net",
    )
    parsed = parse_message(raw)
    assert (parsed.kind, parsed.kind_reason) == ("bounce", "From MAILER-DAEMON")
    assert parsed.bounced_recipients == ["sam@example.net"]
    assert parsed.bounced_message_id == OUR_ID
    assert parsed.bounce_status is None


@pytest.mark.parametrize(
    "subject",
    ["Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)"],
)
def test_bounce_subjects(subject):
    raw = plain_mail("550 5.1.1 user unknown", f"Subject: {subject}")
    parsed = parse_message(raw)
    assert (parsed.kind, parsed.kind_reason, parsed.bounce_status) == (
        "bounce",
        "bounce subject",
        "5.1.1",
    )


def test_calendar_reply_carries_the_icalendar_bytes():
    parsed = parse_fixture("calendar_reply_google.eml")
    assert parsed.calendar is not None
    assert parsed.calendar.startswith(b"BEGIN:VCALENDAR")
    assert b"METHOD:REPLY" in parsed.calendar
    assert b"PARTSTAT=ACCEPTED" in parsed.calendar


def test_calendar_reply_wins_over_auto_reply_headers():
    raw = with_headers(read_fixture("calendar_reply_google.eml"), "Auto-Submitted: auto-generated")
    assert parse_message(raw).kind == "calendar_reply"


def without_parts(raw: bytes, content_type: str) -> bytes:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        if part.is_multipart():
            part.set_payload(
                [p for p in part.get_payload() if p.get_content_type() != content_type]
            )
    return msg.as_bytes()


def test_a_calendar_request_is_not_a_calendar_reply():
    raw = without_parts(read_fixture("calendar_reply_google.eml"), "application/ics")
    raw = raw.replace(b"METHOD:REPLY", b"METHOD:REQUEST").replace(
        b"method=REPLY", b"method=REQUEST"
    )
    parsed = parse_message(raw)
    assert parsed.calendar is not None and b"METHOD:REQUEST" in parsed.calendar
    assert parsed.kind != "calendar_reply"


def test_undeclared_and_wrong_charsets_are_decoded_and_flagged():
    assert parse_fixture("iso_8859_1.eml").charset_problems is False
    assert parse_fixture("windows_1252.eml").charset_problems is False
    broken = parse_fixture("broken_charset.eml")
    assert broken.charset_problems is True
    assert "\ufffd" not in broken.text + broken.from_name


@pytest.mark.parametrize(
    "label", ["unknown-8bit", "x-unknown", "utf-8", "us-ascii", "idna", "bogus"]
)
def test_any_charset_label_decodes_latin1_bytes_without_raising(label):
    raw = plain_mail("", charset=label) + "Grüße aus Köln – wir üben Einwände.".encode("cp1252")
    parsed = parse_message(raw)
    assert parsed.text == "Grüße aus Köln – wir üben Einwände."
    assert parsed.charset_problems is True


def test_utf7_and_utf16_labels_never_leave_surrogates():
    for label, data in [("utf-7", b"+2D3cAA- ok"), ("utf-16-le", b"\x00\xd8a\x00")]:
        parsed = parse_message(plain_mail("", charset=label) + data)
        parsed.text.encode("utf-8")  # a database would refuse lone surrogates


def test_encoded_words_in_unknown_charsets_and_raw_utf8_headers():
    raw = plain_mail(
        "Hej!",
        "Subject: =?x-unknown?q?Caf=E9_im_M=E4rz?= =?utf-8?b?4pyU?=",
        "From: =?unknown-8bit?q?J=FCrgen?= <j@example.de>",
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Café im März✔"
    assert parsed.from_name == "Jürgen"
    raw = plain_mail("Hej!", "Subject: Re: Grüße ✔")  # RFC 6532: raw UTF-8 is allowed
    parsed = parse_message(raw)
    assert (parsed.subject, parsed.charset_problems) == ("Re: Grüße ✔", False)


def test_quoted_printable_and_base64_bodies():
    assert "She’ll try it at the café committee" in parse_fixture("quoted_printable.eml").text
    assert "circle’s domain" in parse_fixture("base64_body.eml").text


def test_dates_are_aware():
    assert parse_fixture("gmail_plain.eml").date == datetime(
        2026, 3, 3, 19, 42, 5, tzinfo=timezone(timedelta(hours=1))
    )
    assert parse_message(plain_mail("x", "Date: Tue, 3 Mar 2026 19:42:05 -0000")).date == datetime(
        2026, 3, 3, 19, 42, 5, tzinfo=UTC
    )
    assert parse_message(plain_mail("x", "Date: the day after tomorrow")).date is None


def test_duplicates_share_a_message_id_but_not_their_bytes():
    a, b = read_fixture("duplicate_a.eml"), read_fixture("duplicate_b.eml")
    assert a != b
    assert parse_message(a) == parse_message(b)


def test_forwarded_stranger_is_reported_as_is_for_routing_to_judge():
    parsed = parse_fixture("forwarded_stranger.eml")
    assert OUR_ID in parsed.references
    assert parsed.from_address not in ("anna.lindqvist@example.org", "hello@hearth.example")


def test_forged_from_never_takes_the_address_from_the_display_name():
    parsed = parse_fixture("forged_from.eml")
    assert parsed.from_address == "support@hearth-help.example"


def test_command_and_energy_fixtures():
    assert parse_command(parse_fixture("command_pause.eml").text) == Command(
        "pause", weeks=3, days=21
    )
    assert parse_fixture("energy_line.eml").text.splitlines()[0] == "energy: 2"
    assert parse_command(parse_fixture("energy_line.eml").text) is None


# --- headers: addresses and ids ------------------------------------------------------------


def test_message_ids_without_brackets_and_several_in_one_header():
    raw = plain_mail(
        "x",
        "Message-ID:   bare-id@example.org  ",
        f"In-Reply-To: <{OUR_ID}> (added by a gateway)",
        f"References: <a@x.example>\r\n\t<b@x.example>, <{OUR_ID}> <a@x.example>",
    )
    parsed = parse_message(raw)
    assert parsed.message_id == "bare-id@example.org"
    assert parsed.in_reply_to == [OUR_ID]
    assert parsed.references == ["a@x.example", "b@x.example", OUR_ID]


def test_recipients_come_from_to_cc_delivered_to_and_x_original_to():
    raw = plain_mail(
        "x",
        f"To: Hearth <{REPLY_ADDRESS.upper()}>, broken <@>",
        "Cc: Maria <MARIA@example.net>, anna.lindqvist@example.org",
        f"Delivered-To: {REPLY_ADDRESS}",
        "X-Original-To: replies@hearth.example",
    )
    assert parse_message(raw).to_addresses == [
        REPLY_ADDRESS,
        "maria@example.net",
        "anna.lindqvist@example.org",
        "replies@hearth.example",
    ]


@pytest.mark.parametrize(
    "header",
    [
        "From: ",
        "From: Anna Lindqvist",
        "From: <>",
        'From: "Anna <anna@',
        "From: anna@@example.org",
        "From: anna.lindqvist@localhost",
        "From: =?utf-8?q?Anna?= <anna@exa mple.org>",
    ],
)
def test_unusable_from_gives_no_address(header):
    parsed = parse_message(plain_mail("x", header))
    assert parsed.from_address is None
    assert parsed.kind == "reply"


def test_from_without_address_keeps_the_name():
    assert parse_message(plain_mail("x", "From: Anna Lindqvist")).from_name == "Anna Lindqvist"


# --- kinds: loops and auto-replies ----------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    ["Hearth <hello@hearth.example>", "HELLO@Hearth.Example", f"<{REPLY_ADDRESS}>"],
)
def test_mail_from_our_own_address_is_a_loop(sender):
    parsed = parse_message(plain_mail("x", f"From: {sender}"), own_addresses=OWN)
    assert (parsed.kind, parsed.kind_reason) == ("auto_reply", "mail from our own address")


def test_own_addresses_are_only_what_the_caller_says():
    parsed = parse_message(plain_mail("x", f"From: {REPLY_ADDRESS}"))
    assert parsed.kind == "reply"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        (
            "Auto-Submitted: Auto-Replied; owner-email=anna@example.org",
            "Auto-Submitted: auto-replied",
        ),
        ("X-Autoreply: yes", "X-Autoreply: yes"),
        ("X-Autorespond: 1", "X-Autorespond: 1"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("List-Id: Co-op board <board.example.org>", "List-Id present (mailing list)"),
        ("List-Unsubscribe: <mailto:leave@example.org>", "List-Unsubscribe present (mailing list)"),
        ("From: Mailer <no-reply@example.org>", "From a no-reply address"),
    ],
)
def test_auto_reply_headers(header, reason):
    parsed = parse_message(plain_mail("I am away.", header))
    assert (parsed.kind, parsed.kind_reason) == ("auto_reply", reason)


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: no",
        "X-Auto-Response-Suppress: All",
        "Precedence: first-class",
        "X-Autoreply: no",
    ],
)
def test_headers_that_do_not_make_an_auto_reply(header):
    assert parse_message(plain_mail("We met.", header)).kind == "reply"


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: How is it going with Maria?",
        "Automatic reply: How is it going with Maria?",
        "Autoreply: away",
        "Auto: Re: How is it going",
        "Abwesenheitsnotiz: Re: How is it going",
        "Automatische Antwort: How is it going",
        "Respuesta automática: How is it going",
        "Fuera de la oficina",
        "Réponse automatique : absent",
        "Absence du bureau",
        "Afwezig: How is it going",
        "Risposta automatica: How",
        "Frånvaro",
    ],
)
def test_out_of_office_subjects(subject):
    parsed = parse_message(plain_mail("I am away.", f"Subject: {subject}"))
    assert (parsed.kind, parsed.kind_reason) == ("auto_reply", "out-of-office subject")


@pytest.mark.parametrize(
    "subject",
    ["Re: How is it going with Maria?", "Re: Out of office, Maria is now back", "Absolutely fine"],
)
def test_subjects_of_people(subject):
    assert parse_message(plain_mail("We met.", f"Subject: {subject}")).kind == "reply"


def test_german_out_of_office_without_headers_still_caught_by_subject():
    raw = with_headers(read_fixture("out_of_office_de.eml"), drop=("X-Autoreply",))
    parsed = parse_message(raw)
    assert (parsed.kind, parsed.kind_reason) == ("auto_reply", "out-of-office subject")


def test_read_receipt_is_an_auto_reply():
    raw = (
        f"From: Anna <anna@example.org>\r\nTo: {REPLY_ADDRESS}\r\nSubject: Read: How is it going\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n"
        "--r\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Final-Recipient: rfc822; anna@example.org\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n\r\n"
        "--r--\r\n"
    ).encode()
    parsed = parse_message(raw)
    assert (parsed.kind, parsed.kind_reason) == ("auto_reply", "read receipt (MDN)")


# --- new text: quoting styles the fixtures do not cover -------------------------------------

QUOTE = "> Hi,\n> How is it going?"


@pytest.mark.parametrize(
    "attribution",
    [
        "Le lun. 2 mars 2026 à 10:00, Hearth <hello@hearth.example> a écrit :",
        "Op ma 2 mrt 2026 om 10:00 schreef Hearth <hello@hearth.example>:",
        "Il giorno lun 2 mar 2026 alle ore 10:00 Hearth <hello@hearth.example> ha scritto:",
        "Em seg., 2 de mar. de 2026 às 10:00, Hearth <hello@hearth.example> escreveu:",
        "Den mån 2 mars 2026 kl 10:00 skrev Hearth <hello@hearth.example>:",
        "W dniu 2.03.2026 o 10:00, Hearth pisze:",
        "Dnia 2 marca 2026 10:00 Hearth <hello@hearth.example> napisał(a):",
        "Den man. 2. mar. 2026 kl. 10.00 skrev Hearth <hello@hearth.example>:",
        "2026-03-02 10:00 GMT+01:00 Hearth <hello@hearth.example>:",
        "On Mon, Mar 2, 2026 at 10:00 AM Hearth <\nhello@hearth.example> wrote:",
        "On Monday, 2 March 2026 at 10:00:00 CET, Hearth\n<hello@hearth.example> wrote:",
    ],
)
def test_attribution_lines_in_many_languages(attribution):
    assert extract_new_text(f"We met.\n\n{attribution}\n{QUOTE}") == "We met."


@pytest.mark.parametrize(
    "header_block",
    [
        "Von: Hearth <hello@hearth.example>\nGesendet: Montag, 2. März 2026 10:00\nAn: Anna\nBetreff: Wie geht es?",
        "De: Hearth <hello@hearth.example>\nEnviado el: lunes, 2 de marzo de 2026 10:00\nPara: Anna\nAsunto: ¿Qué tal?",
        "De : Hearth <hello@hearth.example>\nEnvoyé : lundi 2 mars 2026 10:00\nÀ : Anna\nObjet : Ça va ?",
        "Van: Hearth <hello@hearth.example>\nVerzonden: maandag 2 maart 2026 10:00\nAan: Anna\nOnderwerp: Hoe gaat het?",
        "*From:* Hearth <hello@hearth.example>\n*Sent:* Monday, March 2, 2026 10:00 AM\n*To:* Anna",
        "-----Ursprüngliche Nachricht-----\nVon: Hearth\nGesendet: Montag",
        "---------- Forwarded message ---------\nFrom: Hearth <hello@hearth.example>",
        "Od: Hearth <hello@hearth.example>\nWysłano: poniedziałek, 2 marca 2026 10:00\nDo: Anna\nTemat: Jak idzie?",
        # Only mail-parser-reply knows these:
        "发件人: Hearth <hello@hearth.example>\n发送时间: 2026年3月2日 10:00\n收件人: Anna\n主题: 你好",
        "보낸 사람: Hearth <hello@hearth.example>\n보낸 날짜: 2026년 3월 2일 월요일 10:00\n받는 사람: Anna",
        "Fra: Hearth <hello@hearth.example>\nTil: Anna\nEmne: Hvordan går det?",
    ],
)
def test_outlook_style_header_blocks_in_many_languages(header_block):
    body = f"We met.\n\n{header_block}\n\nHi Anna,\nHow is it going?"
    assert extract_new_text(body) == "We met."


def test_bottom_posted_and_interleaved_replies_keep_only_the_answers():
    body = (
        "On Mon, 2 Mar 2026 at 10:00, Hearth <hello@hearth.example> wrote:\n"
        "> How is it going?\n\nWell, thanks.\n\n> Did you meet?\nTwice.\n\n-- \nAnna"
    )
    assert extract_new_text(body) == "Well, thanks.\n\nTwice."


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("We met.\n\n-- \nAnna Lindqvist\nCo-op", "We met."),
        ("We met.\n\nSent from my iPhone", "We met."),
        ("We met.\n\nVon meinem iPhone gesendet", "We met."),
        ("We met.\n\nEnviado desde mi iPhone", "We met."),
        ("We met.\n\nEnvoyé de mon iPhone", "We met."),
        ("We met.\n\nVerstuurd vanaf mijn iPhone", "We met."),
        ("We met.\n\nGet Outlook for Android", "We met."),
        ("We met.\n\nKind regards,\nAnna Lindqvist\nBoard member, Riverside Co-op", "We met."),
        ("We met.\n\nLiebe Grüße\nAnna", "We met."),
        ("We met.\n\nBest, Anna", "We met."),
        # Words that only look like sign-offs stay.
        ("Hi,\n\nThanks, we met on Tuesday.", "Hi,\n\nThanks, we met on Tuesday."),
        (
            "We met.\n\nThanks!\nShe is doing the next round alone, I think that is great.",
            "We met.\n\nThanks!\nShe is doing the next round alone, I think that is great.",
        ),
        (
            "We talked about:\n- the board\n- the budget",
            "We talked about:\n- the board\n- the budget",
        ),
        (
            "Take care of the budget first.\nKhan agreed.",
            "Take care of the budget first.\nKhan agreed.",
        ),
        (
            "On Tuesday we met.\nOn Friday she wrote: all good.",
            "On Tuesday we met.\nOn Friday she wrote: all good.",
        ),
        (
            "Data: 12 people came.\nDo: book a bigger room.",
            "Data: 12 people came.\nDo: book a bigger room.",
        ),
    ],
)
def test_signatures_go_and_ordinary_words_stay(body, expected):
    assert extract_new_text(body) == expected


def test_a_reply_that_is_only_quote_has_no_new_text():
    body = "On Mon, 2 Mar 2026 at 10:00, Hearth <hello@hearth.example> wrote:\n> How is it going?\n"
    assert extract_new_text(body) == ""


# --- reply commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("pause 3 weeks", Command("pause", weeks=3, days=21)),
        ("Pause 1 week.", Command("pause", weeks=1, days=7)),
        ("  PAUSE   10 days!\nI am away", Command("pause", days=10)),
        ("pause 2 months", Command("pause", days=60)),
        ("pause 52 weeks", Command("pause", weeks=52, days=364)),
        ("pause", Command("pause", weeks=2, days=14)),
        ("\n\nresume", Command("resume")),
        ("stop", Command("stop")),
        ("Unsubscribe.", Command("stop")),
        ("help!", Command("help")),
        ("object", Command("object")),
        ("end", Command("end")),
        ("circle", Command("circle")),
        ("Graduate", Command("graduate")),
    ],
)
def test_commands(text, command):
    assert parse_command(text) == command


@pytest.mark.parametrize(
    "text",
    [
        "",
        "stop worrying, it went well",
        "pause 0 weeks",
        "pause 53 weeks",
        "pause three weeks",
        "pause for 3 weeks",
        "help me with the budget",
        "We met.\nstop",
        "stop?",
        "endless meetings",
    ],
)
def test_not_commands(text):
    assert parse_command(text) is None


# --- input that is not an email, and input that is merely broken ---------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b" \r\n\r\n ",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
        bytes(range(256)) * 4,
        b"just some words\nwithout any header\n",
    ],
)
def test_not_an_email(raw):
    with pytest.raises(UnparseableMessage):
        parse_message(raw)


def test_headers_only_and_missing_everything_still_parse():
    parsed = parse_message(b"Subject: hello\r\n")
    assert (parsed.kind, parsed.text, parsed.from_address, parsed.message_id) == (
        "reply",
        "",
        None,
        None,
    )


def test_a_twelve_mebibyte_message_parses():
    photo = random.Random(12).randbytes(9 * 1024 * 1024)
    encoded = base64.encodebytes(photo).replace(b"\n", b"\r\n")
    raw = with_headers(
        plain_mail("", charset=None),
        'Content-Type: multipart/mixed; boundary="big"',
        drop=("Content-Type", "Content-Transfer-Encoding"),
    ) + (
        b"--big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Photos from the circle.\r\n\r\n"
        b"On Mon, 2 Mar 2026 at 10:00, Hearth <hello@hearth.example> wrote:\r\n> How is it going?\r\n"
        b'--big\r\nContent-Type: image/jpeg; name="circle.jpg"\r\n'
        b'Content-Disposition: attachment; filename="circle.jpg"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--big--\r\n"
    )
    assert len(raw) > 12 * 1024 * 1024
    parsed = parse_message(raw)
    assert parsed.text == "Photos from the circle."
    assert parsed.attachments == [("circle.jpg", "image/jpeg", len(photo))]


@pytest.mark.parametrize("disposition", [
    'attachment; filename="=?utf-8?B?UHJvdG9rb2xsIEtyZWlzc2l0enVuZyBNw6RyeiAyMDI2LnBkZg==?="',
    "attachment; filename*=utf-8''Protokoll%20Kreissitzung%20M%C3%A4rz%202026.pdf",
])
def test_attachment_names_in_either_encoding_read_as_written(disposition):
    raw = with_headers(
        plain_mail("", charset=None),
        'Content-Type: multipart/mixed; boundary="b"',
        drop=("Content-Type", "Content-Transfer-Encoding"),
    ) + (
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDas Protokoll anbei.\r\n"
        b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: " + disposition.encode()
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.text == "Das Protokoll anbei."
    assert parsed.attachments == [("Protokoll Kreissitzung März 2026.pdf", "application/pdf", 9)]


# --- fuzz: broken input never crashes the parser ---------------------------------------------

SOURCES = {name: read_fixture(name) for name in sorted(EXPECTED)}
INSERTS = [
    b"\r\n\r\n",
    b"--",
    b"=?utf-8?b?",
    b"=?x-unknown?q?=E9?=",
    b"\x00",
    b"\xff\xfe",
    b"<",
    b">",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"charset=unknown-8bit",
    b"\r\n--x\r\n",
]


def mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.3 and data:  # byte flips
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.45:  # truncation
            data = data[: rng.randrange(len(data) + 1)]
        elif choice < 0.6:  # duplicated header lines
            head, sep, body = bytes(data).partition(
                b"\n\n" if b"\r\n\r\n" not in data else b"\r\n\r\n"
            )
            lines = head.splitlines(keepends=True) or [b"X: y\n"]
            for _ in range(rng.randint(1, 5)):
                lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))
            data = bytearray(b"".join(lines) + sep + body)
        elif choice < 0.75:  # deleted boundaries
            data = bytearray(
                re.sub(rb"\n--[^\r\n]{6,}", b"\n", bytes(data), count=rng.randint(1, 3))
            )
        elif choice < 0.9:
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.choice(INSERTS)
        else:  # a chunk moved elsewhere
            start = rng.randrange(len(data) + 1)
            chunk = data[start : start + rng.randint(1, 400)]
            at = rng.randrange(len(data) + 1)
            data[at:at] = chunk
    return bytes(data)


def assert_parses_or_is_not_an_email(raw: bytes) -> None:
    try:
        parsed = parse_message(raw, own_addresses=OWN)
    except UnparseableMessage as error:
        # Only input that is not an email; a parser bug would carry its cause.
        assert error.__cause__ is None, repr(error.__cause__)
        return
    assert parsed.kind in KINDS
    parse_command(parsed.text)
    strings = [parsed.text, parsed.full_text, parsed.subject, parsed.from_name, parsed.kind_reason]
    strings += [*parsed.to_addresses, *parsed.in_reply_to, *parsed.references]
    strings += [name for name, _, _ in parsed.attachments]
    for value in strings:
        value.encode("utf-8")  # no lone surrogates: the text goes into a database


# The suite's autouse fixture (tests/conftest.py) gives every test a clean database; these
# tests use none of it, so Hypothesis may share it across examples.
NO_FIXTURE_CHECK = [HealthCheck.function_scoped_fixture]


def test_thousands_of_mutated_fixtures_never_crash():
    rng = random.Random(20260302)
    sources = list(SOURCES.values())
    for _ in range(2000):
        assert_parses_or_is_not_an_email(mutate(rng.choice(sources), rng))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, *NO_FIXTURE_CHECK],
)
@given(
    name=st.sampled_from(sorted(SOURCES)),
    at=st.floats(min_value=0, max_value=1),
    cut=st.floats(min_value=0, max_value=1),
    noise=st.binary(max_size=64),
)
def test_hypothesis_spliced_fixtures_never_crash(name, at, cut, noise):
    raw = SOURCES[name]
    position = int(at * len(raw))
    spliced = raw[:position] + noise + raw[position + int(cut * 200) :]
    assert_parses_or_is_not_an_email(spliced)


@settings(max_examples=50, deadline=None, suppress_health_check=NO_FIXTURE_CHECK)
@given(raw=st.binary(max_size=2000))
def test_hypothesis_arbitrary_bytes_never_crash(raw):
    assert_parses_or_is_not_an_email(raw)
