"""The pure format layer: rendering, composing, signed reply addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from emails import addresses, compose, render

CONTEXT = {
    "first_name": "Ada",
    "minutes": 30,
    "link": "https://hearth.example/auth/abc",
    "login_url": "https://hearth.example/login",
    "footer": {"reason": "Because you asked.", "links": [("Preferences", "https://hearth.example/me")]},
}


def test_render_gives_subject_text_and_inlined_html():
    rendered = render.render("confirm_signup", CONTEXT)
    assert rendered.subject == "Confirm your place in Hearth, Ada"
    assert "Confirm and continue:\nhttps://hearth.example/auth/abc" in rendered.text
    assert "{{" not in rendered.text and "Because you asked." in rendered.text
    assert 'style="' in rendered.html and 'href="https://hearth.example/auth/abc"' in rendered.html
    assert "prefers-color-scheme: dark" in rendered.html  # kept for dark mode


def test_a_missing_variable_is_a_template_error():
    with pytest.raises(render.TemplateError, match="'link' is undefined"):
        render.render("confirm_signup", {k: v for k, v in CONTEXT.items() if k != "link"})


def _compose(**changes):
    rendered = render.render("login_link", CONTEXT)
    args = dict(
        sender=compose.address("Hearth", "hello@hearth.example"),
        to=compose.address("Ada Okafor", "ada@example.org"),
        msg_id=compose.message_id(7, "1:auth:login:3", "secret", "hearth.example"),
        date=datetime(2027, 1, 4, 8, 0, tzinfo=UTC),
        reply_to=compose.address("Hearth", "reply+d7-aaaaaaaaaaaaaaaa@in.hearth.example"),
        headers={"Auto-Submitted": "auto-generated"},
    )
    args.update(changes)
    return compose.compose(rendered, **args)


def test_composed_message_round_trips():
    raw = _compose().as_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Message-ID"] == compose.message_id(7, "1:auth:login:3", "secret", "hearth.example")
    assert parsed["To"].addresses[0].display_name == "Ada Okafor"
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content().startswith("# Sign in to Hearth")


def test_message_id_is_deterministic_and_secret_dependent():
    one = compose.message_id(7, "k", "secret", "d.example")
    assert one == compose.message_id(7, "k", "secret", "d.example")
    assert one != compose.message_id(7, "k", "other", "d.example")


@pytest.mark.parametrize("name", ["Ada\r\nBcc: victim@example.org", "Ada\nX: y"])
def test_header_injection_is_impossible(name):
    with pytest.raises(compose.HeaderInjection):
        _compose(to=compose.address(name, "ada@example.org"))


def test_signed_reply_address_round_trips_and_refuses_forgeries():
    address = addresses.reply_address("secret", "in.hearth.example", "d", 42)
    assert address.startswith("reply+d42-") and address.endswith("@in.hearth.example")
    assert addresses.parse_reply_address("secret", address) == addresses.ReplyTarget("d", 42)
    assert addresses.parse_reply_address("secret", address.upper()) == addresses.ReplyTarget("d", 42)
    forged = address.replace("d42-", "d43-")
    assert addresses.parse_reply_address("secret", forged) is None
    assert addresses.parse_reply_address("other-secret", address) is None
    assert addresses.parse_reply_address("secret", "hello@hearth.example") is None


def test_reply_addresses_already_sent_keep_their_value():
    # Replies to mail already out must still verify: the MAC's text is a promise.
    assert (addresses.reply_address("secret", "in.hearth.example", "d", 42)
            == "reply+d42-ijmho7m5vn2dk25l@in.hearth.example")
