"""Typed errors of graduation and surveys; `str(error)` is fit to show."""


class SurveyError(Exception):
    """Base class."""


class NotAChampion(SurveyError):
    """Only a confirmed champion graduates."""


class InvitationNotFound(SurveyError):
    """A survey link that was altered, or whose invitation is gone."""
