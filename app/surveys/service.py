"""Decisions about graduation and surveys: who graduates when, the journey in
numbers, invitations with one-click answers, and saving a response.

A champion graduates at the end of their journey (`graduate_after_weeks` of
emails/surveys/graduation.toml after confirming, once the onboarding emails
are done), earlier when they reply "graduate", or when a coordinator says so.
Graduating writes the Graduation row, ends the onboarding journey (event
"graduated") and starts the `graduation` journey, which sends the thank-you
email with the survey's first question as one-click answers and at most two
reminders; the champion's buddy gets their own survey about the pairing.
Answering ends the reminders (event "survey_answered") and cancels any that
were written but not yet sent.

Functions add to the session and leave the commit to the caller, except
`tick_surveys(now)`, run by the clock, which commits after each champion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, exists, func, select, update

from app import clock, links
from app.accounts.models import Enrollment, Person
from app.buddies.models import Checkin, Pair
from app.circles import rsvps, schedule
from app.circles.models import Circle, Membership
from app.extensions import db
from app.journeys import service as journeys
from app.journeys.models import Journey
from app.outbox.models import Delivery
from app.surveys.errors import InvitationNotFound, NotAChampion
from app.surveys.models import Graduation, SurveyAnswer, SurveyInvitation, SurveyResponse
from emails import surveys as definitions

log = logging.getLogger(__name__)

GRADUATION = "graduation"
BUDDY_SURVEY = "buddy_pairing"
ANSWERED = "survey_answered"
GRADUATED = "graduated"
REMINDER_TEMPLATES = ("survey_reminder", "survey_last_reminder")
PER_TICK = 200


# -- links ------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="hearth-surveys")


def token_for(invitation_id: int) -> str:
    return _serializer().dumps([invitation_id])


def survey_url(invitation_id: int, **query: str) -> str:
    """The survey page; `answer=` pre-selects the first question (never saves)."""
    return links.url(f"/surveys/{token_for(invitation_id)}", **query)


def read_token(token: str) -> SurveyInvitation:
    """The invitation a survey link names; InvitationNotFound when altered or gone."""
    try:
        (invitation_id,) = _serializer().loads(token)
        invitation = db.session.get(SurveyInvitation, int(invitation_id))
    except (BadSignature, ValueError, TypeError) as error:
        raise InvitationNotFound("This survey link is not valid.") from error
    if invitation is None:
        raise InvitationNotFound("This survey is not open any more.")
    return invitation


def one_click_answers(survey: definitions.Survey, invitation_id: int) -> list[dict]:
    """The first question's answers as links, for the invitation email."""
    return [{"label": choice.label, "value": choice.value,
             "url": survey_url(invitation_id, answer=choice.value)}
            for choice in survey.first.options()]


# -- the journey in numbers ---------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    weeks: int
    checkin_count: int
    meetings_attended: int
    buddy_first_name: str


def _weeks(since: datetime | None, now: datetime) -> int:
    return max((now - since).days // 7, 0) if since is not None else 0


def meetings_attended(person_id: int, now: datetime) -> int:
    """Meetings that took place while the person was a member and to which
    they said yes (for that meeting, or for the whole series)."""
    count = 0
    for member in db.session.scalars(select(Membership).where(Membership.person_id == person_id)):
        circle = db.session.get(Circle, member.circle_id)
        until = min(member.left_at or now, now)
        if circle is None or until <= member.joined_at:
            continue
        for meeting in schedule.meetings(circle, member.joined_at, until):
            if not meeting.cancelled and rsvps.answer_of(circle.id, member, meeting.original_start) == "yes":
                count += 1
    return count


def _checkins(pair_ids: list[int]) -> int:
    if not pair_ids:
        return 0
    return db.session.scalar(select(func.count(Checkin.id)).where(Checkin.pair_id.in_(pair_ids))) or 0


def journey_summary(person: Person, now: datetime | None = None) -> Summary:
    """Weeks since confirming, check-ins of their pairings, circle meetings attended."""
    now = now or clock.now()
    pairs = db.session.scalars(
        select(Pair).where(Pair.champion_id == person.id, Pair.introduced_at.is_not(None))
        .order_by(Pair.introduced_at.desc())
    ).all()
    current = next((p for p in pairs if p.status == "active"), None)
    return Summary(
        weeks=_weeks(person.confirmed_at or person.created_at, now),
        checkin_count=_checkins([p.id for p in pairs]),
        meetings_attended=meetings_attended(person.id, now),
        buddy_first_name=current.buddy.first_name if current else "",
    )


# -- graduating -------------------------------------------------------------------


def _cohort_id(person_id: int) -> int | None:
    return db.session.scalar(select(Enrollment.cohort_id).where(Enrollment.person_id == person_id))


def invite(person: Person, survey_name: str, *, role: str, scope: str = "", pair_id: int | None = None,
           cohort_id: int | None = None, params: dict | None = None) -> SurveyInvitation:
    """Ask `person` to answer a survey: the invitation row, and the survey's
    journey (invitation email and reminders) with its one-click links.
    Inviting twice (same survey and scope) is a no-op."""
    existing = db.session.scalar(select(SurveyInvitation).where(
        SurveyInvitation.person_id == person.id, SurveyInvitation.survey == survey_name,
        SurveyInvitation.scope == scope))
    if existing is not None:
        return existing
    survey = definitions.load(survey_name)
    invitation = SurveyInvitation(person_id=person.id, survey=survey_name, scope=scope, role=role,
                                  pair_id=pair_id, cohort_id=cohort_id, created_at=clock.now())
    db.session.add(invitation)
    db.session.flush()
    journeys.start_journey(person.id, survey.sequence, scope=scope, params={
        **(params or {}),
        "link": survey_url(invitation.id),
        "survey_title": survey.title,
        "survey_question": survey.first.text,
        "survey_answers": one_click_answers(survey, invitation.id),
    })
    return invitation


def graduate(person_id: int, *, how: str, by_id: int | None = None, now: datetime | None = None) -> Graduation:
    """A champion graduates (once): the thank-you email with the survey, and a
    survey for the buddy of each active pairing. Raises NotAChampion."""
    now = now or clock.now()
    person = db.session.get(Person, person_id)
    if person is None or not person.is_champion or person.status != "active":
        raise NotAChampion(f"{person.email if person else 'That person'} is not a confirmed champion, "
                           "so there is nothing to graduate from.")
    existing = Graduation.of(person_id)
    if existing is not None:
        return existing
    summary = journey_summary(person, now)
    cohort_id = _cohort_id(person_id)
    graduation = Graduation(person_id=person_id, cohort_id=cohort_id, graduated_at=now, how=how,
                            by_id=by_id, weeks=summary.weeks, checkin_count=summary.checkin_count,
                            meetings_attended=summary.meetings_attended)
    db.session.add(graduation)
    journeys.record_event(person_id, GRADUATED)  # the onboarding emails end here
    invite(person, GRADUATION, role="champion", cohort_id=cohort_id, params={
        "weeks": summary.weeks, "checkin_count": summary.checkin_count,
        "meetings_attended": summary.meetings_attended, "buddy_first_name": summary.buddy_first_name,
    })
    for pair in db.session.scalars(
        select(Pair).where(Pair.champion_id == person_id, Pair.status == "active").order_by(Pair.id)
    ):
        invite(pair.buddy, BUDDY_SURVEY, role="buddy", scope=pair.scope, pair_id=pair.id,
               cohort_id=cohort_id, params={
                   "weeks": _weeks(pair.introduced_at, now), "checkin_count": _checkins([pair.id]),
                   "champion_name": person.name, "champion_first_name": person.first_name,
                   "pair_id": pair.id,
               })
    db.session.flush()
    return graduation


def graduate_by_reply(person_id: int) -> str:
    """The champion replied "graduate": what happened, for the inbound record.
    Raises NotAChampion."""
    existing = Graduation.of(person_id)
    if existing is not None:
        return f"command graduate: already graduated on {existing.graduated_at.date().isoformat()}"
    graduate(person_id, how="reply")
    return "command graduate: graduated; the thank-you email and survey are on their way"


def due_graduations(now: datetime, limit: int = PER_TICK) -> list[int]:
    """Champions whose journey has ended: `graduate_after_weeks` after
    confirming, with no onboarding email left to send. Coordinators, who sign
    up like champions, are left out."""
    weeks = definitions.load(GRADUATION).graduate_after_weeks
    if weeks is None:
        return []  # graduation only by reply or by a coordinator
    onboarding = exists().where(Journey.person_id == Person.id, Journey.sequence == "onboarding",
                                Journey.state == "active")
    return list(db.session.scalars(
        select(Person.id).where(
            Person.status == "active", Person.is_champion.is_(True), Person.is_coordinator.is_(False),
            Person.confirmed_at <= now - timedelta(weeks=weeks),
            ~exists().where(Graduation.person_id == Person.id),
            ~onboarding,
        ).order_by(Person.id).limit(limit)
    ))


@dataclass
class SurveyReport:
    graduated: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.graduated} champions graduated"
        return text + ("; problems: " + "; ".join(self.problems) if self.problems else "")


def tick_surveys(now: datetime | None = None) -> SurveyReport:
    """Run by the clock: graduate every champion whose journey has ended.
    One transaction per champion, so one bad row never holds back the rest."""
    now = now or clock.now()
    report = SurveyReport()
    try:
        due = due_graduations(now)
    except definitions.SurveyError as error:  # a coordinator's typo must not stop the clock
        report.problems.append(str(error))
        return report
    for person_id in due:
        try:
            graduate(person_id, how="journey_end", now=now)
            db.session.commit()
            report.graduated += 1
        except Exception as error:  # noqa: BLE001 - one champion's problem must not stop the others
            db.session.rollback()
            log.exception("graduation failed for person %s", person_id)
            report.problems.append(f"person {person_id}: {error}")
    return report


# -- answering --------------------------------------------------------------------


def response_of(invitation_id: int) -> SurveyResponse | None:
    return db.session.scalar(select(SurveyResponse).where(SurveyResponse.invitation_id == invitation_id))


def saved_answers(invitation: SurveyInvitation) -> dict:
    """What was answered so far, shaped as `read_answers` returns it (for the form)."""
    response = response_of(invitation.id)
    if response is None:
        return {}
    kinds = {q.key: q.kind for q in definitions.load(invitation.survey).questions}
    found: dict[str, object] = {}
    for row in db.session.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id == response.id)
                                  .order_by(SurveyAnswer.id)):
        kind = kinds.get(row.question)
        if kind == "multiple":
            found.setdefault(row.question, []).append(row.choice)
        elif kind in definitions.SCALES:
            found[row.question] = row.number
        elif kind is not None:
            found[row.question] = row.text if kind == "text" else row.choice
    return found


def _answer_rows(response_id: int, survey: definitions.Survey, answers: dict) -> list[SurveyAnswer]:
    rows = []
    for question in survey.questions:
        value = answers.get(question.key)
        if value is None:
            continue
        for one in value if isinstance(value, list) else [value]:
            row = SurveyAnswer(response_id=response_id, question=question.key)
            if question.kind in definitions.SCALES:
                row.number = int(one)
            elif question.kind == "text":
                row.text = str(one)
            else:
                row.choice = str(one)
            rows.append(row)
    return rows


def submit(invitation: SurveyInvitation, answers: dict) -> SurveyResponse:
    """Save what a person answered (answering again replaces it), end the
    reminders and cancel any written but not yet sent. The caller commits."""
    survey = definitions.load(invitation.survey)
    now = clock.now()
    response = response_of(invitation.id)
    if response is None:
        response = SurveyResponse(invitation_id=invitation.id, survey=invitation.survey,
                                  role=invitation.role, person_id=invitation.person_id,
                                  cohort_id=invitation.cohort_id, submitted_at=now)
        db.session.add(response)
    response.updated_at = now
    db.session.flush()
    db.session.execute(delete(SurveyAnswer).where(SurveyAnswer.response_id == response.id))
    db.session.add_all(_answer_rows(response.id, survey, answers))
    if invitation.answered_at is None:
        invitation.answered_at = now
    journeys.record_event(invitation.person_id, ANSWERED, scope=invitation.scope)
    _cancel_reminders(invitation, survey)
    db.session.flush()
    return response


def _cancel_reminders(invitation: SurveyInvitation, survey: definitions.Survey) -> int:
    """Reminders already written (held by the attention cap or a pause) never go out."""
    scope = f"@{invitation.scope}" if invitation.scope else ""
    prefix = f"{invitation.person_id}:{survey.sequence}{scope}:"
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.person_id == invitation.person_id, Delivery.status == "pending",
               Delivery.template.in_(REMINDER_TEMPLATES),
               func.substr(Delivery.idempotency_key, 1, len(prefix)) == prefix)
        .values(status="cancelled", last_error="the survey was answered")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def invitations_of(person_id: int) -> list[SurveyInvitation]:
    return list(db.session.scalars(
        select(SurveyInvitation).where(SurveyInvitation.person_id == person_id)
        .order_by(SurveyInvitation.id)
    ))


__all__ = [
    "graduate",
    "graduate_by_reply",
    "invite",
    "journey_summary",
    "read_token",
    "submit",
    "tick_surveys",
]
