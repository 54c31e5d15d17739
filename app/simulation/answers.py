"""What simulated people send back besides words: calendar answers to a
circle's invitation (an iTIP REPLY, as Google, Outlook and Apple send one) and
the graduation survey filled in on its page. Pure helpers: bytes and values
in, bytes and values out."""

from __future__ import annotations

import random
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from icalendar import Calendar, Event, vCalAddress

from emails import surveys as definitions

# PARTSTAT and the subject word a calendar puts on its answer.
ANSWERS = {"ACCEPTED": "Accepted", "TENTATIVE": "Tentative", "DECLINED": "Declined"}
# How people answer an invitation to a monthly circle.
ANSWER_WEIGHTS = {"ACCEPTED": 0.7, "TENTATIVE": 0.1, "DECLINED": 0.2}

SURVEY_NOTES = [
    "The buddy calls kept me going when the board pushed back.",
    "More examples from schools would have helped.",
    "The circle was the best part: I was not alone with this.",
    "Shorter emails in the busy weeks, please.",
]


def invitation_of(message) -> Event | None:
    """The VEVENT of a METHOD:REQUEST calendar part (the series master), or None."""
    for part in message.walk():
        if part.get_content_type() != "text/calendar":
            continue
        calendar = Calendar.from_ical(part.get_payload(decode=True))
        if str(calendar.get("METHOD", "")).upper() != "REQUEST":
            continue
        events = [e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e]
        if events:
            return events[0]
    return None


def calendar_reply(invitation: Event, email: str, name: str, partstat: str, now: datetime,
                   message_id: str) -> bytes:
    """A whole-series answer to `invitation`, mailed to its organizer."""
    calendar = Calendar()
    calendar.add("prodid", "-//Hearth simulator//calendar client//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REPLY")
    event = Event()
    for name_ in ("UID", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER"):
        if name_ in invitation:
            event[name_] = invitation[name_]
    event.add("dtstamp", now)
    attendee = vCalAddress(f"mailto:{email}")
    attendee.params["CN"] = name
    attendee.params["PARTSTAT"] = partstat
    event.add("attendee", attendee)
    calendar.add_component(event)
    organizer = str(invitation["ORGANIZER"]).removeprefix("mailto:").removeprefix("MAILTO:")
    message = EmailMessage()
    message["From"] = f"{name} <{email}>"
    message["To"] = organizer
    message["Subject"] = f"{ANSWERS[partstat]}: {invitation.get('SUMMARY', 'Circle')}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message.set_content(f"{name} has {ANSWERS[partstat].lower()} this invitation.\n")
    message.add_attachment(calendar.to_ical(), maintype="text", subtype="calendar",
                           params={"method": "REPLY"}, disposition="inline")
    return message.as_bytes()


def partstat(rng: random.Random) -> str:
    return rng.choices(list(ANSWER_WEIGHTS), weights=list(ANSWER_WEIGHTS.values()))[0]


def survey_answers(survey: definitions.Survey, rng: random.Random) -> dict:
    """Plausible answers to every question, as the survey page would save them."""
    answers: dict = {}
    for question in survey.questions:
        if question.kind in definitions.SCALES:
            scale = question.scale
            answers[question.key] = rng.choice(scale[len(scale) // 2 :])  # mostly content
        elif question.kind == "single" and question.choices:
            answers[question.key] = rng.choice(question.choices).value
        elif question.kind == "multiple" and question.choices:
            answers[question.key] = [rng.choice(question.choices).value]
        elif question.kind == "text" and rng.random() < 0.5:
            answers[question.key] = rng.choice(SURVEY_NOTES)
    return answers
