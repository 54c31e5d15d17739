"""Typed outcomes of processing one inbound message: each maps to a status
and a reason a coordinator can read."""


class InboundError(Exception):
    """A message we stored but will not log as a person's words."""

    status = "quarantined"


class TooLarge(InboundError):
    status = "refused"


class Unparseable(InboundError):
    status = "quarantined"


class UnknownReplyAddress(InboundError):
    status = "quarantined"


class SenderMismatch(InboundError):
    status = "quarantined"


class NeedsCoordinator(InboundError):
    """Nothing automatic fits (a feature not yet there, an unclear target)."""

    status = "quarantined"


class AutoReply(InboundError):
    status = "ignored"


class CalendarReplyIgnored(InboundError):
    """A calendar answer for no meeting of ours, or from someone not invited."""

    status = "ignored"


class NothingNew(InboundError):
    status = "ignored"
