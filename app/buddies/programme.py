"""The buddy programme as data: `emails/programme.toml` -> Programme.

Coordinators keep the qualification criteria, the consultants list and the
numbers of matching and care in that file; it is read again when it changes
(like the sequences), and a malformed file fails loudly with what to fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import time
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "emails" / "programme.toml"
_TIME = re.compile(r"\A([01]?\d|2[0-3]):([0-5]\d)\Z")
WEIGHTS = ("overlap", "language", "kind", "capacity", "years")


class ProgrammeError(Exception):
    """emails/programme.toml is missing or malformed; the message says where."""


@dataclass(frozen=True)
class Rule:
    answer: str
    allowed: frozenset[str]
    says: str
    refusal: str
    when_unknown: str  # "pass" | "fail"

    def passes(self, answers: dict) -> bool:
        value = answers.get(self.answer)
        if value is None or value == "":
            return self.when_unknown == "pass"
        return str(value) in self.allowed


@dataclass(frozen=True)
class Consultant:
    name: str
    url: str
    languages: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Matching:
    suggest_after_days: int
    waking_start: time
    waking_end: time
    min_overlap_hours: float
    require_shared_language: bool
    consent_days: int
    cool_down_days: int
    weights: dict[str, float]


@dataclass(frozen=True)
class Care:
    nudge_after_days: int
    at_risk_after_days: int
    low_energy: int
    burnout_words: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Programme:
    summary: str
    rules: tuple[Rule, ...]
    consultants: tuple[Consultant, ...]
    matching: Matching
    care: Care


_cache: dict[Path, tuple[int, Programme]] = {}


def load(path: Path | None = None) -> Programme:
    """The programme in `path` (default emails/programme.toml), cached per mtime."""
    path = path or PATH
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError as error:
        raise ProgrammeError(f"{path} is missing") from error
    cached = _cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ProgrammeError(f"{path.name} is not valid TOML: {error}") from error
    programme = parse(raw, path.name)
    _cache[path] = (mtime, programme)
    return programme


def parse(raw: dict, file: str = "programme.toml") -> Programme:
    def fail(where: str, message: str):
        raise ProgrammeError(f"{file}: {where}: {message}")

    qualification = raw.get("qualification") or {}
    rules = []
    for position, rule in enumerate(qualification.get("rule") or [], start=1):
        where = f"[[qualification.rule]] #{position}"
        for key in ("answer", "allowed", "says", "refusal"):
            if key not in rule:
                fail(where, f"needs {key} = ...")
        if not isinstance(rule["allowed"], list) or not all(isinstance(a, str) for a in rule["allowed"]):
            fail(where, 'allowed must be a list of answers, e.g. ["community", "nonprofit"]')
        when_unknown = rule.get("when_unknown", "fail")
        if when_unknown not in ("pass", "fail"):
            fail(where, 'when_unknown must be "pass" or "fail"')
        rules.append(
            Rule(rule["answer"], frozenset(rule["allowed"]), rule["says"].strip(),
                 rule["refusal"].strip(), when_unknown)
        )
    consultants = []
    for position, item in enumerate(raw.get("consultant") or [], start=1):
        if not item.get("name") or not str(item.get("url", "")).startswith(("https://", "http://")):
            fail(f"[[consultant]] #{position}", "needs a name and a url starting with https://")
        consultants.append(
            Consultant(item["name"], item["url"], tuple(item.get("languages") or ()), item.get("note", ""))
        )

    matching = raw.get("matching") or {}
    hours = matching.get("waking_hours", ["08:00", "21:00"])
    if not isinstance(hours, list) or len(hours) != 2:
        fail("[matching]", 'waking_hours must be ["HH:MM", "HH:MM"]')
    start, end = (_time(h, lambda m: fail("[matching] waking_hours", m)) for h in hours)
    if end <= start:
        fail("[matching]", "waking_hours must end after they start")
    weights = {name: 0.0 for name in WEIGHTS}
    for name, value in (matching.get("weights") or {}).items():
        if name not in WEIGHTS:
            fail("[matching.weights]", f"unknown weight {name!r} (known: {', '.join(WEIGHTS)})")
        if not isinstance(value, int | float) or value < 0:
            fail("[matching.weights]", f"{name} must be a number of at least 0")
        weights[name] = float(value)

    care = raw.get("care") or {}
    words = {
        language: tuple(w.casefold() for w in listed)
        for language, listed in (care.get("burnout_words") or {}).items()
    }
    return Programme(
        summary=" ".join(str(qualification.get("summary", "")).split()),
        rules=tuple(rules),
        consultants=tuple(consultants),
        matching=Matching(
            suggest_after_days=_whole(matching, "suggest_after_days", 7, fail),
            waking_start=start,
            waking_end=end,
            min_overlap_hours=float(matching.get("min_overlap_hours", 0)),
            require_shared_language=bool(matching.get("require_shared_language", True)),
            consent_days=_whole(matching, "consent_days", 5, fail),
            cool_down_days=_whole(matching, "cool_down_days", 14, fail),
            weights=weights,
        ),
        care=Care(
            nudge_after_days=_whole(care, "nudge_after_days", 28, fail),
            at_risk_after_days=_whole(care, "at_risk_after_days", 42, fail),
            low_energy=_whole(care, "low_energy", 2, fail),
            burnout_words=words,
        ),
    )


def _whole(section: dict, key: str, default: int, fail) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        fail(key, "must be a whole number of at least 0")
    return value


def _time(value: object, fail) -> time:
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match:
        fail(f'{value!r} is not a time of day; write "HH:MM", e.g. "08:00"')
    return time(int(match.group(1)), int(match.group(2)))
