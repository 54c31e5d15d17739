"""A believable programme for the dashboard's browser test and screenshots:
four cohorts, buddies and pairs, a circle, graduates with their answers,
emails over twelve weeks, a failed email and a quarantined reply. Written
straight into the database (fast, and no emails to send)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from app import clock
from app.accounts import service as accounts
from app.accounts.models import Enrollment, Organisation, Person
from app.buddies.models import BuddyProfile, Checkin, Concern, Pair
from app.circles import service as circles
from app.extensions import db
from app.inbound.models import InboundMessage
from app.outbox.models import Delivery, Unsubscribe
from app.surveys import service as surveys
from app.surveys.models import SurveyInvitation

NOW = datetime(2027, 6, 16, 10, 0, tzinfo=UTC)
FIRST = ["Ada", "Bea", "Chidi", "Dara", "Eun", "Femi", "Gala", "Hugo", "Ines", "Jon", "Kofi", "Lena",
         "Mira", "Nils", "Oona", "Pia", "Quinn", "Rosa", "Sami", "Tove", "Uma", "Vik", "Wen", "Yara"]
LAST = ["Okafor", "Lindqvist", "Mensah", "Novak", "Park", "Adeyemi", "Rossi", "Moreau", "Silva",
        "Berg", "Tanaka", "Costa"]
ORGS = ["Riverside Food Co-op", "Hillside School", "Harbour Housing", "Green Valley Farm",
        "Northside Youth Club", "The Commons Cafe"]


def programme(app) -> dict:
    rng = random.Random(6)
    clock.set(NOW)
    ids: dict = {"champions": [], "buddies": []}
    with app.app_context():
        orgs = [Organisation(name=n, kind="cooperative", size="10-49", created_at=NOW) for n in ORGS]
        db.session.add_all(orgs)
        db.session.flush()
        for number in range(6):
            buddy = Person(email=f"buddy{number}@example.org", name=f"{FIRST[-number - 1]} {LAST[number]}",
                           timezone="Europe/London", status="active", is_buddy=True,
                           created_at=NOW - timedelta(days=200), confirmed_at=NOW - timedelta(days=200))
            db.session.add(buddy)
            db.session.flush()
            db.session.add(BuddyProfile(person_id=buddy.id, status="approved" if number < 5 else "applied",
                                        languages=["en"], organisation_kinds=["cooperative"],
                                        years_experience=3 + number, capacity=2, created_at=buddy.created_at))
            ids["buddies"].append(buddy.id)
        for month, size in ((3, 14), (4, 12), (5, 10), (6, 6)):
            for n in range(size):
                joined = datetime(2027, month, 2 + n, 9, tzinfo=UTC)
                name = f"{FIRST[(n + month) % len(FIRST)]} {LAST[(n * 7 + month) % len(LAST)]}"
                champion = Person(email=f"{name.split()[0].lower()}.{month}{n}@example.org", name=name,
                                  timezone=rng.choice(["Europe/Berlin", "America/Chicago", "Asia/Tokyo"]),
                                  status="active", is_champion=True, created_at=joined, confirmed_at=joined,
                                  organisation_id=orgs[n % len(orgs)].id)
                db.session.add(champion)
                db.session.flush()
                db.session.add(Enrollment(person_id=champion.id, enrolled_at=joined,
                                          cohort_id=accounts.cohort_for(joined).id))
                ids["champions"].append((champion.id, month, n))
            for n in range(3):  # signed up, not confirmed yet
                db.session.add(Person(email=f"waiting.{month}{n}@example.org", name=f"Waiting {n}",
                                      timezone="UTC", status="pending", created_at=datetime(2027, month, 20, tzinfo=UTC)))
        db.session.flush()
        circle = circles.create_circle(name="Riverside circle", timezone="Europe/Berlin",
                                       rrule="FREQ=MONTHLY;BYDAY=1TU", start=datetime(2027, 7, 6, 18, 0),
                                       minutes=90, url="https://meet.example/riverside", capacity=8)
        other = circles.create_circle(name="Evening circle (Americas)", timezone="America/Chicago",
                                      rrule="FREQ=MONTHLY;BYDAY=2WE", start=datetime(2027, 7, 14, 18, 0),
                                      minutes=60, url="https://meet.example/evening", capacity=8)
        pair_ids = []
        for index, (champion_id, month, n) in enumerate(ids["champions"]):
            if month == 6 and n > 2:
                continue
            if n % 3 != 2:
                buddy_id = ids["buddies"][index % 5]
                introduced = datetime(2027, month, 10 + n, 9, tzinfo=UTC)
                pair = Pair(champion_id=champion_id, buddy_id=buddy_id, status="active", score=0.8 - n / 50,
                            reasons=["waking hours overlap 6h", "both speak English"], created_at=introduced,
                            introduced_at=introduced, last_activity_at=introduced)
                db.session.add(pair)
                db.session.flush()
                pair_ids.append(pair.id)
                for week in range(rng.randint(0, 4)):
                    at = introduced + timedelta(weeks=2 * week + 1)
                    if at < NOW:
                        db.session.add(Checkin(pair_id=pair.id, author_id=buddy_id, text="We talked.",
                                               energy=rng.randint(2, 5), at=at, recorded_at=at))
            elif month in (3, 4) and n < 6:
                circles.add_member((circle if n % 2 else other).id, champion_id)
        db.session.add(Pair(champion_id=ids["champions"][-1][0], buddy_id=ids["buddies"][4], status="suggested",
                            score=0.74, reasons=["waking hours overlap 5h", "both speak English",
                                                 "knows co-operatives"], created_at=NOW))
        first_pair = db.session.get(Pair, pair_ids[0])
        db.session.add(Concern(pair_id=first_pair.id, kind="silence", detail="no check-in for 6 weeks (since 2027-04-30)",
                               dedupe_key="seed:silence", created_at=NOW - timedelta(days=2)))
        db.session.add(Concern(pair_id=pair_ids[3], kind="burnout_words", detail="words of burnout: exhausted",
                               dedupe_key="seed:burnout", created_at=NOW - timedelta(days=5)))
        db.session.get(Person, ids["champions"][5][0]).paused_until = (NOW + timedelta(days=12)).date()
        for champion_id, _month, _n in ids["champions"][20:22]:
            db.session.add(Unsubscribe(person_id=champion_id, stream="all", how="page", created_at=NOW))
        db.session.commit()

        answers = [(5, 10, ["buddy", "circles"], "living"), (4, 9, ["buddy"], "adopting"),
                   (4, 8, ["emails", "buddy"], "adopting"), (3, 7, ["emails"], "experimenting"),
                   (5, 10, ["circles", "replies"], "living"), (2, 5, ["emails"], "stopped"),
                   (4, 9, ["buddy", "emails"], "experimenting"), (5, 9, ["buddy"], "adopting"),
                   (4, 6, ["circles"], "experimenting")]
        graduates = [c for c in ids["champions"] if c[1] in (3, 4)][:12]
        for number, (champion_id, month, _n) in enumerate(graduates):
            clock.set(datetime(2027, month + 2, 12 + number, 10, tzinfo=UTC))
            surveys.graduate(champion_id, how="journey_end" if number % 4 else "reply")
            if number < len(answers):
                helped, recommend, useful, where = answers[number]
                invitation = db.session.scalar(select(SurveyInvitation).where(
                    SurveyInvitation.person_id == champion_id, SurveyInvitation.survey == "graduation"))
                surveys.submit(invitation, {
                    "helped": helped, "recommend": recommend, "most_useful": useful, "where_now": where,
                    **({"missing": "More time with my buddy in the first weeks."} if helped <= 3 else {}),
                    **({"what_stopped": "Our chair left and nobody took the role."} if where == "stopped" else {}),
                    **({"proud_of": ["Our first consent round took twenty minutes.",
                                     "The sceptics asked to join the next circle.",
                                     "We wrote our first review date into the minutes."][number % 3]}
                       if number % 2 == 0 else {}),
                    "become_buddy": ["yes", "later", "no"][number % 3],
                })
        clock.set(NOW)
        db.session.commit()

        rows, week_counts = [], [18, 24, 31, 29, 40, 38, 52, 47, 55, 61, 58, 34]
        for week, count in enumerate(week_counts):
            for k in range(count):
                sent = NOW - timedelta(weeks=11 - week, days=2) + timedelta(minutes=37 * k)
                rows.append({"idempotency_key": f"seed:{week}:{k}", "person_id": None, "to_email": "x@example.org",
                             "stream": "onboarding", "template": "onboarding_welcome", "params": {},
                             "status": "sent", "created_at": sent, "due_at": sent, "next_attempt_at": sent,
                             "attempts": 1, "sent_at": min(sent, NOW), "smtp_code": 250})
        db.session.execute(insert(Delivery), rows)
        ada = db.session.get(Person, ids["champions"][0][0])
        db.session.add(Delivery(idempotency_key="seed:failed", person_id=ada.id, to_email=ada.email,
                                stream="onboarding", template="onboarding_sceptics", params={}, status="failed",
                                created_at=NOW, due_at=NOW, next_attempt_at=NOW, attempts=1, smtp_code=554,
                                last_error="554 5.7.1 Message rejected: suspected spam"))
        db.session.add(InboundMessage(
            dedupe_key="<seed@mail.example>", raw=b"Subject: Re: How is your champion doing?\r\n\r\nWe met.",
            size=60, received_via="webhook", received_at=NOW - timedelta(hours=3), status="quarantined",
            reason="sent from sam.private@mail.example, but this address belongs to ada.30@example.org or "
                   "buddy0@example.org", from_address="sam.private@mail.example",
            subject="Re: How is your champion doing, Sam?", kind="reply",
            text="We met on Tuesday and she ran her first consent round.\nenergy: 4\n\nSam"))
        coordinator = Person(email="cora@example.org", name="Cora Coordinator", timezone="Europe/Berlin",
                             status="active", is_coordinator=True, created_at=NOW - timedelta(days=300),
                             confirmed_at=NOW - timedelta(days=300))
        db.session.add(coordinator)
        db.session.commit()
        ids["coordinator"] = coordinator.id
        ids["ada"] = ada.id
    return ids
