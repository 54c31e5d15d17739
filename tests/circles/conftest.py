"""The circles' story verbs: people in their own zones, a circle, joining,
sending what is due, and reading a calendar email the way a mail client does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import icalendar
import pytest

from app import clock
from app.circles import service as circles
from app.extensions import db
from app.outbox import service as outbox
from app.tick import tick
from tests.admin import dashboard
from tests.inbound.conftest import Inbound

# A quiet Thursday before the first meeting (Tuesday 7 January 2025, 18:00 Berlin).
BEFORE_FIRST = datetime(2025, 1, 2, 9, 30, tzinfo=UTC)
RULE = "FREQ=MONTHLY;BYDAY=1TU"


@pytest.fixture(autouse=True)
def _early_2025():
    clock.set(BEFORE_FIRST)


@pytest.fixture
def inbound(client, app):
    return Inbound(client, app.config["INBOUND_SECRET"])


def person(app, email: str, name: str, tz: str = "Europe/Berlin", *, coordinator: bool = False,
           cohort: str | None = None) -> int:
    """A confirmed champion, written directly (no signup emails in the mailbox)."""
    return dashboard.person(app, email, name, timezone=tz, coordinator=coordinator, cohort=cohort)


def circle(app, **changes) -> int:
    """Recovery-style peer circle: first Tuesday of the month, 18:00 Berlin, 90 minutes."""
    values = dict(name="Riverside circle", timezone="Europe/Berlin", rrule=RULE,
                  start=datetime(2025, 1, 7, 18, 0), minutes=90, url="https://meet.example/riverside")
    values.update(changes)
    with app.app_context():
        made = circles.create_circle(**values)
        db.session.commit()
        return made.id


def join(app, circle_id: int, *person_ids: int) -> None:
    with app.app_context():
        for person_id in person_ids:
            circles.add_member(circle_id, person_id)
        db.session.commit()


def run(app, action):
    """Call a service function in an app context and commit, like a view does."""
    with app.app_context():
        result = action()
        db.session.commit()
        return result


def send(app, drain) -> None:
    """What the workers do: enqueue what is due, send it."""
    with app.app_context():
        outbox.enqueue_pending()
    drain()


def tick_at(app, drain, moment: datetime) -> None:
    """The clock process at `moment`: one tick, then the sends."""
    clock.set(moment)
    with app.app_context():
        tick()
    drain()


@dataclass
class CalendarEmail:
    """A calendar email as a mail client sees it."""

    mime_method: str
    ics: bytes
    attachment: bytes
    attachment_name: str
    calendar: icalendar.Calendar

    @property
    def events(self):
        return self.calendar.walk("VEVENT")

    @property
    def master(self):
        return next(e for e in self.events if "RECURRENCE-ID" not in e)


def calendar_email(received) -> CalendarEmail:
    """The inline text/calendar part (inside multipart/alternative) and the .ics attachment."""
    message = received.message
    assert message.get_content_type() == "multipart/mixed"
    alternative = next(p for p in message.iter_parts() if p.get_content_type() == "multipart/alternative")
    inline = next(p for p in alternative.iter_parts() if p.get_content_type() == "text/calendar")
    assert inline.get_content_disposition() is None  # inline, no disposition (RFC 6047)
    attachment = next(p for p in message.iter_parts() if p.get_content_type() == "application/ics")
    ics = inline.get_payload(decode=True)
    return CalendarEmail(
        mime_method=inline.get_param("method"),
        ics=ics,
        attachment=attachment.get_payload(decode=True),
        attachment_name=attachment.get_filename(),
        calendar=icalendar.Calendar.from_ical(ics),
    )


def emails_to(smtp, address: str, subject: str | None = None) -> list:
    return [m for m in smtp.to(address) if subject is None or subject in m.subject]


def words(received) -> str:
    """The text part with its line breaks undone, as a person reads it."""
    return " ".join(received.text.split())
