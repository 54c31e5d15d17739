"""Typed errors of the buddy programme; `str(error)` is fit to show to a person
(a form message, a CLI error, a short confirmation email of a reply command)."""


class BuddyError(Exception):
    """Base class: a buddy action that cannot happen, and why."""


class PersonNotFound(BuddyError):
    """No one with that address or id."""


class PairNotFound(BuddyError):
    """No pair with that id (perhaps removed with a deleted account)."""


class NotInPair(BuddyError):
    """The person is neither the champion nor the buddy of the pair (nor a coordinator)."""


class TooLateToObject(BuddyError):
    """The consent period is over: the pair was introduced (end it instead)."""


class NotApprovable(BuddyError):
    """The application cannot be approved or declined in its current state."""


class NoMatch(BuddyError):
    """No buddy can be matched with the champion now; the message says why."""


class CannotPropose(BuddyError):
    """This champion and buddy cannot be proposed (already paired, at capacity, ...)."""


class NotABuddy(BuddyError):
    """The person has no approved buddy profile to edit."""
