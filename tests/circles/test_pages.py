"""The circle pages: /admin/circles for coordinators only, the forms behind
every action, the leave page and the personal calendar feed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import icalendar
import pytest
import recurring_ical_events

from tests.circles.conftest import circle, emails_to, join, person, words
from tests.forms import csrf_token, submit
from tests.story import signed_up_champion


def sign_in(client, person_id: int) -> None:
    with client.session_transaction() as session:
        session["person_id"] = person_id


def admin_paths(app) -> list[tuple[str, str]]:
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin/circles")]
    assert len(rules) >= 12
    return [(method, re.sub(r"<\w+>", "1", r.rule))
            for r in rules for method in sorted(r.methods - {"HEAD", "OPTIONS"})]


def test_every_admin_circles_route_is_for_coordinators_only(app, client, smtp, drain):
    circle(app)
    for method, path in admin_paths(app):
        response = client.open(path, method=method)
        assert response.status_code == 302, (method, path)
        assert response.headers["Location"].startswith("/login?next=/admin/circles"), (method, path)
    signed_up_champion(client, smtp, drain)
    for method, path in admin_paths(app):
        assert client.open(path, method=method).status_code == 403, (method, path)


def test_a_coordinator_runs_a_circle_from_the_dashboard(app, client, smtp, drain):
    coordinator = person(app, "coord@hearth.test", "Cora Coordinator", coordinator=True)
    person(app, "ada@example.org", "Ada Okafor", "America/Chicago")
    sign_in(client, coordinator)
    assert "No circles yet" in client.get("/admin/circles/").get_data(as_text=True)

    form = {"name": "Riverside circle", "purpose": "peer", "timezone": "Europe/Berlin",
            "rrule": "FREQ=MONTHLY;BYDAY=1TU", "start": "2025-01-07T18:00", "minutes": "90",
            "url": "https://meet.example/riverside", "capacity": "8"}
    wrong = submit(client, "/admin/circles/", {**form, "start": "2025-01-08T18:00"},
                   action="/admin/circles/create")
    assert wrong.status_code == 422
    assert "is not a meeting of FREQ=MONTHLY;BYDAY=1TU" in wrong.get_data(as_text=True)
    made = submit(client, "/admin/circles/", form, action="/admin/circles/create")
    assert made.status_code == 302 and made.headers["Location"] == "/admin/circles/1"

    page = "/admin/circles/1"
    added = submit(client, page, {"email": "ada@example.org"}, action=f"{page}/members")
    assert added.status_code == 302
    unknown = submit(client, page, {"email": "nobody@example.org"}, action=f"{page}/members")
    assert unknown.status_code == 422
    assert "No confirmed person with the address nobody@example.org." in unknown.get_data(as_text=True)
    cancelled = submit(client, page, {"day": "2025-02-04"}, action=f"{page}/cancel-meeting")
    assert cancelled.status_code == 302
    rescheduled = submit(client, page, {"start": "2025-03-04T19:00"}, action=f"{page}/reschedule")
    assert rescheduled.status_code == 302
    moved = submit(client, page, {"day": "2025-04-01", "start": "2025-04-03T19:00"},
                   action=f"{page}/move-meeting")
    assert moved.status_code == 302
    linked = submit(client, page, {"url": "https://meet.example/new"}, action=f"{page}/link")
    assert linked.status_code == 302

    shown = client.get(page).get_data(as_text=True)
    assert "Tue 2025-03-04 19:00" in shown and "Thu 2025-04-03 19:00" in shown and "moved" in shown
    assert "SEQUENCE 4" in shown and "Ada Okafor" in shown
    drain()
    subjects = [" ".join(m.subject.split()) for m in smtp.to("ada@example.org")]
    assert subjects == [
        "Your support circle: Riverside circle",
        "Cancelled: Riverside circle on Tuesday 4 February 2025, 11:00-12:30 (America/Chicago)",
        "Updated: Riverside circle", "Updated: Riverside circle", "Updated: Riverside circle",
    ]


def test_a_member_leaves_by_the_link_in_their_invitation(app, client, smtp, drain):
    ada = person(app, "ada@example.org", "Ada Okafor")
    join(app, circle(app), ada)
    with app.app_context():
        from app.outbox import service as outbox

        outbox.enqueue_pending()
    drain()
    (invite,) = emails_to(smtp, "ada@example.org")
    leave = re.search(r"http://hearth\.test(/circles/leave/\S+)", words(invite)).group(1)
    page = client.get(leave)
    assert page.status_code == 200 and "Leave Riverside circle?" in page.get_data(as_text=True)
    assert client.post(leave).status_code == 400  # no CSRF token: nothing happens
    done = client.post(leave, data={"csrf_token": csrf_token(client, leave)})
    assert "You have left Riverside circle" in done.get_data(as_text=True)
    drain()
    assert emails_to(smtp, "ada@example.org", "You have left Riverside circle")
    assert "You have left" in client.get(leave).get_data(as_text=True)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Pacific/Auckland"])
def test_the_personal_feed_holds_every_meeting_of_the_person(app, client, tz):
    ada = person(app, "ada@example.org", "Ada Okafor", tz)
    join(app, circle(app, name="Riverside circle"), ada)
    join(app, circle(app, name="Ember", purpose="recovery", rrule="FREQ=MONTHLY;BYDAY=2WE",
                     start=datetime(2025, 1, 8, 9, 0)), ada)
    circle(app, name="Not mine")
    with app.test_request_context():
        from app.circles import service as circles

        https, webcal = circles.feed_url(ada), circles.webcal_url(ada)
    assert webcal == "webcal://" + https.removeprefix("http://")
    response = client.get(https.removeprefix("http://hearth.test"))
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(response.data)
    assert "METHOD" not in cal and cal.get_missing_tzids() == set()
    window = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
    events = recurring_ical_events.of(cal).between(*window)
    assert sorted({str(e["SUMMARY"]) for e in events}) == [
        "Hearth support circle: Ember", "Hearth support circle: Riverside circle"]
    assert len(events) == 12
    assert client.get("/calendar/forged.ics").status_code == 404


_FEED = re.compile(r'<code class="mono">http://hearth\.test(/calendar/[^<]+\.ics)</code>')


def _feed_path_on_me(client) -> str:
    match = _FEED.search(client.get("/me").get_data(as_text=True))
    assert match, "no calendar link on /me"
    return match.group(1)


def test_a_person_replaces_a_shared_calendar_link_and_the_old_one_stops_working(app, client):
    ada = person(app, "ada@example.org", "Ada Okafor", "Europe/Berlin")
    join(app, circle(app, name="Riverside circle"), ada)
    with app.test_request_context():
        from app.circles import service as circles

        emailed = circles.feed_url(ada).removeprefix("http://hearth.test")  # as in an invitation
    assert client.post("/me/calendar").status_code == 302  # signed out: to the sign-in page
    sign_in(client, ada)
    first = _feed_path_on_me(client)
    assert first == emailed and _feed_path_on_me(client) == first  # showing it changes nothing
    assert client.get(first).status_code == 200

    assert client.post("/me/calendar").status_code == 400  # no CSRF token: nothing happens
    assert _feed_path_on_me(client) == first

    replaced = submit(client, "/me", {}, action="/me/calendar")
    assert replaced.status_code == 302 and replaced.location.endswith("/me")
    page = client.get("/me").get_data(as_text=True)
    assert "Your calendar has a new link, below. The old one no longer works" in page
    second = _feed_path_on_me(client)
    assert second != first
    gone = client.get(first)
    assert gone.status_code == 404 and "replaced by a newer one" in gone.get_data(as_text=True)
    feed = client.get(second)
    assert feed.status_code == 200 and "Riverside circle" in feed.get_data(as_text=True)
    with app.test_request_context():
        assert circles.feed_url(ada).removeprefix("http://hearth.test") == second  # the next emails'

    submit(client, "/me", {}, action="/me/calendar")
    third = _feed_path_on_me(client)
    assert len({first, second, third}) == 3
    assert [client.get(path).status_code for path in (first, second, third)] == [404, 404, 200]


def test_a_coordinator_confirms_a_placement_and_sets_automatic_placement(app, client, smtp, drain):
    from app.circles import service as circles

    coordinator = person(app, "coord@hearth.test", "Cora Coordinator", coordinator=True)
    ada = person(app, "ada@example.org", "Ada Okafor", "Asia/Tokyo")
    ben = person(app, "ben@example.org", "Ben Carter", "Asia/Tokyo")
    circle(app, name="Evening")
    circle(app, name="Morning", start=datetime(2025, 1, 7, 9, 0))
    with app.app_context():
        first = circles.propose_placement(ada).id
        second = circles.propose_placement(ben).id
        from app.extensions import db

        db.session.commit()
    sign_in(client, coordinator)
    page = client.get("/admin/circles/").get_data(as_text=True)
    assert "Evening is" not in page and "Morning: next meeting Tuesday 7 January 2025, 17:00" in page
    confirmed = submit(client, "/admin/circles/", {"circle": "Evening"},
                       action=f"/admin/circles/placements/{first}/confirm")
    assert confirmed.status_code == 302
    dismissed = submit(client, "/admin/circles/", {}, action=f"/admin/circles/placements/{second}/dismiss")
    assert dismissed.status_code == 302
    assert "No open proposals." in client.get("/admin/circles/").get_data(as_text=True)
    drain()
    assert emails_to(smtp, "ada@example.org", "Your support circle: Evening")

    saved = submit(client, "/admin/circles/", {"auto_placement": "y", "place_after_days": "14"},
                   action="/admin/circles/settings")
    assert saved.status_code == 302
    with app.app_context():
        assert circles.is_auto_placement() and circles.place_after_days() == 14
