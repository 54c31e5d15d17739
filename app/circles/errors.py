"""What can go wrong with circles, one class per kind; the message says what
happened and what to do, for a form, the CLI or an inbound status."""


class CircleError(Exception):
    """A circle action that cannot be done as asked."""


class CircleNotFound(CircleError):
    pass


class PersonNotFound(CircleError):
    pass


class InvalidSchedule(CircleError):
    """A time zone, rule, start, duration or link that does not make a series."""


class CircleFull(CircleError):
    pass


class AlreadyMember(CircleError):
    pass


class NotAMeeting(CircleError):
    """A date or time that is not a (future, not cancelled) meeting of the circle."""


class CircleEnded(CircleError):
    pass


class PlacementNotFound(CircleError):
    pass


class RsvpLinkInvalid(CircleError):
    pass


class CalendarReplyRejected(CircleError):
    """A calendar reply that is read but not recorded; the message is the reason.
    The inbound pipeline keeps the message with this reason."""


class UnreadableCalendarReply(CalendarReplyRejected):
    pass


class UnknownSeries(CalendarReplyRejected):
    """The reply names a UID that is not this circle's series."""


class NotAMember(CalendarReplyRejected):
    """The attendee who answers is not a member of the circle."""


class NotAMeetingOfTheSeries(CalendarReplyRejected):
    """The RECURRENCE-ID names no meeting of the series (or a cancelled one)."""
