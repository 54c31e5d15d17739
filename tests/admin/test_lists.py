"""The lists: search and keyset paging (fast at 100,000 people), and a CSV
on every list equal to its `flask export` twin."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, literal, select

from app import clock
from app.accounts.models import Enrollment, Person
from app.circles import service as circles
from app.extensions import db
from app.inbound.models import InboundMessage
from app.surveys import service as surveys
from app.surveys.models import SurveyInvitation
from tests.admin.dashboard import coordinator, person
from tests.buddies.pairing import START, introduced_pair

LISTS = {  # page -> the export its CSV link names
    "/admin/people": "people",
    "/admin/people?role=buddy": "buddies",
    "/admin/pairs": "pairs",
    "/admin/meetings": "meetings",
    "/admin/outbox": "deliveries",
    "/admin/inbound": "inbound",
    "/admin/attention": "at-risk",
    "/admin/surveys?survey=graduation": "survey-responses",
}


def a_programme(app, drain):
    """A pair with check-ins, a circle, a graduate's answers, a stored reply."""
    clock.set(START)
    pair = introduced_pair(app, drain)
    with app.app_context():
        made = circles.create_circle(name="Riverside circle", timezone="Europe/Berlin",
                                     rrule="FREQ=MONTHLY;BYDAY=1TU", start=datetime(2027, 3, 2, 18, 0),
                                     minutes=90, url="https://meet.example/riverside")
        circles.add_member(made.id, pair.champion_id)
        from app.buddies import service as buddies

        buddies.record_checkin(pair.pair_id, pair.buddy_id, "We met, energy: 2, I feel exhausted")
        surveys.graduate(pair.champion_id, how="coordinator")
        invitation = db.session.scalar(select(SurveyInvitation).where(
            SurveyInvitation.person_id == pair.champion_id))
        surveys.submit(invitation, {"helped": 4, "most_useful": ["buddy", "circles"], "proud_of": 'A "round", at last'})
        db.session.add(InboundMessage(dedupe_key="<q@x>", raw=b"Subject: hi\r\n\r\nhello", size=20,
                                      received_via="webhook", received_at=clock.now(), status="quarantined",
                                      reason="not addressed to us", from_address="stranger@example.org"))
        db.session.commit()
    return pair


def test_every_list_csv_equals_its_flask_export_twin(app, client, runner, drain):
    a_programme(app, drain)
    coordinator(app, client)
    for page, name in LISTS.items():
        html = client.get(page).get_data(as_text=True)
        link = re.search(r'href="(/admin/export/[^"]+)"', html)
        assert link, page
        path = link.group(1).replace("&amp;", "&")
        assert path.startswith(f"/admin/export/{name}.csv"), (page, path)
        download = client.get(path)
        assert download.mimetype == "text/csv"
        args = ["export", name] + (["--survey", "graduation"] if name == "survey-responses" else [])
        printed = runner.invoke(args=args)
        assert printed.exit_code == 0, printed.output
        assert download.get_data(as_text=True) == printed.output, name
        assert printed.output.count("\n") >= 2, name  # a header and at least one row


def test_the_survey_responses_export_has_one_column_per_question(app, runner, drain):
    a_programme(app, drain)
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["export", "survey-responses"]).output)))
    assert len(rows) == 1
    assert rows[0]["helped"] == "4" and rows[0]["most_useful"] == "buddy;circles"
    assert rows[0]["proud_of"] == 'A "round", at last' and rows[0]["email"] == "ada@example.org"
    assert rows[0]["pairing"] == ""  # the buddy survey's columns follow (not answered)
    only = runner.invoke(args=["export", "survey-responses", "--survey", "buddy_pairing"]).output
    assert only.splitlines() == ["id,survey,role,email,cohort,submitted_at,updated_at,pairing,fit,"
                                 "fit_better,again,notes"]
    assert runner.invoke(args=["export", "survey-responses", "--survey", "nope"]).exit_code != 0
    assert "no cohort '1999-01'" in runner.invoke(
        args=["export", "survey-responses", "--survey", "graduation", "--cohort", "1999-01"]).output


def test_search_and_keyset_paging_of_people(app, client):
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    with app.app_context():
        db.session.execute(insert(Person), [
            {"email": f"person{n:03d}@example.org", "name": f"Person {n:03d}", "timezone": "UTC",
             "status": "active", "is_champion": True, "created_at": clock.now()} for n in range(120)])
        db.session.commit()
    coordinator(app, client)
    first = client.get("/admin/people").get_data(as_text=True)
    assert "Cora Coordinator" in first and "person119@example.org" not in first.split("Cora")[0]
    names = re.findall(r">(Person \d{3})</a>", first)
    assert names[0] == "Person 119" and len(names) == 49  # Cora is the 50th
    older = re.search(r'href="(/admin/people\?after=\d+)">Older', first).group(1)
    second = client.get(older).get_data(as_text=True)
    assert re.findall(r">(Person \d{3})</a>", second)[0] == "Person 070"
    newer = re.search(r'href="(/admin/people\?before=\d+)">← Newer', second).group(1)
    assert re.findall(r">(Person \d{3})</a>", client.get(newer).get_data(as_text=True)) == names
    assert re.findall(r">(Person \d{3})</a>", client.get("/admin/people?q=person00").get_data(as_text=True)) == [
        f"Person 00{n}" for n in range(9, -1, -1)]
    assert re.findall(r">(Person \d{3})</a>", client.get(
        "/admin/people?q=PERSON042@example").get_data(as_text=True)) == ["Person 042"]
    assert "No one yet matching “100%”" in client.get("/admin/people?q=100%25").get_data(as_text=True)


@pytest.mark.timeout(60)
def test_lists_stay_fast_at_a_hundred_thousand_people(app, client):
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    cohort_person = person(app, "first@example.org", cohort="2027-01")
    with app.app_context():
        rows = [{"email": f"p{n:06d}@example.org", "name": f"Champion {n:06d}", "timezone": "UTC",
                 "status": "active", "is_champion": True, "created_at": clock.now() + timedelta(seconds=n)}
                for n in range(100_000)]
        for start in range(0, len(rows), 20_000):
            db.session.execute(insert(Person), rows[start:start + 20_000])
        cohort_id = db.session.scalar(select(Enrollment.cohort_id))
        db.session.execute(insert(Enrollment).from_select(  # every one of them in the funnel
            ["person_id", "cohort_id", "enrolled_at"],
            select(Person.id, literal(cohort_id), Person.created_at).where(Person.email.like("p%"))))
        db.session.commit()
    coordinator(app, client)
    timings = {}
    for page in ("/admin/people", "/admin/people?q=p054321@", "/admin/people?q=champion 09999",
                 "/admin/people?role=buddy", f"/admin/people?after={cohort_person + 50_000}",
                 "/admin/people?cohort=2027-01", "/admin/", "/admin/pairs?q=nobody", "/admin/attention"):
        started = time.perf_counter()
        response = client.get(page)
        timings[page] = time.perf_counter() - started
        assert response.status_code == 200, page
    assert "Champion 054321" in client.get("/admin/people?q=p054321@").get_data(as_text=True)
    slow = {page: round(seconds, 3) for page, seconds in timings.items() if seconds > 1.0}
    assert not slow, f"slow pages at 100,000 people: {slow} (all: {timings})"
