"""What the coordinators read: survey results per question for a cohort or a
date range, counted by the database, and the rows of
`flask export survey-responses`. Lists and numbers, never decisions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from app.accounts.models import Cohort, Person
from app.extensions import db
from app.surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse
from emails import surveys as definitions

TEXTS_SHOWN = 50


@dataclass(frozen=True)
class Filters:
    survey: str
    cohort_id: int | None = None
    since: date | None = None  # answered on or after (UTC day)
    until: date | None = None  # answered on or before (UTC day)

    def where(self, submitted, cohort) -> list:
        clauses = []
        if self.cohort_id is not None:
            clauses.append(cohort == self.cohort_id)
        if self.since is not None:
            clauses.append(submitted >= datetime.combine(self.since, time.min, UTC))
        if self.until is not None:
            clauses.append(submitted < datetime.combine(self.until + timedelta(days=1), time.min, UTC))
        return clauses


@dataclass
class Bucket:
    value: str
    label: str
    count: int


@dataclass
class QuestionResult:
    question: definitions.Question
    answered: int = 0
    buckets: list[Bucket] = field(default_factory=list)
    average: float | None = None
    nps: int | None = None
    texts: list[tuple[datetime, str]] = field(default_factory=list)


@dataclass
class Results:
    survey: definitions.Survey
    invited: int
    responses: int
    questions: list[QuestionResult]

    @property
    def response_rate(self) -> int | None:
        return round(100 * self.responses / self.invited) if self.invited else None


def net_promoter_score(counts: dict[int, int]) -> int | None:
    """% promoters (9-10) minus % detractors (0-6), rounded; None without answers."""
    total = sum(counts.values())
    if not total:
        return None
    promoters = sum(n for score, n in counts.items() if score >= 9)
    detractors = sum(n for score, n in counts.items() if score <= 6)
    return round(100 * (promoters - detractors) / total)


def _responses(filters: Filters):
    return select(SurveyResponse.id).where(
        SurveyResponse.survey == filters.survey,
        *filters.where(SurveyResponse.submitted_at, SurveyResponse.cohort_id),
    )


def results(filters: Filters) -> Results:
    survey = definitions.load(filters.survey)
    chosen = _responses(filters).subquery()
    responses = db.session.scalar(select(func.count()).select_from(chosen)) or 0
    invited = db.session.scalar(
        select(func.count(SurveyInvitation.id)).where(
            SurveyInvitation.survey == filters.survey,
            *filters.where(SurveyInvitation.created_at, SurveyInvitation.cohort_id),
        )
    ) or 0
    counts: dict[tuple[str, str], int] = {}
    answered: dict[str, int] = {}
    rows = db.session.execute(
        select(SurveyAnswer.question, SurveyAnswer.number, SurveyAnswer.choice, func.count(SurveyAnswer.id))
        .where(SurveyAnswer.response_id.in_(select(chosen.c.id)), SurveyAnswer.text.is_(None))
        .group_by(SurveyAnswer.question, SurveyAnswer.number, SurveyAnswer.choice)
    ).all()
    for question, number, choice, count in rows:
        value = str(number) if number is not None else choice
        counts[(question, value)] = count
    for question, people in db.session.execute(
        select(SurveyAnswer.question, func.count(func.distinct(SurveyAnswer.response_id)))
        .where(SurveyAnswer.response_id.in_(select(chosen.c.id)))
        .group_by(SurveyAnswer.question)
    ).all():
        answered[question] = people
    found = []
    for question in survey.questions:
        result = QuestionResult(question, answered=answered.get(question.key, 0))
        if question.kind == "text":
            result.texts = [
                (at, text) for at, text in db.session.execute(
                    select(SurveyResponse.submitted_at, SurveyAnswer.text)
                    .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
                    .where(SurveyAnswer.question == question.key, SurveyAnswer.text.is_not(None),
                           SurveyAnswer.response_id.in_(select(chosen.c.id)))
                    .order_by(SurveyResponse.submitted_at.desc(), SurveyAnswer.id.desc())
                    .limit(TEXTS_SHOWN)
                )
            ]
        else:
            result.buckets = [Bucket(c.value, c.label, counts.get((question.key, c.value), 0))
                              for c in question.options()]
            if question.kind in definitions.SCALES:
                by_score = {int(b.value): b.count for b in result.buckets}
                total = sum(by_score.values())
                result.average = (sum(s * n for s, n in by_score.items()) / total) if total else None
                if question.kind == "nps":
                    result.nps = net_promoter_score(by_score)
        found.append(result)
    return Results(survey=survey, invited=invited, responses=responses, questions=found)


def cohorts() -> list[Cohort]:
    return list(db.session.scalars(select(Cohort).order_by(Cohort.starts_on.desc())))


def cohort_named(name: str) -> Cohort | None:
    return db.session.scalar(select(Cohort).where(Cohort.name == name))


# -- the export -----------------------------------------------------------------------


def _cell(question: definitions.Question, values: list) -> str:
    if not values:
        return ""
    if question.kind == "multiple":
        return ";".join(str(v) for v in values)
    return str(values[0])


def export_header(filters: Filters | None = None) -> list[str]:
    return ["id", "survey", "role", "email", "cohort", "submitted_at", "updated_at",
            *(q.key for q in _questions(filters))]


def _questions(filters: Filters | None) -> list[definitions.Question]:
    """One column per question: of the chosen survey, or of every survey in turn."""
    chosen = [definitions.load(filters.survey)] if filters and filters.survey else (
        definitions.load_all().values())
    seen: dict[str, definitions.Question] = {}
    for survey in chosen:
        for question in survey.questions:
            seen.setdefault(question.key, question)
    return list(seen.values())


def export_rows(filters: Filters | None = None, batch: int = 1000) -> Iterator[list]:
    """One row per response, oldest first, one column per question."""
    questions = _questions(filters)
    cohorts_by_id = dict(db.session.execute(select(Cohort.id, Cohort.name)).all())
    query = select(SurveyResponse, Person.email).outerjoin(Person, Person.id == SurveyResponse.person_id)
    if filters is not None and filters.survey:
        query = query.where(SurveyResponse.survey == filters.survey,
                            *filters.where(SurveyResponse.submitted_at, SurveyResponse.cohort_id))
    after = 0
    while True:
        page = db.session.execute(
            query.where(SurveyResponse.id > after).order_by(SurveyResponse.id).limit(batch)
        ).all()
        if not page:
            return
        ids = [response.id for response, _email in page]
        values: dict[tuple[int, str], list] = {}
        for row in db.session.scalars(
            select(SurveyAnswer).where(SurveyAnswer.response_id.in_(ids)).order_by(SurveyAnswer.id)
        ):
            value = row.number if row.number is not None else row.choice if row.choice is not None else row.text
            values.setdefault((row.response_id, row.question), []).append(value)
        for response, email in page:
            yield [response.id, response.survey, response.role, email or "",
                   cohorts_by_id.get(response.cohort_id, ""), response.submitted_at.isoformat(),
                   response.updated_at.isoformat(),
                   *(_cell(q, values.get((response.id, q.key), [])) for q in questions)]
        after = ids[-1]
