"""Typed errors of the accounts feature, each with what a person should do."""


class AccountsError(Exception):
    """Base class; `str(error)` is fit to show to the person."""


class TokenInvalid(AccountsError):
    """The sign-in link is unknown, used or expired."""


class NotFound(AccountsError):
    pass
