"""Sealed values open only with the SECRET_KEY that sealed them, whichever
app of the process asks (the key's cipher is kept per key, not per process)."""

from __future__ import annotations

import pytest
from flask import Flask

from app import sealed


def _app(secret: str) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret
    return app


def test_a_sealed_value_opens_with_its_own_key_only():
    with _app("first-key").app_context():
        token = sealed.seal({"token": "abc"})
        assert sealed.unseal(token) == {"token": "abc"}
    with _app("second-key").app_context(), pytest.raises(ValueError, match="SECRET_KEY"):
        sealed.unseal(token)
    with _app("first-key").app_context():
        assert sealed.unseal(token) == {"token": "abc"}
