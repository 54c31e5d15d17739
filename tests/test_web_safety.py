"""Cross-cutting promises of the web app: no state change without a form's
CSRF token, links from BASE_URL only, safe headers and cookies."""

from __future__ import annotations

from sqlalchemy import func, select

from app.accounts import service
from app.accounts.models import Person
from app.extensions import db
from app.outbox import service as outbox
from tests.story import CHAMPION, confirm_by_email, link_path

# Routes that take a POST without a session or CSRF form, each authenticated otherwise.
CSRF_EXEMPT = {"/inbound/mime"}  # a bearer token authenticates it (tests/inbound)


def test_every_post_route_refuses_a_missing_csrf_token(app, client, smtp, drain):
    confirm_by_email(client, smtp, drain)
    posts = [r for r in app.url_map.iter_rules() if "POST" in r.methods and r.rule not in CSRF_EXEMPT]
    assert len(posts) >= 6
    for rule in posts:
        path = rule.rule.replace("<token>", "not-a-token")
        response = client.post(path, data={"email": "ada@example.org", "confirm_email": "ada@example.org",
                                           **CHAMPION})
        assert response.status_code in (400, 403, 404, 410, 422), (path, response.status_code)
    # ...and nothing changed: still signed in, still there, details unchanged.
    assert client.get("/me").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Person.id))) == 1


def test_links_come_from_base_url_never_from_the_host_header(app, smtp, drain):
    """A request with a forged Host (and X-Forwarded-Host) still gets our links."""
    with app.test_request_context(
        "/signup", base_url="http://evil.example", headers={"X-Forwarded-Host": "evil.example"}
    ):
        service.request_signup({**CHAMPION, "email": "ada@example.org"})
        db.session.commit()
        outbox.enqueue_pending()
    drain()
    email = smtp.wait_for(to="ada@example.org")
    assert "evil.example" not in email.text and "evil.example" not in email.html
    assert link_path(email).startswith("/auth/")


def test_security_headers_and_cookie_flags(client):
    response = client.get("/signup")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # BASE_URL is http:// here


def test_secure_cookie_when_base_url_is_https(tmp_path, app):
    from app import create_app

    secure = create_app({"INSTANCE_PATH": str(tmp_path), "BASE_URL": "https://hearth.example",
                         "SECRET_KEY": "x", "REDIS_URL": app.config["REDIS_URL"],
                         "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    cookie = secure.test_client().get("/signup").headers.get("Set-Cookie", "")
    assert "Secure" in cookie


def test_api_errors_answer_json(client):
    response = client.get("/inbound/nothing-here")
    assert response.status_code == 404
    assert response.is_json and response.get_json()["reason"]
