"""/admin is for coordinators: anonymous visitors sign in, others get 403,
on every route and method of the dashboard (its own, the buddies' and the
circles' pages alike); `flask people make-coordinator EMAIL` grants it."""

from __future__ import annotations

import re

import pytest

from tests.story import signed_up_champion

# Every page and action of the dashboard's own blueprint, by endpoint, so a
# route added without a line here fails the first test.
PAGES = {
    "admin.home": "/admin/",
    "admin.people": "/admin/people?role=buddy&q=ada&after=99",
    "admin.person": "/admin/people/1",
    "admin.pairs": "/admin/pairs?status=active&before=3",
    "admin.meetings": "/admin/meetings",
    "admin.attention_page": "/admin/attention",
    "admin.outbox_page": "/admin/outbox?tab=sent",
    "admin.inbound_page": "/admin/inbound?tab=failed",
    "admin.surveys_page": "/admin/surveys?survey=buddy_pairing&cohort=2027-03",
    "admin.survey_preview": "/admin/surveys/graduation/preview",
    "admin.content_page": "/admin/content",
    "admin.content_template": "/admin/content/graduation_invite",
    "admin.content_html": "/admin/content/graduation_invite/html",
    "admin.export": "/admin/export/survey-responses.csv?survey=graduation",
}
ACTIONS = {
    "admin.graduate": "/admin/people/1/graduate",
    "admin.retry": "/admin/outbox/1/retry",
    "admin.retry_failed": "/admin/outbox/retry-failed",
    "admin.cancel": "/admin/outbox/1/cancel",
    "admin.inbound_checkin": "/admin/inbound/1/checkin",
    "admin.inbound_discard": "/admin/inbound/1/discard",
    "admin.inbound_reprocess": "/admin/inbound/1/reprocess",
    "admin.content_test": "/admin/content/graduation_invite/test",
}
ADMIN_GETS = list(PAGES.values())
ADMIN_POSTS = list(ACTIONS.values())


def every_admin_route(app) -> list[tuple[str, str]]:
    """(method, path) for every rule under /admin, its variables filled in."""
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]
    assert len(rules) >= 45
    return [(method, re.sub(r"<[^>]+>", "1", r.rule))
            for r in rules for method in sorted(r.methods - {"HEAD", "OPTIONS"})]


def test_every_route_of_the_dashboard_is_listed_here(app):
    found = {r.endpoint: r.methods for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    assert set(found) == set(PAGES) | set(ACTIONS)
    assert all("POST" in found[e] and "GET" not in found[e] for e in ACTIONS)
    assert all("GET" in found[e] and "POST" not in found[e] for e in PAGES)


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_anonymous_visitor_is_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin/")


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_anonymous_actions_are_sent_to_sign_in_and_change_nothing(client, path):
    response = client.post(path, data={"reason": "x", "pair_id": "1"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin/")


def test_a_champion_is_refused_everywhere(app, client, smtp, drain):
    signed_up_champion(client, smtp, drain)
    for path in ADMIN_GETS:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "this part of Hearth is for the programme's coordinators" in response.get_data(as_text=True)
    for path in ADMIN_POSTS:
        assert client.post(path, data={"reason": "x", "pair_id": "1"}).status_code == 403, path


def test_every_admin_route_is_guarded(app, client, smtp, drain):
    """Any route added under /admin later, by any feature, is covered by a guard."""
    for method, path in every_admin_route(app):
        response = client.open(path, method=method)
        assert response.status_code == 302, (method, path)
        assert response.headers["Location"].startswith("/login?next=/admin"), (method, path)
    signed_up_champion(client, smtp, drain)
    for method, path in every_admin_route(app):
        assert client.open(path, method=method).status_code == 403, (method, path)


def test_make_coordinator_then_see_the_dashboard(client, smtp, drain, runner):
    signed_up_champion(client, smtp, drain)
    result = runner.invoke(args=["people", "make-coordinator", "ADA@example.org"])
    assert result.exit_code == 0, result.output
    assert "ada@example.org is now a coordinator." in result.output
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "Ada Okafor" in page.get_data(as_text=True)
    for path in ADMIN_GETS:
        assert client.get(path).status_code in (200, 404), path  # 404: person 1 may not exist
    assert "confirm_signup" in client.get("/admin/outbox?tab=sent").get_data(as_text=True)
    assert "Ada Okafor" in client.get("/admin/people?q=okafor").get_data(as_text=True)
    assert "No one yet" in client.get("/admin/people?q=zzz").get_data(as_text=True)


def test_make_coordinator_of_an_unknown_address_fails_clearly(runner):
    result = runner.invoke(args=["people", "make-coordinator", "nobody@example.org"])
    assert result.exit_code != 0
    assert "No one with the address nobody@example.org has signed up." in result.output
