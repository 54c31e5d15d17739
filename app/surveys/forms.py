"""Forms of the survey pages. A survey's questions are data, so its answers
are read by `emails.surveys.read_answers`; the form carries the CSRF token
(no GET changes state: a one-click link only opens the page)."""

from __future__ import annotations

from flask_wtf import FlaskForm


class SurveyForm(FlaskForm):
    """Only a CSRF token; the answers are read from the survey's own fields."""
