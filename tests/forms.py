"""Submit forms the way a browser does: fetch the page, keep its CSRF token."""

from __future__ import annotations

import re

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, page: str) -> str:
    response = client.get(page)
    match = _TOKEN.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {page} ({response.status_code})"
    return match.group(1)


def submit(client, page: str, data: dict, action: str | None = None, **kwargs):
    """GET `page`, then POST `data` with its CSRF token to `action` (default: page)."""
    token = csrf_token(client, page)
    return client.post(action or page, data={**data, "csrf_token": token}, **kwargs)


def client_from(app, ip: str):
    """A fresh browser at another IP address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client
