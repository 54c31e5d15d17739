"""The dashboard's charts say the right numbers: the funnel per cohort,
emails sent per week, and the survey results (distribution, average, net
promoter score) for a cohort or a date range. Read from the served SVG."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.buddies.models import Pair
from app.circles.models import Circle, Membership
from app.extensions import db
from app.outbox import service as outbox
from app.outbox.models import Unsubscribe
from app.surveys import charts
from app.surveys import service as surveys
from app.surveys.models import Graduation, SurveyInvitation
from tests.admin.dashboard import bars, chart_titled, coordinator, person, utc


def test_the_funnel_per_cohort(app, client):
    clock.set(utc(2027, 3, 15, 12))
    january = [person(app, f"jan{n}@example.org", cohort="2027-01", created=utc(2027, 1, 5 + n))
               for n in range(4)]
    person(app, "waiting@example.org", status="pending", created=utc(2027, 1, 20))
    person(app, "late@example.org", status="pending", created=utc(2027, 2, 2))  # a February signup
    february = [person(app, f"feb{n}@example.org", cohort="2027-02", created=utc(2027, 2, 3)) for n in range(2)]
    buddy = person(app, "sam@example.org", champion=False)
    now = clock.now()
    with app.app_context():
        db.session.add_all([
            Pair(champion_id=january[0], buddy_id=buddy, status="active", created_at=now, introduced_at=now),
            Pair(champion_id=january[1], buddy_id=buddy, status="proposed", created_at=now),  # not matched yet
            Pair(champion_id=february[0], buddy_id=buddy, status="ended", created_at=now, introduced_at=now),
            Graduation(person_id=january[0], graduated_at=now, how="reply"),
            Unsubscribe(person_id=january[2], stream="all", how="page", created_at=now),
            Unsubscribe(person_id=january[0], stream="all", how="page", created_at=now),  # graduated: not a drop-out
        ])
        circle = Circle(name="C", timezone="UTC", rrule="FREQ=MONTHLY", starts_at=now, minutes=60,
                        video_url="https://meet.example/c", uid="c@x", created_at=now, updated_at=now)
        db.session.add(circle)
        db.session.flush()
        db.session.add_all([Membership(circle_id=circle.id, person_id=p, joined_at=now)
                            for p in (january[3], february[1])])
        db.session.commit()
    coordinator(app, client)

    html = client.get("/admin/").get_data(as_text=True)
    funnel = {(b["label"], b["series"]): b for b in bars(chart_titled(html, "The programme funnel per cohort"))}
    assert {key: int(b["value"]) for key, b in funnel.items()} == {
        ("2027-01", "signed up"): 5, ("2027-01", "confirmed"): 4, ("2027-01", "matched with a buddy"): 1,
        ("2027-01", "in a circle"): 1, ("2027-01", "graduated"): 1, ("2027-01", "dropped out"): 1,
        ("2027-02", "signed up"): 3, ("2027-02", "confirmed"): 2, ("2027-02", "matched with a buddy"): 1,
        ("2027-02", "in a circle"): 1, ("2027-02", "graduated"): 0, ("2027-02", "dropped out"): 0,
    }
    # Bars are drawn to one scale: height per person is the same for all of them.
    scale = {round(b["height"] / b["value"], 3) for b in funnel.values() if b["value"]}
    assert len(scale) == 1 and funnel[("2027-02", "graduated")]["height"] == 0
    assert funnel[("2027-01", "signed up")]["title"] == "2027-01 · signed up: 5"


def test_emails_sent_per_week(app, client):
    clock.set(utc(2027, 3, 17, 12))  # a Wednesday
    ada = person(app, "ada@example.org")
    sent = {utc(2027, 3, 15, 9): 2, utc(2027, 3, 14, 23): 1, utc(2027, 3, 1, 9): 3,
            utc(2026, 12, 1, 9): 5}  # the last: older than twelve weeks
    with app.app_context():
        from app.accounts.models import Person

        who = db.session.get(Person, ada)
        number = 0
        for moment, count in sent.items():
            for _ in range(count):
                number += 1
                delivery = outbox.queue_email(who, "onboarding_welcome", stream="onboarding", key=f"k{number}")
                # As the outbox leaves it: sent when its (last) attempt was due.
                delivery.status, delivery.sent_at, delivery.next_attempt_at = "sent", moment, moment
        outbox.queue_email(who, "onboarding_consent", stream="onboarding", key="not-sent")
        db.session.commit()
    coordinator(app, client)
    weekly = bars(chart_titled(client.get("/admin/").get_data(as_text=True), "Emails sent per week"))
    assert len(weekly) == 12
    assert [(b["label"], int(b["value"])) for b in weekly[-3:]] == [("1 Mar", 3), ("8 Mar", 1), ("15 Mar", 2)]
    assert sum(b["value"] for b in weekly) == 6


def _respond(app, email: str, cohort: str, answers: dict, when) -> None:
    pid = person(app, email, cohort=cohort)
    clock.set(when)
    with app.app_context():
        surveys.graduate(pid, how="coordinator")
        invitation = db.session.scalar(select(SurveyInvitation).where(SurveyInvitation.person_id == pid))
        surveys.submit(invitation, answers)
        db.session.commit()


def test_survey_results_per_cohort_and_date_range(app, client):
    march, april = utc(2027, 3, 10, 12), utc(2027, 4, 10, 12)
    for number, (helped, recommend, useful) in enumerate(
            [(5, 10, ["buddy"]), (4, 9, ["buddy", "circles"]), (4, 6, []), (2, 8, ["emails"])]):
        _respond(app, f"c{number}@example.org", "2027-01",
                 {"helped": helped, "recommend": recommend, **({"most_useful": useful} if useful else {}),
                  **({"missing": "More calls."} if helped <= 3 else {})}, march)
    _respond(app, "other@example.org", "2027-02", {"helped": 1, "recommend": 0}, april)
    person(app, "invited-only@example.org", cohort="2027-01")
    coordinator(app, client)

    html = client.get("/admin/surveys?survey=graduation&cohort=2027-01").get_data(as_text=True)
    assert '<span class="num" id="responses">4</span>' in html
    rating = bars(chart_titled(html, "Answers to: How much did Hearth help you bring sociocracy into your organisation?"))
    assert [(b["label"], int(b["value"])) for b in rating] == [
        ("1", 0), ("2", 1), ("3", 0), ("4", 2), ("5", 1)]
    assert rating[3]["height"] == 2 * rating[1]["height"] > 0
    assert '<strong class="average">3.8</strong>' in html  # (5 + 4 + 4 + 2) / 4 = 3.75
    # Two promoters (10, 9), one detractor (6), one passive (8): (2 - 1) / 4 = +25.
    assert '<strong class="nps">+25</strong>' in html
    useful = bars(chart_titled(html, "Answers to: What helped you most?"))
    assert {b["label"]: int(b["value"]) for b in useful} == {
        "The weekly emails": 1, "My buddy": 2, "The support circles": 1, "Answers to my replies": 0}
    assert "More calls." in html

    everyone = client.get("/admin/surveys?survey=graduation").get_data(as_text=True)
    assert '<span class="num" id="responses">5</span>' in everyone
    assert '<strong class="nps">+0</strong>' in everyone  # 2 promoters, 2 detractors of 5
    in_april = client.get("/admin/surveys?survey=graduation&since=2027-04-01&until=2027-04-30").get_data(as_text=True)
    assert '<span class="num" id="responses">1</span>' in in_april
    first = bars(chart_titled(in_april, "Answers to: How much did Hearth help you bring sociocracy into your organisation?"))
    assert [int(b["value"]) for b in first] == [1, 0, 0, 0, 0]


def test_charts_escape_labels_and_scale_to_round_numbers():
    chart = charts.bar_chart([("<script>alert(1)</script>", 3), ("Ünïcode & co", 7)], title="A & B")
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    assert [charts.nice_max(v) for v in (0, 1, 3, 7, 10, 11, 42, 180, 1001)] == [1, 1, 5, 10, 10, 20, 50, 200, 2000]
    empty = charts.column_chart([("Mon", 0), ("Tue", 0)], title="Nothing yet")
    assert 'height="0.0"' in empty


def test_an_admin_pages_stay_readable_without_data(app, client):
    coordinator(app, client)
    clock.set(clock.now() - timedelta(days=1))
    assert "No cohort yet" in client.get("/admin/").get_data(as_text=True)
    assert "No answers yet." in client.get("/admin/surveys").get_data(as_text=True)
