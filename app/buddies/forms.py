"""Forms of the buddy programme; every field is validated on the server."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.accounts.forms import email_address, iana_timezone, single_line
from app.accounts.models import LANGUAGES, ORGANISATION_KINDS

CAPACITIES = {str(n): f"{n} champion{'s' if n > 1 else ''}" for n in range(1, 6)}
# An approved buddy may also stop new proposals for a while, keeping their pairs.
CAPACITIES_NOW = {"0": "No new champions for now", **CAPACITIES}


class CheckboxesField(SelectMultipleField):
    """A list of checkboxes (several answers), e.g. languages."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# What champions read of a buddy: asked when they apply, theirs to change
# later. Factories, so that each form keeps its own order of fields.
def _languages() -> CheckboxesField:
    return CheckboxesField(
        "Languages you can support a champion in",
        choices=LANGUAGES,
        validators=[DataRequired("Please choose at least one language.")],
    )


def _organisation_kinds() -> CheckboxesField:
    return CheckboxesField(
        "Kinds of organisation you have implemented sociocracy in",
        choices=ORGANISATION_KINDS,
        validators=[DataRequired("Please choose at least one kind of organisation.")],
    )


def _bio() -> TextAreaField:
    return TextAreaField(
        "A short introduction",
        validators=[
            DataRequired("Please write a few sentences about yourself for your future champions."),
            Length(max=1500, message="Please keep this under 1,500 characters."),
        ],
    )


class JoinForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[DataRequired("Please tell us your name."), Length(max=120), single_line],
    )
    email = StringField(
        "Email address", validators=[DataRequired("We need an email address to reach you."), email_address]
    )
    timezone = StringField(
        "Time zone", validators=[DataRequired("Please choose your time zone."), iana_timezone]
    )
    languages = _languages()
    years_experience = IntegerField(
        "Years of experience with sociocracy",
        validators=[
            InputRequired("Please tell us roughly how many years (0 is a fine answer)."),
            NumberRange(min=0, max=60, message="Please give a number of years between 0 and 60."),
        ],
    )
    organisation_kinds = _organisation_kinds()
    bio = _bio()
    capacity = SelectField(
        "How many champions can you support at once?",
        choices=CAPACITIES,
        default="1",
        validators=[DataRequired("Please choose how many champions you can support.")],
    )
    consent = BooleanField(
        "Send me the buddy programme's emails",
        validators=[
            InputRequired("Hearth works by email: please agree to receive the buddy programme's emails.")
        ],
    )


class ProfileForm(FlaskForm):
    """An approved buddy's own profile, from /me/buddy."""

    languages = _languages()
    organisation_kinds = _organisation_kinds()
    bio = _bio()
    capacity = SelectField(
        "How many champions can you support at once?",
        choices=CAPACITIES_NOW,
        validators=[InputRequired("Please choose how many champions you can support.")],
    )


class ContinueForm(FlaskForm):
    """Only a CSRF token: the POST of its button is what confirms."""


class ObjectForm(FlaskForm):
    """Only a CSRF token: the POST of its button is the objection."""


class EndPairForm(FlaskForm):
    reason = TextAreaField(
        "Anything you would like the coordinators to know (optional)",
        validators=[Optional(), Length(max=2000, message="Please keep this under 2,000 characters.")],
    )


# -- coordinators --------------------------------------------------------------------


class PersonActionForm(FlaskForm):
    person_id = HiddenField(validators=[DataRequired()])
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class ProposeForm(FlaskForm):
    champion_id = HiddenField(validators=[DataRequired()])
    # Empty: the suggestion (or the best candidate).
    buddy_id = SelectField("Buddy", choices=[], validate_choice=False)


class AutoMatchingForm(FlaskForm):
    on = HiddenField(validators=[DataRequired()])


class CoordinatorEndForm(FlaskForm):
    pair_id = HiddenField(validators=[DataRequired()])
    reason = StringField(
        "Reason", validators=[DataRequired("Please give a reason."), Length(max=500)]
    )


class OverrideForm(FlaskForm):
    person_id = HiddenField(validators=[DataRequired()])
    qualifies = SelectField("Qualifies", choices={"yes": "qualifies", "no": "does not qualify"})
    reason = StringField(
        "Reason", validators=[DataRequired("Please give a reason for the override."), Length(max=500)]
    )


class ResolveForm(FlaskForm):
    concern_id = HiddenField(validators=[DataRequired()])
