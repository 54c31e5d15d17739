"""Surveys as data: `emails/surveys/<name>.toml` -> Survey, and reading answers.

Pure: no Flask, no database, no `app`. A survey is a list of questions of
five kinds (rating 1-5, nps 0-10, single choice, multiple choice, free text),
each optionally shown only when an earlier answer meets a condition. The
first question is answered with one click in the invitation email, so it must
be a rating, nps or single choice and have no condition. The format is
documented for coordinators in `emails/surveys/README.md`; `check()` lists
every problem, and `flask emails check` runs it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emails.content_files import load_cached

SURVEYS = Path(__file__).parent / "surveys"
SEQUENCES = Path(__file__).parent / "sequences"

KINDS = ("rating", "nps", "single", "multiple", "text")
SCALES = {"rating": (1, 5), "nps": (0, 10)}
ONE_CLICK_KINDS = ("rating", "nps", "single")
AUDIENCES = ("champion", "buddy")
TEXT_LIMIT = 4000
_KEY = re.compile(r"\A[a-z][a-z0-9_]{0,39}\Z")
_VALUE = re.compile(r"\A[a-z0-9][a-z0-9_-]{0,39}\Z")

_SURVEY_KEYS = {"name", "title", "intro", "audience", "sequence", "graduate_after_weeks",
                "buddy_offer", "question"}
_QUESTION_KEYS = {"key", "kind", "text", "hint", "required", "choices", "low", "high", "when"}
_CONDITION_KEYS = {"question", "in", "at_least", "at_most"}


class SurveyError(Exception):
    """A survey file is missing or malformed; the message names the file and question."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Condition:
    """Show a question only when the answer to an earlier `question` is one of
    `values`, or at least / at most a number (ratings and nps)."""

    question: str
    values: frozenset[str] | None = None
    at_least: int | None = None
    at_most: int | None = None

    def holds(self, answers: Mapping[str, object]) -> bool:
        answer = answers.get(self.question)
        if answer is None or answer == "" or answer == []:
            return False
        if self.values is not None:
            given = answer if isinstance(answer, list) else [answer]
            return any(str(value) in self.values for value in given)
        if not isinstance(answer, int):
            return False
        if self.at_least is not None and answer < self.at_least:
            return False
        return not (self.at_most is not None and answer > self.at_most)

    def describe(self, survey: Survey) -> str:
        """In words, for people who see every question (no JavaScript)."""
        earlier = survey.question(self.question)
        number = survey.questions.index(earlier) + 1 if earlier else "?"
        if self.values is not None:
            labels = [earlier.label_of(v) for v in sorted(self.values)] if earlier else sorted(self.values)
            return f"Only if your answer to question {number} was {' or '.join(labels)}."
        if self.at_least is not None and self.at_most is not None:
            return f"Only if your answer to question {number} was {self.at_least} to {self.at_most}."
        if self.at_least is not None:
            return f"Only if your answer to question {number} was {self.at_least} or more."
        return f"Only if your answer to question {number} was {self.at_most} or less."


@dataclass(frozen=True)
class Question:
    key: str
    kind: str
    text: str
    hint: str = ""
    required: bool = False
    choices: tuple[Choice, ...] = ()
    low: str = ""
    high: str = ""
    when: Condition | None = None

    @property
    def scale(self) -> tuple[int, ...]:
        if self.kind not in SCALES:
            return ()
        low, high = SCALES[self.kind]
        return tuple(range(low, high + 1))

    def options(self) -> list[Choice]:
        """Every answer a rating, nps or choice question offers, in order."""
        if self.kind in SCALES:
            return [Choice(str(n), self._number_label(n)) for n in self.scale]
        return list(self.choices)

    def _number_label(self, n: int) -> str:
        if n == self.scale[0] and self.low:
            return f"{n} ({self.low})"
        if n == self.scale[-1] and self.high:
            return f"{n} ({self.high})"
        return str(n)

    def label_of(self, value: object) -> str:
        for choice in self.options():
            if choice.value == str(value):
                return choice.label
        return str(value)

    def read(self, raw: str) -> object | None:
        """One submitted value as the answer it stands for; None when it is not one."""
        raw = (raw or "").strip()
        if self.kind in SCALES:
            return int(raw) if raw.lstrip("-").isdigit() and int(raw) in self.scale else None
        if self.kind in ("single", "multiple"):
            return raw if any(c.value == raw for c in self.choices) else None
        return raw


@dataclass(frozen=True)
class Survey:
    name: str
    title: str
    audience: str
    sequence: str
    questions: tuple[Question, ...]
    intro: str = ""
    graduate_after_weeks: int | None = None
    # (question, answer): that answer leads to the buddy application.
    buddy_offer: tuple[str, str] | None = None
    path: Path | None = field(default=None, compare=False)

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    @property
    def first(self) -> Question:
        return self.questions[0]  # load() refuses a survey without questions

    def one_click(self, value: str | None) -> object | None:
        """A value from a one-click link for the first question, or None."""
        return self.first.read(value) if value is not None else None

    def wants_buddy(self, answers: Mapping[str, object]) -> bool:
        if self.buddy_offer is None:
            return False
        question, answer = self.buddy_offer
        given = answers.get(question)
        return answer in given if isinstance(given, list) else given == answer


# -- reading answers ------------------------------------------------------------


def field_name(question: Question) -> str:
    """The form field of a question (prefixed, so no key can clash with csrf_token)."""
    return f"q-{question.key}"


def read_answers(survey: Survey, form: Mapping[str, Sequence[str]]) -> tuple[dict, dict[str, str]]:
    """Submitted values -> (answers, errors by question key).

    `form` maps field names to lists of values (a MultiDict's `to_dict(flat=False)`).
    Questions whose condition does not hold are dropped, never required. Empty
    answers are left out. Errors are sentences a person can act on.
    """
    answers: dict[str, object] = {}
    errors: dict[str, str] = {}
    for question in survey.questions:
        if question.when is not None and not question.when.holds(answers):
            continue
        raw = [v for v in form.get(field_name(question), []) if str(v).strip()]
        if not raw:
            if question.required:
                errors[question.key] = "Please answer this question."
            continue
        if question.kind == "multiple":
            chosen = {question.read(v) for v in raw}
            if None in chosen:
                errors[question.key] = "Please choose from the answers listed."
                continue
            answers[question.key] = [c.value for c in question.choices if c.value in chosen]
            continue
        if len(raw) > 1:
            errors[question.key] = "Please choose one answer."
            continue
        value = question.read(raw[0])
        if value is None or value == "":
            errors[question.key] = (
                f"Please choose a number from {question.scale[0]} to {question.scale[-1]}."
                if question.kind in SCALES else "Please choose one of the answers listed."
            )
            continue
        if question.kind == "text" and len(value) > TEXT_LIMIT:
            errors[question.key] = f"Please keep this under {TEXT_LIMIT:,} characters."
            continue
        answers[question.key] = value
    return answers, errors


# -- loading ----------------------------------------------------------------------

def load(name: str, directory: Path | None = None) -> Survey:
    """The survey in `<directory>/<name>.toml`, cached per modification time."""
    return load_cached((directory or SURVEYS) / f"{name}.toml", _parse_file, SurveyError, "survey")


def load_all(directory: Path | None = None) -> dict[str, Survey]:
    folder = directory or SURVEYS
    return {path.stem: load(path.stem, folder) for path in sorted(folder.glob("*.toml"))}


def names(directory: Path | None = None) -> list[str]:
    return sorted(path.stem for path in (directory or SURVEYS).glob("*.toml"))


def check(directory: Path | None = None, *, sequences_dir: Path | None = None) -> list[str]:
    """Every problem in every survey file, as sentences; [] when all is well."""
    problems: list[str] = []
    folder = directory or SURVEYS
    journeys = sequences_dir or SEQUENCES
    for path in sorted(folder.glob("*.toml")):
        survey, found = _parse_file(path)
        problems.extend(found)
        if survey is not None and not (journeys / f"{survey.sequence}.toml").is_file():
            problems.append(f"{path.name}: sequence {survey.sequence!r} does not exist "
                            f"(looked for {journeys / (survey.sequence + '.toml')})")
    return problems


def _parse_file(path: Path) -> tuple[Survey | None, list[str]]:
    file = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        return None, [f"{file}: not valid TOML: {error}"]
    except (OSError, UnicodeDecodeError) as error:
        return None, [f"{file}: cannot be read: {error}"]
    problems: list[str] = []

    def top(message: str) -> None:
        problems.append(f"{file}: {message}")

    for unknown in sorted(set(data) - _SURVEY_KEYS):
        top(f"unknown setting {unknown!r} (known: {', '.join(sorted(_SURVEY_KEYS))})")
    name = data.get("name", path.stem)
    if name != path.stem:
        top(f"name = {name!r} must match the file name {path.stem!r}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        top('needs a title = "..." (shown at the top of the survey page)')
        title = ""
    intro = data.get("intro", "")
    if not isinstance(intro, str):
        top("intro must be text")
        intro = ""
    audience = data.get("audience")
    if audience not in AUDIENCES:
        top(f"audience = {audience!r} must be one of {', '.join(AUDIENCES)}")
    sequence = data.get("sequence")
    if not isinstance(sequence, str) or not _KEY.match(sequence):
        top('needs a sequence = "..." (the journey that sends the invitation and reminders)')
        sequence = ""
    weeks = data.get("graduate_after_weeks")
    if weeks is not None:
        if audience != "champion":
            top("graduate_after_weeks only makes sense for audience = \"champion\"")
        elif not _is_int(weeks) or not 1 <= weeks <= 104:
            top(f"graduate_after_weeks = {weeks!r} must be a whole number of weeks from 1 to 104")
            weeks = None

    raw_questions = data.get("question", [])
    if not isinstance(raw_questions, list) or not all(isinstance(q, dict) for q in raw_questions):
        top("questions are written as [[question]] tables")
        raw_questions = []
    if not raw_questions:
        top("has no questions; add at least one [[question]] table")
    questions: list[Question] = []
    for position, raw in enumerate(raw_questions, start=1):
        key = raw.get("key")
        label = f"question {key!r}" if isinstance(key, str) else f"question #{position}"
        question = _parse_question(raw, questions, lambda m, label=label: top(f"{label}: {m}"))
        if question is not None:
            if any(q.key == question.key for q in questions):
                top(f"{label}: duplicate key; every question needs its own key")
                continue
            questions.append(question)
    if questions and len(questions) == len(raw_questions):
        first = questions[0]
        if first.kind not in ONE_CLICK_KINDS:
            top(f"question {first.key!r}: the first question is answered with one click in the "
                f"email, so it must be {', '.join(ONE_CLICK_KINDS)}, not {first.kind}")
        if first.when is not None:
            top(f"question {first.key!r}: the first question cannot have a condition")

    offer = data.get("buddy_offer")
    buddy_offer = None
    if offer is not None:
        found = None
        if isinstance(offer, dict) and set(offer) == {"question", "answer"}:
            found = next((q for q in questions if q.key == offer["question"]), None)
        if found is None or found.kind not in ("single", "multiple"):
            top('buddy_offer = { question = "...", answer = "..." } must name a single or '
                "multiple choice question of this survey")
        elif not any(c.value == offer["answer"] for c in found.choices):
            top(f"buddy_offer: {offer['answer']!r} is not an answer of question {found.key!r}")
        else:
            buddy_offer = (found.key, offer["answer"])
    if problems:
        return None, problems
    return Survey(name=name, title=title.strip(), audience=audience, sequence=sequence,
                  questions=tuple(questions), intro=" ".join(intro.split()),
                  graduate_after_weeks=weeks, buddy_offer=buddy_offer, path=path), []


def _parse_question(raw: dict, earlier: list[Question], fail) -> Question | None:
    count = 0

    def problem(message: str) -> None:
        nonlocal count
        count += 1
        fail(message)

    for unknown in sorted(set(raw) - _QUESTION_KEYS):
        problem(f"unknown setting {unknown!r} (known: {', '.join(sorted(_QUESTION_KEYS))})")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        problem('needs a key of lowercase letters, digits and "_", starting with a letter '
                '(e.g. key = "helped")')
    kind = raw.get("kind")
    if kind not in KINDS:
        problem(f"kind = {kind!r} must be one of {', '.join(KINDS)}")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        problem('needs the question itself: text = "..."')
    hint = raw.get("hint", "")
    if not isinstance(hint, str):
        problem("hint must be text")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        problem("required must be true or false")
    for side in ("low", "high"):
        if side in raw and (kind not in SCALES or not isinstance(raw[side], str)):
            problem(f"{side} is a label (text) for the ends of a rating or nps scale only")
    choices: list[Choice] = []
    if kind in ("single", "multiple"):
        listed = raw.get("choices")
        if not isinstance(listed, list) or len(listed) < 2:
            problem('needs at least two choices = [{ value = "yes", label = "Yes" }, ...]')
            listed = []
        for item in listed:
            if isinstance(item, str):
                item = {"value": item, "label": item}
            if (not isinstance(item, dict) or set(item) != {"value", "label"}
                    or not isinstance(item["value"], str) or not _VALUE.match(item["value"])
                    or not isinstance(item["label"], str) or not item["label"].strip()):
                problem(f"choice {item!r} must be {{ value = \"short-name\", label = \"What people read\" }}")
                continue
            if any(c.value == item["value"] for c in choices):
                problem(f"choice value {item['value']!r} appears twice")
                continue
            choices.append(Choice(item["value"], item["label"].strip()))
    elif "choices" in raw:
        problem("choices only make sense for single and multiple choice questions")
    when = None
    if "when" in raw:
        when = _parse_condition(raw["when"], earlier, problem)
    if count:
        return None
    return Question(key=key, kind=kind, text=text.strip(), hint=" ".join(hint.split()),
                    required=required, choices=tuple(choices), low=raw.get("low", ""),
                    high=raw.get("high", ""), when=when)


def _parse_condition(raw: object, earlier: list[Question], problem) -> Condition | None:
    shape = ('when = { question = "earlier_key", in = ["a", "b"] } (or at_least = N / '
             "at_most = N for a rating or nps)")
    if not isinstance(raw, dict) or not set(raw) <= _CONDITION_KEYS or "question" not in raw:
        problem(f"write the condition as {shape}")
        return None
    target = next((q for q in earlier if q.key == raw["question"]), None)
    if target is None:
        problem(f"when: {raw['question']!r} is not an earlier question of this survey")
        return None
    if target.kind == "text":
        problem(f"when: question {target.key!r} is free text; a condition needs a rating, nps or choice")
        return None
    bounds = [b for b in ("in", "at_least", "at_most") if b in raw]
    if not bounds or ("in" in raw and len(bounds) > 1):
        problem(f"write the condition as {shape}")
        return None
    if "in" in raw:
        values = raw["in"]
        if not isinstance(values, list) or not values:
            problem("when: in = [...] must list at least one answer")
            return None
        allowed = {c.value for c in target.options()}
        wrong = [v for v in values if str(v) not in allowed or isinstance(v, bool)]
        if wrong:
            problem(f"when: {', '.join(map(repr, wrong))} is not an answer of question {target.key!r}")
            return None
        return Condition(target.key, values=frozenset(str(v) for v in values))
    if target.kind not in SCALES:
        problem(f"when: at_least and at_most need a rating or nps question, not {target.kind}")
        return None
    low, high = raw.get("at_least"), raw.get("at_most")
    for bound in (low, high):
        if bound is not None and (not _is_int(bound) or bound not in target.scale):
            problem(f"when: {bound!r} is not on the scale of question {target.key!r} "
                    f"({target.scale[0]} to {target.scale[-1]})")
            return None
    if low is not None and high is not None and low > high:
        problem("when: at_least is larger than at_most, so the question would never show")
        return None
    return Condition(target.key, at_least=low, at_most=high)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = [
    "Choice",
    "Condition",
    "Question",
    "Survey",
    "SurveyError",
    "check",
    "field_name",
    "load",
    "load_all",
    "read_answers",
]
