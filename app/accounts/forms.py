"""Forms of the accounts feature; every field is validated on the server."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app import clock
from app.accounts.models import (
    CONSULTANT_ANSWERS,
    LANGUAGES,
    ORGANISATION_KINDS,
    ORGANISATION_SIZES,
)


@lru_cache(maxsize=1)
def timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def normalise_email(value: str) -> str:
    """Syntax-checked (no DNS), normalised and lower-cased; raises ValueError."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    return result.normalized.lower()


def single_line(form, field) -> None:
    if field.data and ("\r" in field.data or "\n" in field.data):
        raise ValidationError("Please keep this on one line.")


def email_address(form, field) -> None:
    try:
        field.data = normalise_email(field.data or "")
    except ValueError as error:
        raise ValidationError(f"That does not look like an email address: {error}") from error


def iana_timezone(form, field) -> None:
    if field.data not in timezone_names():
        raise ValidationError(
            "Please choose a time zone from the list, such as Europe/Berlin or America/Chicago."
        )


class SignupForm(FlaskForm):
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
    organisation = StringField(
        "Organisation name",
        validators=[
            DataRequired("Please name the organisation you bring sociocracy into."),
            Length(max=200),
            single_line,
        ],
    )
    organisation_kind = SelectField(
        "Kind of organisation",
        choices={"": "Choose one…", **ORGANISATION_KINDS},
        validators=[DataRequired("Please choose the kind of organisation.")],
    )
    organisation_size = SelectField(
        "Size",
        choices={"": "Choose one…", **ORGANISATION_SIZES},
        validators=[DataRequired("Please choose roughly how many people it has.")],
    )
    could_pay_consultant = SelectField(
        "Could your organisation pay a professional consultant?",
        choices={"": "Choose one…", **CONSULTANT_ANSWERS},
        validators=[DataRequired("Please tell us whether your organisation could pay a consultant.")],
    )
    language = SelectField("Preferred language", choices=LANGUAGES, default="en")
    situation = TextAreaField(
        "Where are you now with sociocracy?",
        validators=[Optional(), Length(max=4000, message="Please keep this under 4,000 characters.")],
    )
    consent = BooleanField(
        "Send me the programme's emails",
        validators=[
            InputRequired("Hearth works by email: please agree to receive the programme's emails.")
        ],
    )


class LoginForm(FlaskForm):
    email = StringField(
        "Email address", validators=[DataRequired("Please enter your email address."), email_address]
    )
    next = HiddenField()


class ContinueForm(FlaskForm):
    """Only a CSRF token: the POST of its button is what uses a magic link."""


class LogoutForm(FlaskForm):
    pass


class PreferencesForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[DataRequired("Please tell us your name."), Length(max=120), single_line],
    )
    timezone = StringField(
        "Time zone", validators=[DataRequired("Please choose your time zone."), iana_timezone]
    )
    language = SelectField("Preferred language", choices=LANGUAGES)
    paused_until = DateField("Pause all email until", validators=[Optional()])

    def validate_paused_until(self, field) -> None:
        if field.data is None:
            return
        today = clock.now().date()
        if field.data <= today:
            raise ValidationError("Choose a date after today, or leave it empty to get emails.")
        if field.data > today + timedelta(days=366):
            raise ValidationError("A pause can last up to a year.")


class ChampionPreferencesForm(PreferencesForm):
    """A champion also describes the organisation they bring sociocracy into;
    a buddy or coordinator has none to describe."""

    organisation = StringField(
        "Organisation name",
        validators=[DataRequired("Please name your organisation."), Length(max=200), single_line],
    )
    organisation_kind = SelectField("Kind of organisation", choices=ORGANISATION_KINDS)
    organisation_size = SelectField("Size", choices=ORGANISATION_SIZES)
    situation = TextAreaField(
        "Where are you now with sociocracy?",
        validators=[Optional(), Length(max=4000, message="Please keep this under 4,000 characters.")],
    )


class DeleteForm(FlaskForm):
    confirm_email = StringField(
        "Type your email address to confirm",
        validators=[DataRequired("Type your email address to confirm.")],
    )
