"""Forms of the coordinators' dashboard; every field is validated on the server."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class ButtonForm(FlaskForm):
    """Only a CSRF token: pressing the button is the action."""

    next = HiddenField()


class CancelForm(FlaskForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])
    next = HiddenField()


class CheckinForm(FlaskForm):
    pair_id = StringField("Pair", validators=[DataRequired("Choose the pair it belongs to.")])
    author = SelectField("Written by", choices={"": "its sender", "champion": "the champion",
                                                "buddy": "the buddy"}, validate_choice=True)
    next = HiddenField()


class DiscardForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired("Please give a reason."), Length(max=500)])
    next = HiddenField()
