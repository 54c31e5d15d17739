"""Survey pages, by signed link (no sign-in needed). GET shows the survey,
with the answer of a one-click link pre-selected; only the POST of Submit
saves (link scanners and bots open every link). Thin: the answers are read by
`emails.surveys.read_answers`, saved by one service call."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from app.buddies.forms import JoinForm
from app.buddies.models import BuddyProfile
from app.extensions import db
from app.surveys import service
from app.surveys.errors import InvitationNotFound
from app.surveys.forms import SurveyForm
from app.surveys.models import SurveyInvitation
from emails import surveys as definitions

bp = Blueprint("surveys", __name__)


@bp.app_template_global("survey_field")
def _survey_field(question) -> str:
    return definitions.field_name(question)


def _invitation(token: str) -> SurveyInvitation:
    try:
        return service.read_token(token)
    except InvitationNotFound as error:
        abort(404, str(error))


def _submitted_values(survey: definitions.Survey) -> dict:
    """What the person chose or typed, to show it again next to the errors."""
    values = {}
    for question in survey.questions:
        name = definitions.field_name(question)
        values[question.key] = (request.form.getlist(name) if question.kind == "multiple"
                                else request.form.get(name, ""))
    return values


def _page(invitation: SurveyInvitation, survey, values: dict, errors: dict, *, chosen: bool = False,
          status: int = 200):
    return render_template(
        "surveys/survey.html", survey=survey, invitation=invitation, values=values, errors=errors,
        chosen=chosen, form=SurveyForm(), preview=False,
    ), status


@bp.get("/surveys/<token>")
def survey_page(token: str):
    invitation = _invitation(token)
    survey = definitions.load(invitation.survey)
    values = service.saved_answers(invitation)
    chosen = survey.one_click(request.args.get("answer"))
    if chosen is not None:
        values[survey.first.key] = chosen  # pre-selected only: nothing is saved by a GET
    return _page(invitation, survey, values, {}, chosen=chosen is not None)


@bp.post("/surveys/<token>")
def survey_post(token: str):
    form = SurveyForm()
    if not form.validate_on_submit():
        abort(400, "Your browser did not send the form's security token. Please open the link again.")
    invitation = _invitation(token)
    survey = definitions.load(invitation.survey)
    answers, errors = definitions.read_answers(survey, request.form.to_dict(flat=False))
    if errors:
        return _page(invitation, survey, _submitted_values(survey), errors, status=422)
    service.submit(invitation, answers)
    db.session.commit()
    offer = survey.wants_buddy(answers) and BuddyProfile.of(invitation.person_id) is None
    return render_template("surveys/thanks.html", survey=survey, invitation=invitation,
                           token=token, offer_buddy=offer)


@bp.get("/surveys/<token>/become-a-buddy")
def become_buddy(token: str):
    """The buddy application with the graduate's details filled in; it posts
    to /buddies/join like any application (double opt-in included)."""
    person = _invitation(token).person
    form = JoinForm(formdata=None, name=person.name, email=person.email, timezone=person.timezone,
                    languages=[person.language])
    return render_template("buddies/join.html", form=form)
