"""inbound: replies processed per second — stored, parsed, trimmed, routed and
acted on (here: forwarded to a coordinator, a Delivery row) — against the bare
`email.message_from_bytes(policy=default)` parse of the same messages in the
same run. Target: 0.3 or more of the bare rate.

Each reply is about 5 KB, as mail clients write them: a few new lines on top
of the quoted email, text and HTML parts. Store and process run in this
process, one message after the other, as one inbound worker does; rounds of
50 messages alternate between the two, so other work on the machine weighs
on both alike.
"""

from __future__ import annotations

import email
import time
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import func, select

from app import clock
from app.accounts.models import Person
from app.extensions import db
from app.inbound import service as inbound
from app.inbound.models import InboundMessage
from app.outbox import service as outbox
from bench.harness import Environment
from bench.population import insert_champions
from bench.report import Row, ScenarioResult, Target
from emails import addresses

TARGET = Target("ratio", ">=", 0.3)
ROUND = 50  # messages a round
QUOTE = ("Consent is not consensus. A proposal goes ahead when nobody has a reasoned "
         "objection: good enough for now, safe enough to try.\n") * 30


def _reply(person: Person, reply_to: str, message_id: str, number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"{person.name} <{person.email}>"
    message["To"] = reply_to
    message["Subject"] = "Re: Consent is not consensus"
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(idstring=str(number), domain="client.example")
    message["In-Reply-To"] = message["References"] = message_id
    new = f"Thank you! We tried a consent round on Tuesday ({number}).\nIt went better than I feared.\n"
    quoted = "\n".join(f"> {line}" for line in QUOTE.splitlines())
    message.set_content(f"{new}\nOn Mon, Hearth wrote:\n{quoted}\n")
    message.add_alternative(
        f"<div>{new}</div><div class=\"gmail_quote\"><blockquote>{QUOTE}</blockquote></div>",
        subtype="html",
    )
    return message.as_bytes()


def run(quick: bool) -> ScenarioResult:
    count = 200 if quick else 1_000
    result = ScenarioResult("inbound")
    with Environment("inbound", smtp=False) as env, env.app.app_context():
        config = env.app.config
        champions = insert_champions([clock.now()] * count)
        db.session.add(Person(email="coord@bench.example", name="Cora", timezone="UTC",
                              status="active", is_coordinator=True, created_at=clock.now()))
        raws = []
        for number, champion in enumerate(champions):
            person = db.session.get(Person, champion.person_id)
            delivery = outbox.queue_email(person, "onboarding_consent", stream="onboarding",
                                          key=f"bench:{person.id}")
            delivery.status, delivery.message_id = "sent", f"<bench{number}@hearth.example>"
            reply_to = addresses.reply_address(config["SECRET_KEY"], config["INBOUND_DOMAIN"],
                                               "d", delivery.id)
            raws.append(_reply(person, reply_to, delivery.message_id, number))
        db.session.commit()

        # Alternate rounds of the two, so that other work on the machine
        # weighs on both alike.
        bare_seconds = hearth_seconds = 0.0
        for start in range(0, count, ROUND):
            chunk = raws[start : start + ROUND]
            started = time.perf_counter()
            for raw in chunk:
                email.message_from_bytes(raw, policy=policy.default)
            bare_seconds += time.perf_counter() - started
            started = time.perf_counter()
            for raw in chunk:
                inbound.process(inbound.store(raw, via="webhook").id)
            hearth_seconds += time.perf_counter() - started
        bare, hearth = count / bare_seconds, count / hearth_seconds
        statuses = dict(db.session.execute(
            select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
        ).all())
        db.session.remove()

    result.details.update(messages=count, size_bytes=len(raws[0]), statuses=statuses)
    result.rows += [
        Row("inbound", f"replies/s processed vs bare parse ({len(raws[0]) // 1000} KB)",
            hearth, bare, TARGET),
        Row("inbound", "  processed (all must be)", float(statuses.get("processed", 0)), float(count)),
    ]
    return result
