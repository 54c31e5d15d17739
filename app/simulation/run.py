"""One simulated programme, through the real code: signups through the
service layer, the clock moved forward from event to event (at most
`MAX_STEP` apart, so consent by silence, nudges and reminders happen on
time), every enqueued job run by a real RQ worker in this process
(`queues.drain`), every email sent over SMTP to a real local server, and
replies written back through the real inbound pipeline (`inbound.store` and
the `process_inbound` job).

People behave by a seeded random source: champions confirm their address,
some ask questions, some are away (out-of-office replies), a few addresses do
not exist (a DSN bounce comes back), most answer their circle's calendar
invitation from their calendar (an iTIP REPLY) and many fill in the
graduation survey; buddies confirm, are approved, answer most check-in
prompts and many fill in their survey. A coordinator opens peer circles
before the run, and Hearth places champions in them by itself.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime

from sqlalchemy import func, select

from app import clock, queues
from app.accounts import service as accounts
from app.accounts.errors import TokenInvalid
from app.accounts.models import Person
from app.buddies import applications
from app.buddies import service as buddies
from app.circles import service as circles
from app.extensions import db
from app.inbound import service as inbound
from app.journeys.models import Journey
from app.outbox import service as outbox
from app.outbox.models import Delivery
from app.simulation import answers, people
from app.simulation.parts import Arrival, Parts
from app.surveys import service as surveys
from app.surveys.errors import InvitationNotFound
from app.tick import tick
from emails import surveys as survey_definitions

START = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)  # a Monday
MAX_STEP = timedelta(hours=6)
MIN_STEP = timedelta(minutes=1)
SIGNUP_SPREAD = timedelta(days=7)
COORDINATOR = "coordinator@hearth.example.org"
_LINK = re.compile(r"https://hearth\.example\.org/(auth|buddies/confirm)/([A-Za-z0-9_\-]+)")
_SURVEY_LINK = re.compile(r"https://hearth\.example\.org/surveys/([A-Za-z0-9_.\-]+)")
# Peer circles a coordinator opens before the run, one for each part of the
# world's waking hours: (time zone, local start time); one circle per 6 champions.
CIRCLE_ZONES = [("Europe/Berlin", (18, 0)), ("Australia/Melbourne", (19, 0))]
CHAMPIONS_PER_CIRCLE = 6
PLACE_AFTER_DAYS = 7  # a coordinator's setting (default 28): circles within a short run
FIRST_MEETING_AFTER = timedelta(days=9)


@dataclass(frozen=True)
class Settings:
    champions: int
    buddies: int
    weeks: int
    seed: int = 1
    start: datetime = START

    @property
    def end(self) -> datetime:
        return self.start + timedelta(weeks=self.weeks)


@dataclass
class Outcome:
    """What the run left behind for the report, read while the parts exist."""

    settings: Settings
    arrivals: list[Arrival]
    replies: list[dict] = field(default_factory=list)  # what people wrote back, and when
    failed_jobs: int = 0
    steps: int = 0
    survey_responses: int = 0


def simulate(settings: Settings, progress: Callable[[float], None] | None = None,
             parts: Parts | None = None) -> dict:
    """Run the programme and return the report's figures (see report.figures);
    on `parts` made for it (default: a new SQLite file and embedded Redis)."""
    from app.simulation import report

    with parts or Parts() as parts, parts.app.app_context():
        clock.set(settings.start)
        try:
            outcome = _Run(settings, parts, progress).run()
            return report.figures(outcome)
        finally:
            db.session.remove()
            clock.set(None)


class _Run:
    def __init__(self, settings: Settings, parts: Parts, progress) -> None:
        self.settings = settings
        self.parts = parts
        self.progress = progress or (lambda fraction: None)
        self.rng = random.Random(settings.seed)
        self.champions = {c.email: c for c in people.champions(self.rng, settings.champions)}
        self.buddies = {b.email: b for b in people.buddies(self.rng, settings.buddies)}
        self.outcome = Outcome(settings, parts.sink.arrivals)
        self.seen = 0  # sink arrivals already answered
        self.bounced: set[str] = set()
        self.reply_count = 0
        spread = min(SIGNUP_SPREAD, settings.end - settings.start)
        offsets = sorted(self.rng.random() * spread.total_seconds() for _ in self.champions)
        self.signups = [(settings.start + timedelta(seconds=s), email)
                        for s, email in zip(offsets, self.champions, strict=True)]

    # -- the loop ------------------------------------------------------------

    def run(self) -> Outcome:
        # A coordinator reads the questions of champions without a buddy yet.
        # (Hearth has no service that makes one without a champion's signup,
        # which would start a journey of its own: the row is written here.)
        db.session.add(Person(email=COORDINATOR, name="Coordinator", timezone="Europe/London",
                              status="active", is_coordinator=True, created_at=clock.now()))
        buddies.set_auto_matching(True)
        self._open_circles()
        for buddy in self.buddies.values():
            applications.apply(buddy.application())
        db.session.commit()
        outbox.enqueue_pending()
        end = self.settings.end
        total = (end - self.settings.start).total_seconds()
        while True:
            now = clock.now()
            self._sign_up_due(now)
            tick()
            self._settle()
            self.outcome.steps += 1
            self.progress(min((now - self.settings.start).total_seconds() / total, 1.0))
            if now >= end:
                break
            clock.set(min(max(self._next_event(now), now + MIN_STEP), end))
        self.outcome.failed_jobs = sum(
            queues.queue(name).failed_job_registry.count for name in queues.ALL
        )
        return self.outcome

    def _open_circles(self) -> None:
        """Monthly circles (second Thursday) from the third week on, filled by
        Hearth's own placement (auto-confirmed, after the default wait)."""
        circles.set_auto_placement(True)
        circles.set_place_after_days(PLACE_AFTER_DAYS)
        count = -(-self.settings.champions // CHAMPIONS_PER_CIRCLE)
        first = _second_thursday_from((self.settings.start + FIRST_MEETING_AFTER).date())
        for number in range(count):
            zone, (hour, minute) = CIRCLE_ZONES[number % len(CIRCLE_ZONES)]
            circles.create_circle(
                name=f"Peer circle {number + 1}", timezone=zone, rrule="FREQ=MONTHLY;BYDAY=2TH",
                start=datetime(first.year, first.month, first.day, hour, minute),
                minutes=60, url=f"https://meet.example/hearth-circle-{number + 1}", capacity=8,
            )

    def _settle(self) -> None:
        """Run every job, answer what arrived, until nothing new happens."""
        for _round in range(50):
            queues.drain(after_each=None)
            fresh = self.parts.sink.since(self.seen)
            self.seen += len(fresh)
            if not fresh:
                return
            for arrival in fresh:
                self._answer(arrival)
            db.session.commit()
            outbox.enqueue_pending()

    def _sign_up_due(self, now: datetime) -> None:
        while self.signups and self.signups[0][0] <= now:
            _at, email = self.signups.pop(0)
            accounts.request_signup(self.champions[email].signup_form())
            db.session.commit()
        outbox.enqueue_pending()

    def _next_event(self, now: datetime) -> datetime:
        """The next moment something is due: a signup, a journey step, a waiting email."""
        candidates = [now + MAX_STEP]
        if self.signups:
            candidates.append(self.signups[0][0])
        for value in (
            db.session.scalar(select(func.min(Journey.next_due_at)).where(Journey.state == "active")),
            db.session.scalar(select(func.min(Delivery.next_attempt_at))
                              .where(Delivery.status == "pending")),
        ):
            if value is not None:
                candidates.append(value if value.tzinfo else value.replace(tzinfo=UTC))
        return min(candidates)

    # -- people answering ------------------------------------------------------

    def _answer(self, arrival: Arrival) -> None:
        message = BytesParser(policy=policy.default).parsebytes(arrival.raw)
        delivery = db.session.scalar(
            select(Delivery).where(Delivery.message_id == str(message["Message-ID"]))
        )
        template = delivery.template if delivery is not None else ""
        stream = delivery.stream if delivery is not None else ""
        text = _text_of(message)
        for rcpt in arrival.rcpt_tos:
            if template in ("confirm_signup", "buddy_confirm_application"):
                self._follow_link(rcpt, text)
            elif rcpt in self.champions:
                self._champion_answers(self.champions[rcpt], message, template, stream)
            elif rcpt in self.buddies:
                self._buddy_answers(rcpt, message, template, stream)

    def _follow_link(self, email: str, text: str) -> None:
        match = _LINK.search(text)
        if match is None:
            return
        try:
            if match.group(1) == "auth":
                accounts.consume_token(match.group(2))
            else:
                applications.confirm_application(match.group(2))
                db.session.flush()
                applications.approve_buddy(email)
        except TokenInvalid:
            db.session.rollback()

    def _champion_answers(self, champion: people.Champion, message, template: str,
                          stream: str) -> None:
        if stream in ("transactional", "replies", ""):
            return
        if champion.bounces:
            if champion.email not in self.bounced:
                self.bounced.add(champion.email)
                self._send_back("bounce", champion.email,
                                _bounce(message, champion.email, self._message_id()))
            return
        if champion.away:
            self._reply(champion.email, message, people.OUT_OF_OFFICE, "auto-reply",
                        headers={"Auto-Submitted": "auto-replied"},
                        subject=f"Out of office: {message['Subject']}")
            return
        if stream == "circles":
            self._answer_invitation(champion.email, champion.name, message)
            return
        if stream == "surveys":
            self._fill_in_survey(message, 0.6)
            return
        roll = self.rng.random()
        if template == "buddy_proposal_champion" and roll < 0.05:
            self._reply(champion.email, message, "object", "objection")
        elif template == "buddy_champion_prompt" and roll < 0.5:
            self._reply(champion.email, message, self.rng.choice(people.CHAMPION_NOTES), "check-in")
        elif template.startswith("onboarding_") and roll < 0.15:
            self._reply(champion.email, message, self.rng.choice(people.QUESTIONS), "question")

    def _buddy_answers(self, email: str, message, template: str, stream: str) -> None:
        if template == "buddy_checkin_prompt" and self.rng.random() < 0.75:
            self._reply(email, message, self.rng.choice(people.CHECKINS), "check-in")
        elif stream == "surveys":
            self._fill_in_survey(message, 0.5)

    def _answer_invitation(self, email: str, name: str, message) -> None:
        """From their calendar: an invitation still waiting for an answer gets one."""
        invitation = answers.invitation_of(message)
        if invitation is None:
            return
        attendees = invitation.get("ATTENDEE")
        attendees = attendees if isinstance(attendees, list) else [attendees] if attendees else []
        waiting = any(str(a).lower() == f"mailto:{email}" and a.params.get("PARTSTAT") == "NEEDS-ACTION"
                      for a in attendees)
        if not waiting:
            return
        partstat = answers.partstat(self.rng)
        raw = answers.calendar_reply(invitation, email, name, partstat, clock.now(), self._message_id())
        self._send_back(f"rsvp {answers.ANSWERS[partstat].lower()}", email, raw)

    def _fill_in_survey(self, message, chance: float) -> None:
        """On the survey's page, as the link in the email opens it (once)."""
        match = _SURVEY_LINK.search(_text_of(message))
        if match is None or self.rng.random() >= chance:
            return
        try:
            invitation = surveys.read_token(match.group(1))
        except InvitationNotFound:
            return
        if invitation.answered_at is not None:
            return
        survey = survey_definitions.load(invitation.survey)
        surveys.submit(invitation, answers.survey_answers(survey, self.rng))
        self.outcome.survey_responses += 1

    def _reply(self, email: str, original, text: str, kind: str, *,
               headers: dict | None = None, subject: str | None = None) -> None:
        reply = EmailMessage()
        reply["From"] = email
        reply["To"] = original["Reply-To"]
        reply["Subject"] = subject or f"Re: {original['Subject']}"
        reply["Date"] = format_datetime(clock.now())
        reply["Message-ID"] = self._message_id()
        reply["In-Reply-To"] = reply["References"] = original["Message-ID"]
        for name, value in (headers or {}).items():
            reply[name] = value
        quoted = "\n".join(f"> {line}" for line in _text_of(original).splitlines()[:6])
        reply.set_content(f"{text}\n\nOn {original['Date']}, Hearth wrote:\n{quoted}\n")
        self._send_back(kind, email, reply.as_bytes())

    def _message_id(self) -> str:
        self.reply_count += 1
        return f"<sim{self.settings.seed}.{self.reply_count}@client.example>"

    def _send_back(self, kind: str, email: str, raw: bytes) -> None:
        """Through the real pipeline: stored raw first, then a process job."""
        stored = inbound.store(raw, via="simulator", envelope_from=email)
        if stored.created:
            inbound.enqueue_processing(stored.id)
        self.outcome.replies.append({"at": clock.now(), "from": email, "kind": kind,
                                     "inbound_id": stored.id})


def _second_thursday_from(day: date) -> date:
    """The first second-Thursday-of-a-month on or after `day` (the circles' rule)."""
    year, month = day.year, day.month
    while True:
        first = date(year, month, 1)
        second = first + timedelta(days=(3 - first.weekday()) % 7 + 7)
        if second >= day:
            return second
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _text_of(message) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""


def _bounce(original, recipient: str, message_id: str) -> bytes:
    """A delivery status notification (RFC 3464) as Postfix writes one, back
    to the envelope sender, quoting the headers of the message it returns."""
    boundary = "bounce-" + re.sub(r"[^A-Za-z0-9]", "", message_id)
    quoted = "".join(f"{name}: {original[name]}\r\n" for name in ("From", "To", "Subject", "Message-ID"))
    text = (
        "From: MAILER-DAEMON@mx.champions.example (Mail Delivery System)\r\n"
        f"To: {original['From']}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(clock.now())}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"This is the mail system at host mx.champions.example.\r\n\r\n<{recipient}>: host "
        "mx.champions.example said: 550 5.1.1 User unknown (in reply to RCPT TO command)\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.champions.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{quoted}\r\n"
        f"--{boundary}--\r\n"
    )
    return text.encode()
