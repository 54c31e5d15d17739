"""Forms of graduation and surveys. A survey's questions are data, so its
answers are read by `emails.surveys.read_answers`; the form carries the CSRF
token (no GET changes state: a one-click link only opens the page)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField
from wtforms.validators import DataRequired, Optional


class SurveyForm(FlaskForm):
    """Only a CSRF token; the answers are read from the survey's own fields."""


class GraduateForm(FlaskForm):
    person_id = HiddenField(validators=[DataRequired()])


class ResultsForm(FlaskForm):
    """The coordinators' filters of the survey results (a GET form, no CSRF)."""

    class Meta:
        csrf = False

    survey = SelectField("Survey", choices=[], validate_choice=False)
    cohort = SelectField("Cohort", choices=[], validate_choice=False)
    since = DateField("Answered from", validators=[Optional()])
    until = DateField("to", validators=[Optional()])
