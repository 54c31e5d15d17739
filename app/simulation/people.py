"""Generated people and what they write back: a small built-in set of
realistic check-ins, questions and notes, chosen by a seeded random source so
that a run can be repeated exactly."""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST = ["Ada", "Bram", "Chiara", "Dmitri", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas",
         "Kavya", "Lena", "Mateo", "Nia", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tove",
         "Uma", "Vikram", "Wanjiru", "Xavier", "Yara", "Zeno"]
LAST = ["Okafor", "Jansen", "Rossi", "Ivanov", "Yilmaz", "Adeyemi", "Lindqvist", "Tanaka",
        "Moreno", "Becker", "Rao", "Fischer", "Silva", "Mensah", "Novak", "Haddad"]
ZONES = ["Europe/Berlin", "Europe/London", "Europe/Madrid", "America/New_York",
         "America/Sao_Paulo", "Africa/Nairobi", "Asia/Kolkata", "Australia/Melbourne"]
KINDS = ["community", "cooperative", "nonprofit", "school", "faith", "company"]
SIZES = ["1-9", "10-49", "50-249", "250+"]
ORGANISATIONS = ["Riverside Food Co-op", "Northgate Housing Association", "Green Lane School",
                 "St Anne's Parish", "Makers' Commons", "Tenants Together", "Open Bike Workshop",
                 "Harbour Youth Club", "Seed Library Network", "Wild Meadow Collective"]
SITUATIONS = [
    "Our board wants to try sociocracy; half the members are sceptical.",
    "I am the only one who has read about it and I feel I have to do everything.",
    "We tried consent decisions once and the meeting ran two hours over.",
    "Our founder decides everything; the rest of us want a say.",
]

CHECKINS = [
    "We met on Tuesday and talked through the first consent round. It went better than expected.\n\nenergy: 4",
    "Short call this week. The sceptics in her board are getting louder, we planned how to answer.\n\nenergy: 3",
    "We did not manage to meet, both of us were ill. Next week again.",
    "Great session: they ran their first election by consent and it took twenty minutes.\n\nenergy: 5",
    "She is tired. Everything lands on her desk and the others wait. We talked about roles.\n\nenergy: 2",
    "We reviewed their first policy with a review date. Good progress.",
]
CHAMPION_NOTES = [
    "Thank you, this helps. We tried the rounds in our last meeting.",
    "Honestly it is hard right now, people say it takes too long.",
    "We had our first proper consent decision this week!",
    "Quick update: we are still getting started, nothing to report yet.",
]
QUESTIONS = [
    "How do we handle someone who objects to everything?",
    "Can we use consent for the budget, or only for policies?",
    "What do I say when people tell me this is just another fad?",
    "How long should a review date be for a first experiment?",
    "Who should facilitate when I am the one proposing?",
]
OUT_OF_OFFICE = "I am away until next Monday with limited access to email. I will reply when I am back."


@dataclass(frozen=True)
class Champion:
    name: str
    email: str
    timezone: str
    organisation: str
    kind: str
    size: str
    situation: str
    bounces: bool  # the address does not exist: the first programme email bounces
    away: bool  # answers every programme email with an out-of-office reply

    def signup_form(self) -> dict:
        return {"name": self.name, "email": self.email, "timezone": self.timezone,
                "organisation": self.organisation, "organisation_kind": self.kind,
                "organisation_size": self.size, "could_pay_consultant": "no", "language": "en",
                "situation": self.situation}


@dataclass(frozen=True)
class Buddy:
    name: str
    email: str
    timezone: str
    capacity: int

    def application(self) -> dict:
        return {"name": self.name, "email": self.email, "timezone": self.timezone,
                "languages": ["en"], "years_experience": 5, "capacity": self.capacity,
                "organisation_kinds": KINDS, "bio": "Facilitator in a housing co-op for years."}


def _name(rng: random.Random, index: int) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}.{index}"


def champions(rng: random.Random, count: int) -> list[Champion]:
    people = []
    for index in range(count):
        name, local = _name(rng, index)
        people.append(Champion(
            name=name, email=f"{local}@champions.example", timezone=rng.choice(ZONES),
            organisation=rng.choice(ORGANISATIONS),
            # Mostly groups that qualify for a buddy; some companies and big ones do not.
            kind=rng.choices(KINDS, weights=[5, 5, 5, 2, 2, 1])[0],
            size=rng.choices(SIZES, weights=[4, 5, 2, 1])[0],
            situation=rng.choice(SITUATIONS),
            bounces=rng.random() < 0.03, away=rng.random() < 0.05,
        ))
    return people


def buddies(rng: random.Random, count: int) -> list[Buddy]:
    people = []
    for index in range(count):
        name, local = _name(rng, index)
        people.append(Buddy(name=name, email=f"{local}@buddies.example",
                            timezone=rng.choice(ZONES[:5]), capacity=rng.choice([2, 3, 4])))
    return people
