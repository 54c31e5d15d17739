"""/admin is for coordinators: anonymous visitors sign in, others get 403."""

from __future__ import annotations

import pytest

from tests.story import signed_up_champion

ADMIN_ROUTES = ["/admin/", "/admin/?q=ada&page=2"]


@pytest.mark.parametrize("path", ADMIN_ROUTES)
def test_anonymous_visitor_is_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin/")


@pytest.mark.parametrize("path", ADMIN_ROUTES)
def test_a_champion_is_refused(client, smtp, drain, path):
    signed_up_champion(client, smtp, drain)
    response = client.get(path)
    assert response.status_code == 403
    assert "this part of Hearth is for the programme's coordinators" in response.get_data(as_text=True)


def test_every_admin_route_is_guarded(app, client, smtp, drain):
    """Any route added under /admin later is covered by the blueprint guard."""
    signed_up_champion(client, smtp, drain)
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]
    assert rules
    for rule in rules:
        path = rule.rule.replace("<", "").replace(">", "")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method)
            assert response.status_code == 403, (method, path)


def test_make_coordinator_then_see_the_dashboard(client, smtp, drain, runner):
    signed_up_champion(client, smtp, drain)
    result = runner.invoke(args=["people", "make-coordinator", "ADA@example.org"])
    assert result.exit_code == 0, result.output
    assert "ada@example.org is now a coordinator." in result.output
    page = client.get("/admin/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Ada Okafor" in text and "confirm_signup" in text
    assert "Ada" in client.get("/admin/?q=okafor").get_data(as_text=True)
    assert "No one yet" in client.get("/admin/?q=zzz").get_data(as_text=True)


def test_make_coordinator_of_an_unknown_address_fails_clearly(runner):
    result = runner.invoke(args=["people", "make-coordinator", "nobody@example.org"])
    assert result.exit_code != 0
    assert "No one with the address nobody@example.org has signed up." in result.output
