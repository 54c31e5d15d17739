from __future__ import annotations

import pytest

from app.accounts import service as accounts
from app.accounts.models import Person
from app.extensions import db
from app.outbox import service as outbox
from tests.story import CHAMPION


class Inbound:
    """Posts raw messages to the webhook like a mail provider does."""

    def __init__(self, client, secret: str) -> None:
        self.client = client
        self.secret = secret

    def post(self, raw: bytes, *, token: str | None = None, content_type="message/rfc822"):
        return self.client.post(
            "/inbound/mime",
            data=raw,
            headers={"Authorization": f"Bearer {token or self.secret}", "Content-Type": content_type},
        )


@pytest.fixture
def inbound(client, app):
    return Inbound(client, app.config["INBOUND_SECRET"])


def make_champion(app, email: str, name: str = "Ada Okafor") -> int:
    with app.app_context():
        accounts.request_signup({**CHAMPION, "email": email, "name": name})
        person = Person.by_email(email)
        accounts.confirm(person)
        db.session.commit()
        return person.id


def send_programme_email(app, smtp, drain, person_id: int, template="onboarding_welcome"):
    """Send one onboarding email now and return it as captured by the SMTP server."""
    with app.app_context():
        person = db.session.get(Person, person_id)
        outbox.queue_email(person, template, stream="onboarding", key=f"{person_id}:test:{template}")
        db.session.commit()
        outbox.enqueue_pending()
        email = person.email
    drain()
    return [m for m in smtp.to(email) if "List-Unsubscribe" in m.message][-1]


@pytest.fixture
def coordinator(app):
    """A coordinator who receives what has no buddy to go to (no mail sent to set up)."""
    from app import clock

    with app.app_context():
        person = Person(email="coord@hearth.test", name="Cora Coordinator", timezone="Europe/London",
                        status="active", is_coordinator=True, created_at=clock.now())
        db.session.add(person)
        db.session.commit()
        return person.id
