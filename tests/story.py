"""The story's verbs: sign up, follow the emailed link, be a coordinator."""

from __future__ import annotations

import re

from tests.forms import submit

LINK = re.compile(r"http://hearth\.test(/auth/[A-Za-z0-9_\-]+)")

CHAMPION = {
    "name": "Ada Okafor",
    "email": "ada@example.org",
    "timezone": "Europe/Berlin",
    "organisation": "Riverside Food Co-op",
    "organisation_kind": "cooperative",
    "organisation_size": "10-49",
    "could_pay_consultant": "no",
    "language": "en",
    "situation": "Our board wants to try sociocracy; half the members are sceptical.",
    "consent": "y",
}


def sign_up(client, **changes):
    return submit(client, "/signup", {**CHAMPION, **changes})


def link_path(received) -> str:
    match = LINK.search(received.text)
    assert match, f"no sign-in link in: {received.text}"
    return match.group(1)


def confirm_by_email(client, smtp, drain, **changes):
    """Sign up, take the confirmation email from the SMTP server, press Continue."""
    sign_up(client, **changes)
    drain()
    received = smtp.wait_for(to=changes.get("email", CHAMPION["email"]), subject="Confirm")
    path = link_path(received)
    response = submit(client, path, {})
    return response, path


def signed_up_champion(client, smtp, drain, **changes):
    """A champion who signed up and pressed Continue; the client is signed in."""
    response, _path = confirm_by_email(client, smtp, drain, **changes)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def next_event_time(app):
    """The next moment something is due: a journey step or a waiting delivery."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.journeys.models import Journey
    from app.outbox.models import Delivery

    with app.app_context():
        journey = db.session.scalar(
            select(func.min(Journey.next_due_at)).where(Journey.state == "active")
        )
        delivery = db.session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending")
        )
        db.session.remove()
    # func.min bypasses the UTC column type: make the values aware again.
    from datetime import UTC

    found = [t.replace(tzinfo=UTC) if t.tzinfo is None else t for t in (journey, delivery) if t]
    return min(found) if found else None


def travel(app, drain, until, on_each=None):
    """Move the clock from event to event up to `until`, ticking and sending
    each time, as the clock process and the workers would."""
    from app import clock
    from app.tick import tick

    ticks = 0
    while True:
        with app.app_context():
            tick()
        drain()
        if on_each is not None:
            on_each(clock.now())
        upcoming = next_event_time(app)
        if upcoming is None or upcoming > until:
            clock.set(until)
            with app.app_context():
                tick()
            drain()
            return ticks
        clock.set(max(upcoming, clock.now()))
        ticks += 1
        assert ticks < 2000, "the journey never settles"
