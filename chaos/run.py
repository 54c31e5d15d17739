"""One chaos run: parts, seed, processes, people, faults, then the checks.

Timeline over `seconds` (fractions of it): a worker SIGKILLed while the sink
is receiving (0.15), the SMTP sink answering 451 (0.25 to 0.40), Redis
restarted empty (0.45), PostgreSQL cut off for 6 s (0.60), the sink
answering 421 (0.72 to 0.80), another worker SIGKILLed (0.85). Then the
people finish what they were doing and the run waits until nothing is due.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from app import progress
from bench.harness import BIN, SECRET_KEY, SENDER, free_port, fresh_postgres, quiet_logging
from chaos import drivers
from chaos.faults import FaultySink, PostgresProxy, RedisServer
from chaos.processes import Processes, wait_for_port

log = logging.getLogger("chaos")
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/hearth_chaos"
INBOUND_DOMAIN = "in.hearth.example.org"
LEASE_SECONDS = 10  # a killed worker's emails are claimed again this soon
EXPLAINED_WITHIN = 3.0  # s: a first acceptance this close before a kill or cut may be sent again
CUT_SECONDS = 6.0
RETRY_AT_MOST = 15  # s between two tries of one email (6 h in production): the run must end


@dataclass(frozen=True)
class Settings:
    seconds: float = 60.0
    signups: int = 24
    bulk: int = 1200  # welcome emails falling due during the first 60 % of the run
    pairs: int = 8
    checkins: int = 32
    questions: int = 16


QUICK = Settings(seconds=36.0, signups=10, bulk=400, pairs=4, checkins=12, questions=6)
SLOW = Settings(seconds=120.0, signups=40, bulk=3000, pairs=12, checkins=60, questions=30)


@dataclass
class Fault:
    at: float  # seconds from the start
    what: str
    detail: str = ""


@dataclass
class Outcome:
    settings: Settings
    faults: list[Fault] = field(default_factory=list)
    ledger: drivers.Ledger = field(default_factory=drivers.Ledger)
    checks: list[tuple[str, int, int, bool]] = field(default_factory=list)  # what, found, expected, ok
    explained: list[str] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)  # what each delivery not sent was doing
    restarts: dict[str, int] = field(default_factory=dict)
    settled_in: float | None = None
    started: float = 0.0  # time.monotonic() when the processes were up: fault times count from it
    refused: int = 0  # RCPTs the sink answered 421/451

    @property
    def ok(self) -> bool:
        return all(ok for *_rest, ok in self.checks)


def run(settings: Settings) -> Outcome:
    outcome = Outcome(settings)
    folder = Path(tempfile.mkdtemp(prefix="hearth-chaos-"))
    direct_url = os.environ.get("CHAOS_DATABASE_URL", DEFAULT_DATABASE)
    redis_server = RedisServer(folder / "redis", free_port()).start()
    url = make_url(direct_url)
    proxy = PostgresProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    sink = FaultySink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    processes = None
    try:
        fresh_postgres(direct_url)
        app = _app(direct_url, redis_server.url, smtp_port, folder)
        with app.app_context():
            _migrate()
            seed = _seed(settings)
        env = _environment(proxied_url, redis_server.url, smtp_port, folder)
        processes = Processes(env, folder)
        ports = _start(processes, settings)
        processes.supervise()
        started = outcome.started = time.monotonic()
        people = _people(app, settings, ports, sink, outcome.ledger, seed)
        with progress.bar("chaos", total=settings.seconds) as shown:  # in a terminal only
            _faults(settings, started, processes, redis_server, proxy, sink, outcome, shown)
        for thread in people:
            thread.join(drivers.RETRY_FOR + 30)
        outcome.settled_in = _settle(app, sink, seed.history)
        outcome.refused = sink.refused
        outcome.restarts = {e.name: e.restarts for e in processes.managed.values()}
        with app.app_context():
            _check(app, sink, outcome, seed)
    finally:
        if processes is not None:
            processes.stop()
        controller.stop()
        proxy.stop()
        redis_server.kill()
        if outcome.ok:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"chaos: process logs kept in {folder}", file=sys.stderr)
    return outcome


# -- parts ------------------------------------------------------------------------------


def _settings_env(database_url: str, redis_url: str, smtp_port: int, folder: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET_KEY,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_DEFAULT_SENDER": SENDER,
        "BASE_URL": "http://hearth.example.org",
        "INBOUND_DOMAIN": INBOUND_DOMAIN,
        "HEARTH_INSTANCE": str(folder),
        "RATELIMIT_ENABLED": "0",
        "DEV_MAIL_VIEWER": "0",
        "SEND_LEASE_SECONDS": str(LEASE_SECONDS),
        "SEND_RETRY_SECONDS": "3",
        "SEND_RETRY_MAX_SECONDS": str(RETRY_AT_MOST),
        "REPAIR_AFTER_SECONDS": "8",
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }


def _environment(database_url: str, redis_url: str, smtp_port: int, folder: Path) -> dict[str, str]:
    return {**os.environ, **_settings_env(database_url, redis_url, smtp_port, folder)}


def _app(database_url: str, redis_url: str, smtp_port: int, folder: Path):
    from bench.harness import patched_environ

    with patched_environ(_settings_env(database_url, redis_url, smtp_port, folder)):
        from app import create_app

        app = create_app({"SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}})
    quiet_logging()
    return app


def _migrate() -> None:
    from flask_migrate import upgrade

    logging.disable(logging.INFO)
    try:
        upgrade()
    finally:
        logging.disable(logging.NOTSET)
    quiet_logging()


@dataclass
class Seed:
    pairs: list[tuple[int, int, str, str]]  # (pair id, buddy id, buddy email, champion email)
    bulk_ids: list[int]  # champions whose welcome falls due during the run
    coordinator: str
    history: int  # deliveries up to this id are the pairs' past, not part of the run


def _seed(settings: Settings) -> Seed:
    """A coordinator, introduced buddy pairs, and champions whose welcome
    emails fall due while the faults happen."""
    from app import clock
    from app.accounts import service as accounts
    from app.accounts.models import Person
    from app.buddies import applications
    from app.buddies import service as buddies
    from app.buddies.models import BuddyProfile
    from app.extensions import db
    from app.outbox.models import Delivery
    from bench.population import insert_champions

    now = clock.now()
    coordinator = "coordinator@hearth.example.org"
    db.session.add(Person(email=coordinator, name="Cora", timezone="Europe/London", status="active",
                          is_coordinator=True, created_at=now))
    pairs = []
    for number in range(settings.pairs):
        champion_email = f"paired-{number}@champions.example"
        accounts.request_signup({"name": f"Paired Champion {number}", "email": champion_email,
                                 "timezone": "Europe/Berlin", "organisation": "Pair Co-op",
                                 "organisation_kind": "cooperative", "organisation_size": "10-49",
                                 "could_pay_consultant": "no", "language": "en"})
        champion = Person.by_email(champion_email)
        accounts.confirm(champion)
        buddy = Person(email=f"buddy-{number}@buddies.example", name=f"Buddy {number}",
                       timezone="Europe/Berlin", language="en", status="active",
                       created_at=now, confirmed_at=now)
        db.session.add(buddy)
        db.session.flush()
        db.session.add(BuddyProfile(person_id=buddy.id, status="applied", languages=["en"],
                                    organisation_kinds=["cooperative"], years_experience=5,
                                    bio="Chaos buddy.", capacity=2, created_at=now, confirmed_at=now))
        db.session.flush()
        applications.approve_buddy(buddy.id)
        pair = buddies.propose_match(champion.id, buddy_id=buddy.id)
        buddies.introduce(pair)
        pairs.append((pair.id, buddy.id, buddy.email, champion_email))
    # The pairs' confirmations, proposals and introductions went out before the
    # run. Left pending, they would be sent during it or not, by the time of day
    # (proposals wait for 09:00 in the champion's zone).
    history = db.session.scalar(select(func.max(Delivery.id))) or 0
    db.session.execute(update(Delivery).where(Delivery.id <= history)
                       .values(status="cancelled", last_error="chaos seed: sent before the run"))
    db.session.commit()
    step = settings.seconds * 0.6 / max(settings.bulk, 1)
    # Due from a few seconds after the processes start.
    due = [now + timedelta(seconds=8 + i * step) for i in range(settings.bulk)]
    bulk = insert_champions(due, prefix="bulk")
    return Seed(pairs, [c.person_id for c in bulk], coordinator, history)


def _start(processes: Processes, settings: Settings) -> list[int]:
    web = []
    for name in ("web-1", "web-2"):
        port = free_port()
        processes.add(name, [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
                             "--graceful-timeout", "2", "app:create_app()"])
        web.append(port)
    for number in (1, 2, 3):
        processes.add(f"worker-{number}", [sys.executable, "-m", "workers.worker"])
    for number in (1, 2):
        processes.add(f"clock-{number}", [sys.executable, "-m", "workers.clock", "--interval", "1"])
    inbound = free_port()
    processes.add("inbound", [str(BIN / "flask"), "--app", "app", "inbound", "smtp",
                              "--host", "127.0.0.1", "--port", str(inbound)])
    for port in (*web, inbound):
        if not wait_for_port(port, 60):
            raise RuntimeError(f"a Hearth process did not open port {port}")
    return [*web, inbound]


# -- people and faults ------------------------------------------------------------------


def _people(app, settings: Settings, ports: list[int], sink: FaultySink, ledger: drivers.Ledger,
            seed: Seed) -> list[threading.Thread]:
    web, inbound = ports[:2], ports[2]
    secret = app.config["SECRET_KEY"]
    rng = random.Random(1)

    def champions(numbers: range) -> None:
        for number in numbers:
            email = drivers.sign_up(web, number, ledger)
            if email:
                drivers.confirm(web, number, email, sink, ledger)
            time.sleep(settings.seconds / settings.signups)

    def repliers() -> None:
        from emails import addresses

        gap = settings.seconds * 0.9 / max(settings.checkins + settings.questions, 1)
        questions = 0
        for number in range(settings.checkins + settings.questions):
            if number % 3 == 2 and questions < settings.questions:
                questions += 1
                target = _some_sent_welcome(app, seed, rng)
                if target is not None:
                    delivery_id, champion = target
                    drivers.reply(inbound, champion, addresses.reply_address(secret, INBOUND_DOMAIN, "d", delivery_id),
                                  f"How do we handle a sceptic who objects to everything? ({number})",
                                  "question", ledger)
            else:
                pair_id, _buddy_id, buddy, _champion = rng.choice(seed.pairs)
                drivers.reply(inbound, buddy, addresses.reply_address(secret, INBOUND_DOMAIN, "p", pair_id),
                              f"We met on Tuesday; their first consent round went well ({number}).\n\nenergy: 4",
                              f"checkin:{pair_id}", ledger)
            time.sleep(gap)

    half = settings.signups // 2
    threads = [threading.Thread(target=champions, args=(range(0, half),), daemon=True),
               threading.Thread(target=champions, args=(range(half, settings.signups),), daemon=True),
               threading.Thread(target=repliers, daemon=True)]
    for thread in threads:
        thread.start()
    return threads


def _some_sent_welcome(app, seed: Seed, rng: random.Random) -> tuple[int, str] | None:
    """A welcome email already sent to a bulk champion (its reply address names it)."""
    from app.accounts.models import Person
    from app.extensions import db
    from app.outbox.models import Delivery

    for _attempt in range(30):
        try:
            with app.app_context():
                rows = db.session.execute(
                    select(Delivery.id, Person.email).join(Person, Person.id == Delivery.person_id)
                    .where(Delivery.status == "sent", Delivery.person_id.in_(seed.bulk_ids))
                    .limit(200)).all()
                db.session.remove()
            if rows:
                return tuple(rng.choice(rows))
        except Exception:  # noqa: BLE001 - the database may be cut off right now
            pass
        time.sleep(1.0)
    return None


def _faults(settings: Settings, started: float, processes: Processes, redis_server: RedisServer,
            proxy: PostgresProxy, sink: FaultySink, outcome: Outcome, shown: progress.Bar) -> None:
    def at(fraction: float) -> None:
        until = started + settings.seconds * fraction
        while (left := until - time.monotonic()) > 0:
            time.sleep(min(left, 0.5))
            shown.update(time.monotonic() - started)

    def note(what: str, detail: str = "") -> None:
        outcome.faults.append(Fault(round(time.monotonic() - started, 1), what, detail))
        print(f"chaos: {outcome.faults[-1].at:6.1f} s  {what} {detail}", file=sys.stderr, flush=True)

    def kill_while_sending(name: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # "in the middle of sending": mail arrived just now
            recent = sink.snapshot()[-1:] if sink.accepted else []
            if recent and time.monotonic() - recent[0].at < 0.3:
                break
            time.sleep(0.02)
        pid = processes.sigkill(name)
        note("SIGKILL", f"{name} (pid {pid}), {len(sink.accepted)} emails accepted so far")

    def smtp_answers(answer: str, start: float, end: float) -> None:
        at(start)
        sink.fault = answer
        note(f"SMTP {answer[:3]}", f"from now until {end} of the run")
        at(end)
        sink.fault = None
        note(f"SMTP {answer[:3]} over")

    at(0.15)
    kill_while_sending("worker-1")
    smtp_answers("451 4.3.0 Temporary failure, try again later", 0.25, 0.40)
    at(0.45)
    redis_server.restart()
    note("Redis restarted", "every queue and job emptied")
    at(0.60)
    proxy.cut(CUT_SECONDS)
    note("PostgreSQL cut off", f"for {CUT_SECONDS:g} s: connections dropped, new ones refused")
    smtp_answers("421 4.3.2 Service not available, closing transmission channel", 0.72, 0.80)
    at(0.85)
    kill_while_sending("worker-2")
    at(1.0)


def _settle(app, sink: FaultySink, history: int, timeout: float = 240.0) -> float | None:
    """Wait until no delivery is open (pending, even with a retry still to
    come, or sending), every inbound message has a final status, and the sink
    has been quiet for 3 s. Seconds waited, or None."""
    from app.extensions import db
    from app.inbound.models import InboundMessage
    from app.outbox.models import Delivery

    started = time.monotonic()
    quiet_since, last = None, -1
    while time.monotonic() - started < timeout:
        time.sleep(1.0)
        try:
            with app.app_context():
                open_deliveries = db.session.scalar(select(func.count(Delivery.id)).where(
                    Delivery.id > history, Delivery.status.in_(("pending", "sending"))))
                open_inbound = db.session.scalar(select(func.count(InboundMessage.id)).where(
                    InboundMessage.status == "new"))
                db.session.remove()
        except Exception:  # noqa: BLE001
            continue
        count = len(sink.accepted)
        if count != last:
            quiet_since, last = time.monotonic(), count
        if open_deliveries == 0 and open_inbound == 0 and time.monotonic() - quiet_since >= 3:
            return round(time.monotonic() - started, 1)
    return None


# -- the checks -------------------------------------------------------------------------


def _explains(fault: Fault, first_accepted: float) -> bool:
    """A kill (or the database cut off) between SMTP's yes and the commit of
    `sent`: the first acceptance came at most EXPLAINED_WITHIN s before it
    (or during the cut)."""
    cut = CUT_SECONDS if fault.what == "PostgreSQL cut off" else 0.0
    return fault.at - EXPLAINED_WITHIN <= first_accepted <= fault.at + cut


def _check(app, sink: FaultySink, outcome: Outcome, seed: Seed) -> None:
    from app.accounts.models import Person
    from app.buddies.models import Checkin
    from app.extensions import db
    from app.inbound.models import InboundMessage
    from app.outbox.models import Delivery

    ledger = outcome.ledger
    accepted = sink.snapshot()
    times: dict[str, list[float]] = {}
    for a in accepted:
        times.setdefault(a.message_id, []).append(a.at)
    deliveries = db.session.scalars(select(Delivery).where(Delivery.id > seed.history)).all()
    by_status = Counter(d.status for d in deliveries)
    sent = [d for d in deliveries if d.status == "sent"]
    never_arrived = [d.id for d in sent if d.message_id not in times]
    not_sent = [d for d in deliveries if d.status != "sent"]
    outcome.unsent = [f"delivery {d.id} {d.template} {d.status}, {d.attempts} attempts, next at "
                      f"{d.next_attempt_at:%H:%M:%S}, lease {d.lease_until or '-'}, enqueued "
                      f"{d.enqueued_at or '-'}: {d.last_error or 'no error'}" for d in not_sent[:20]]
    unknown = [m for m in times if m not in {d.message_id for d in sent}]
    cuts = [f for f in outcome.faults if f.what in ("SIGKILL", "PostgreSQL cut off")]
    doubled = unexplained = 0
    for message_id, arrivals in times.items():
        if len(arrivals) < 2:
            continue
        doubled += len(arrivals) - 1
        first = arrivals[0] - outcome.started
        reason = next((f for f in cuts if _explains(f, first)), None)
        if reason is None:
            unexplained += len(arrivals) - 1
        else:
            outcome.explained.append(f"{message_id}: accepted at {first:.1f} s, then again after the "
                                     f"{reason.what} at {reason.at} s (before its 'sent' was committed)")

    emails = {p.email: p for p in db.session.scalars(select(Person))}
    signed_up = [e for e in ledger.signed_up if e in emails]
    confirmed = [e for e in ledger.confirmed if emails.get(e) is not None and emails[e].status == "active"]
    confirm_emails = {d.to_email for d in sent if d.template == "confirm_signup"}
    welcomes = {d.person_id for d in sent if d.template.startswith("onboarding_") and d.person_id in set(seed.bulk_ids)}
    inbound = {m.dedupe_key: m for m in db.session.scalars(select(InboundMessage))}
    replies = {mid.strip("<>"): kind for mid, kind in ledger.replies.items()}
    stored = [k for k in replies if k in inbound]
    final = [k for k in stored if inbound[k].status in ("processed", "ignored", "quarantined")]
    processed = [k for k in stored if inbound[k].status == "processed"]
    checkins = Counter(c.inbound_id for c in db.session.scalars(select(Checkin)))
    wanted_checkins = [inbound[k].id for k in stored if replies[k].startswith("checkin")]
    checkins_once = [i for i in wanted_checkins if checkins[i] == 1]
    questions = [inbound[k] for k in stored if replies[k] == "question"]
    forwards = {d.idempotency_key for d in sent if d.template == "forwarded_reply"}
    forwarded = [m for m in questions if any(k.endswith(f":inbound:{m.id}:forward") for k in forwards)]

    def check(what: str, found: int, expected: int) -> None:
        outcome.checks.append((what, found, expected, found == expected))

    check("signups Hearth answered, with a person", len(signed_up), len(ledger.signed_up))
    check("confirmation emails accepted by SMTP", len(confirm_emails & set(ledger.signed_up)), len(ledger.signed_up))
    check("confirmations that made an active champion", len(confirmed), len(ledger.confirmed))
    check("welcome emails accepted (bulk champions)", len(welcomes), len(seed.bulk_ids))
    check("deliveries not sent (any status but sent)", len(not_sent), 0)
    check("sent, but never accepted by SMTP", len(never_arrived), 0)
    check("accepted by SMTP, but not a sent delivery", len(unknown), 0)
    check("accepted twice, not explained by a kill or cut", unexplained, 0)
    check("replies the receiver accepted, stored", len(stored), len(replies))
    check("stored replies with a final status", len(final), len(stored))
    check("stored replies processed", len(processed), len(stored))
    check("check-ins logged exactly once", len(checkins_once), len(wanted_checkins))
    check("questions forwarded to a coordinator and sent", len(forwarded), len(questions))
    check("things people gave up on (Hearth never said yes)", len(ledger.gave_up), 0)
    outcome.checks.append(("emails accepted twice, explained", doubled - unexplained, doubled - unexplained, True))
    outcome.checks.append((f"deliveries by status: {dict(by_status)}", len(deliveries), len(deliveries), True))
    outcome.checks.append(("deliveries of the pairs' past, not checked", seed.history, seed.history, True))
