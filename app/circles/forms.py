"""Forms of the circles pages; every field is checked on the server, and the
service checks the schedule itself (rule, zone, future start)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.circles.models import PURPOSES
from app.circles.service import CAPACITY, MINUTES

_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class CsrfOnlyForm(FlaskForm):
    """A button that POSTs: the CSRF token is the only field."""


class RsvpForm(FlaskForm):
    answer = HiddenField()


class CreateCircleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the circle a name."), Length(max=80)])
    purpose = SelectField("Purpose", choices={k: k.capitalize() for k in PURPOSES}, default="peer")
    cohort = StringField("Cohort (for a cohort circle)", validators=[Optional(), Length(max=20)])
    timezone = StringField("Time zone", validators=[DataRequired("Choose the circle's time zone.")],
                           default="Europe/Berlin")
    rrule = StringField("Recurrence (RFC 5545 RRULE)", default="FREQ=MONTHLY;BYDAY=1TU",
                        validators=[DataRequired("Give the recurrence, e.g. FREQ=MONTHLY;BYDAY=1TU.")])
    start = DateTimeLocalField("First meeting (the circle's local time)", format=_FORMATS,
                               validators=[InputRequired("Give the first meeting's date and time.")])
    minutes = IntegerField("Minutes", default=90,
                           validators=[InputRequired("How long is a meeting?"), NumberRange(*MINUTES)])
    url = StringField("Video-call link", validators=[DataRequired("Give the video-call link."),
                                                     Length(max=500)])
    capacity = IntegerField("Capacity", default=8, validators=[InputRequired(), NumberRange(*CAPACITY)])
    facilitator = StringField("Facilitator's email (optional)", validators=[Optional(), Length(max=254)])


class AddMemberForm(FlaskForm):
    email = StringField("Email address", validators=[DataRequired("Whose address?"), Length(max=254)])


class MeetingForm(FlaskForm):
    """Cancel one meeting, named by its local date."""

    day = DateField("Meeting date", validators=[InputRequired("Which meeting?")])


class RescheduleForm(FlaskForm):
    start = DateTimeLocalField("New first meeting (the circle's local time)", format=_FORMATS,
                               validators=[InputRequired("Give the new date and time.")])
    rrule = StringField("New recurrence (optional)", validators=[Optional(), Length(max=200)])
    minutes = IntegerField("Minutes (optional)", validators=[Optional(), NumberRange(*MINUTES)])


class MoveMeetingForm(FlaskForm):
    day = DateField("The meeting of", validators=[InputRequired("Which meeting moves?")])
    start = DateTimeLocalField("Moves to (the circle's local time)", format=_FORMATS,
                               validators=[InputRequired("Give the new date and time.")])


class LinkForm(FlaskForm):
    url = StringField("New video-call link", validators=[DataRequired("Give the new link."), Length(max=500)])


class FacilitationForm(FlaskForm):
    facilitator = StringField("Facilitator's email", validators=[Optional(), Length(max=254)])
    rotates = BooleanField("Rotate among willing members")


class PlacementForm(FlaskForm):
    circle = StringField("Another circle (id or name, optional)", validators=[Optional(), Length(max=80)])


class SettingsForm(FlaskForm):
    auto_placement = BooleanField("Place automatically when a circle fits")
    place_after_days = IntegerField("Propose a circle this many days after a champion confirms "
                                    "(empty: never by itself)",
                                    validators=[Optional(), NumberRange(0, 365)])

