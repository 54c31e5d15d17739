"""The story's verbs: sign up, follow the emailed link, be a coordinator."""

from __future__ import annotations

import re

from tests.forms import submit

LINK = re.compile(r"http://hearth\.test(/auth/[A-Za-z0-9_\-]+)")

CHAMPION = {
    "name": "Ada Okafor",
    "email": "ada@example.org",
    "timezone": "Europe/Berlin",
    "organisation": "Riverside Food Co-op",
    "organisation_kind": "cooperative",
    "organisation_size": "10-49",
    "language": "en",
    "situation": "Our board wants to try sociocracy; half the members are sceptical.",
    "consent": "y",
}


def sign_up(client, **changes):
    return submit(client, "/signup", {**CHAMPION, **changes})


def link_path(received) -> str:
    match = LINK.search(received.text)
    assert match, f"no sign-in link in: {received.text}"
    return match.group(1)


def confirm_by_email(client, smtp, drain, **changes):
    """Sign up, take the confirmation email from the SMTP server, press Continue."""
    sign_up(client, **changes)
    drain()
    received = smtp.wait_for(to=changes.get("email", CHAMPION["email"]), subject="Confirm")
    path = link_path(received)
    response = submit(client, path, {})
    return response, path


def signed_up_champion(client, smtp, drain, **changes):
    """A champion who signed up and pressed Continue; the client is signed in."""
    response, _path = confirm_by_email(client, smtp, drain, **changes)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
