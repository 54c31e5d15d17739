"""Signup to /me over HTTP, with the email taken from a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.accounts.models import Enrollment, LoginToken, Person
from app.extensions import db, limiter
from app.outbox.models import Delivery
from tests.forms import submit
from tests.story import CHAMPION, confirm_by_email, link_path, sign_up


def test_signup_confirm_and_land_on_me(client, smtp, drain, app):
    response = sign_up(client)
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)

    drain()
    email = smtp.wait_for(to="ada@example.org", subject="Confirm your place in Hearth")
    assert email.message["Message-ID"].endswith("@hearth.test>")
    assert email.message["Reply-To"].addresses[0].addr_spec.startswith("reply+d")
    assert email.message["Auto-Submitted"] == "auto-generated"
    assert email.html and "Confirm and continue" in email.html
    path = link_path(email)

    continue_page = client.get(path)
    assert continue_page.status_code == 200
    assert "Continue" in continue_page.get_data(as_text=True)

    response = submit(client, path, {})
    assert response.status_code == 302
    assert response.headers["Location"] == "/me"
    me = client.get("/me").get_data(as_text=True)
    assert "Hello, Ada" in me and "Riverside Food Co-op" in me

    with app.app_context():
        person = Person.by_email("ADA@Example.org")
        assert person.status == "active" and person.is_champion
        enrollment = db.session.scalar(select(Enrollment).where(Enrollment.person_id == person.id))
        assert enrollment.cohort.name == person.created_at.strftime("%Y-%m")


def test_token_rests_only_as_a_hash_and_leaves_the_outbox_once_sent(client, smtp, drain, app):
    sign_up(client)
    drain()
    path = link_path(smtp.wait_for(to="ada@example.org"))
    raw = path.rsplit("/", 1)[1]
    with app.app_context():
        token = db.session.scalar(select(LoginToken))
        assert token.token_hash != raw and len(token.token_hash) == 64
        delivery = db.session.scalar(select(Delivery))
        assert delivery.status == "sent" and delivery.secret_params is None
        assert raw not in str(delivery.params)


def test_get_and_head_do_not_use_the_link(client, smtp, drain):
    sign_up(client)
    drain()
    path = link_path(smtp.wait_for(to="ada@example.org"))
    for _ in range(3):
        assert client.get(path).status_code == 200
        assert client.head(path).status_code == 200
    assert client.get("/me").status_code == 302  # still not signed in
    assert submit(client, path, {}).status_code == 302


def test_a_link_works_once(client, smtp, drain, app):
    response, path = confirm_by_email(client, smtp, drain)
    assert response.status_code == 302
    other = app.test_client()
    again = submit(other, "/login", {}, action=path)
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    assert other.get("/me").status_code == 302


def test_an_expired_link_says_so_and_offers_a_new_one(client, smtp, drain):
    sign_up(client)
    drain()
    path = link_path(smtp.wait_for(to="ada@example.org"))
    clock.set(clock.now() + timedelta(minutes=31))
    page = client.get(path)
    assert page.status_code == 410
    assert "expired" in page.get_data(as_text=True)
    assert submit(client, "/login", {}, action=path).status_code == 410


def test_post_without_csrf_is_refused_and_keeps_the_link(client, smtp, drain):
    sign_up(client)
    drain()
    path = link_path(smtp.wait_for(to="ada@example.org"))
    refused = client.post(path, data={})
    assert refused.status_code == 400
    assert submit(client, path, {}).status_code == 302


def test_signup_without_csrf_is_refused_and_saves_nothing(client, app):
    response = client.post("/signup", data=CHAMPION)
    assert response.status_code == 422
    assert "security token" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Person.id))) == 0


def test_same_page_for_known_and_unknown_addresses(client, smtp, drain):
    confirm_by_email(client, smtp, drain)
    fresh = client.application.test_client()
    known = submit(fresh, "/login", {"email": "ada@example.org"})
    unknown = submit(fresh, "/login", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True).replace("ada@", "X@") == unknown.get_data(
        as_text=True
    ).replace("nobody@", "X@")
    drain()
    assert smtp.to("ada@example.org")[-1].subject == "Your sign-in link for Hearth"
    assert smtp.to("nobody@example.org") == []


def test_signing_up_again_with_a_confirmed_address_sends_a_sign_in_link(client, smtp, drain, app):
    confirm_by_email(client, smtp, drain)
    again = sign_up(app.test_client(), name="Someone Else")
    assert again.status_code == 200
    drain()
    assert smtp.to("ada@example.org")[-1].subject == "You already have a place in Hearth"
    with app.app_context():
        assert Person.by_email("ada@example.org").name == "Ada Okafor"


def test_email_is_unique_case_insensitively(client, smtp, drain, app):
    sign_up(client, email="Ada@Example.ORG")
    sign_up(app.test_client(), email="ada@example.org")
    with app.app_context():
        assert db.session.scalar(select(func.count(Person.id))) == 1


def test_sign_in_link_brings_you_back_to_a_local_next_page(client, smtp, drain):
    confirm_by_email(client, smtp, drain)
    fresh = client.application.test_client()
    submit(fresh, "/login?next=/me/delete", {"email": "ada@example.org", "next": "/me/delete"}, action="/login")
    drain()
    path = link_path(smtp.to("ada@example.org")[-1])
    response = submit(fresh, path, {})
    assert response.headers["Location"] == "/me/delete"


def test_open_redirects_are_ignored(client, smtp, drain):
    confirm_by_email(client, smtp, drain)
    for target in ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", "http:/evil"]:
        limiter.reset()  # five sign-ins for one address would be rate limited
        fresh = client.application.test_client()
        submit(fresh, "/login", {"email": "ada@example.org", "next": target})
        drain()
        path = link_path(smtp.to("ada@example.org")[-1])
        response = submit(fresh, path, {})
        assert response.headers["Location"] == "/me", target


def test_logout_needs_a_post(client, smtp, drain):
    confirm_by_email(client, smtp, drain)
    assert client.get("/logout").status_code == 200
    assert client.get("/me").status_code == 200  # GET changed nothing
    response = submit(client, "/logout", {})
    assert response.status_code == 302
    assert client.get("/me").status_code == 302
