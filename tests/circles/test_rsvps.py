"""RSVPs from Gmail, Outlook and Apple Calendar: the real replies under
tests/fixtures/calendar/, re-addressed to a real circle, posted to the inbound
webhook and processed like any email; and the RSVP page's buttons."""

from __future__ import annotations

import base64
import csv
import io
import quopri
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.circles import service as circles
from app.circles.errors import NotAMember, UnknownSeries
from app.circles.models import Circle, Membership, Rsvp
from app.circles.schedule import organizer_email
from app.extensions import db
from app.inbound import service as inbound_service
from app.outbox.models import Delivery
from tests.circles.conftest import calendar_email as calendar_of
from tests.circles.conftest import circle, emails_to, join, person
from tests.circles.conftest import send as send_all
from tests.forms import csrf_token

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "calendar"
FIXTURE_UID = b"circle-7@hearth.example"
FIXTURE_ORGANIZER = b"reply+c7-abcdefghijklmnop@hearth.example"
MARCH_4, MAY_6 = datetime(2025, 3, 4, 17, 0, tzinfo=UTC), datetime(2025, 5, 6, 16, 0, tzinfo=UTC)
PEOPLE = {
    "google_accept.eml": ("sam.example@gmail.example", "Sam Example"),
    "outlook_decline.eml": ("robin@contoso.example", "Robin Example"),
    "outlook_counter.eml": ("robin@contoso.example", "Robin Example"),
    "apple_tentative.eml": ("kim.example@example.net", "Kim Example"),
}


def readdressed(name: str, uid: str, organizer: str) -> bytes:
    """The fixture as a reply to our circle: its UID and organizer address in
    the headers and inside every calendar part, whatever its encoding."""
    message = BytesParser(policy=policy.compat32).parsebytes((FIXTURES / name).read_bytes())
    swap = {FIXTURE_UID: uid.encode(), FIXTURE_ORGANIZER: organizer.encode()}
    for header in ("To", "Delivered-To"):
        if message[header]:
            value = str(message[header]).replace(FIXTURE_ORGANIZER.decode(), organizer)
            message.replace_header(header, value)
    for part in message.walk():
        if part.get_content_type() not in ("text/calendar", "application/ics"):
            continue
        data = part.get_payload(decode=True)
        for old, new in swap.items():
            data = data.replace(old, new)
        encoding = (part["Content-Transfer-Encoding"] or "7bit").lower()
        if encoding == "base64":
            part.set_payload(base64.encodebytes(data).decode("ascii"))
        elif encoding == "quoted-printable":
            part.set_payload(quopri.encodestring(data).decode("ascii"))
        else:
            part.set_payload(data.decode("utf-8"))
    return message.as_bytes()


@pytest.fixture
def riverside(app):
    """The circle the fixtures answer: first Tuesdays, 18:00 Berlin, from 7 January 2025."""
    ids = {email: person(app, email, name) for email, name in set(PEOPLE.values())}
    circle_id = circle(app)
    join(app, circle_id, *ids.values())
    with app.app_context():
        found = db.session.get(Circle, circle_id)
        return SimpleNamespace(id=circle_id, uid=found.uid, organizer=organizer_email(circle_id),
                               people=ids)


def post_and_process(app, inbound, raw: bytes) -> SimpleNamespace:
    response = inbound.post(raw)
    assert response.status_code == 202, response.get_json()
    with app.app_context():
        message = inbound_service.process(response.get_json()["id"])
        return SimpleNamespace(status=message.status, reason=message.reason, kind=message.kind,
                               routed=(message.routed_kind, message.routed_id))


def answers(app, circle_id: int) -> dict:
    with app.app_context():
        rows = db.session.scalars(select(Rsvp).where(Rsvp.circle_id == circle_id)).all()
        series = db.session.scalars(select(Membership).where(Membership.circle_id == circle_id)).all()
        emails = {m.person_id: m.person.email for m in series}
        found = {(emails[r.person_id], r.occurrence_start): (r.partstat, r.via) for r in rows}
        found.update({(m.person.email, "series"): (m.series_partstat, "calendar")
                      for m in series if m.series_partstat})
        return found


@pytest.mark.parametrize(
    ("name", "expected", "outcome"),
    [
        ("google_accept.eml", ("sam.example@gmail.example", "series", "ACCEPTED"),
         "RSVP accepted for every meeting of Riverside circle from sam.example@gmail.example"),
        ("outlook_decline.eml", ("robin@contoso.example", "series", "DECLINED"),
         "RSVP declined for every meeting of Riverside circle from robin@contoso.example"),
        ("apple_tentative.eml", ("kim.example@example.net", MARCH_4, "TENTATIVE"),
         "RSVP tentative for 2025-03-04 from kim.example@example.net"),
    ],
)
def test_a_calendar_answer_is_recorded_per_meeting(name, expected, outcome, app, inbound, riverside):
    raw = readdressed(name, riverside.uid, riverside.organizer)
    message = post_and_process(app, inbound, raw)

    assert (message.status, message.kind) == ("processed", "calendar_reply"), message.reason
    assert message.reason == outcome
    assert message.routed == ("circle", riverside.id)
    email, meeting, partstat = expected
    assert answers(app, riverside.id) == {(email, meeting): (partstat, "calendar")}
    with app.app_context():  # never a check-in, never forwarded as words
        assert db.session.scalar(select(func.count(Delivery.id))) == 3  # the three invitations only


def test_the_admin_page_shows_who_said_what(app, client, inbound, riverside):
    for name in ("google_accept.eml", "outlook_decline.eml", "apple_tentative.eml"):
        assert post_and_process(app, inbound, readdressed(name, riverside.uid, riverside.organizer)).status == "processed"
    coordinator = person(app, "coord@hearth.test", "Cora Coordinator", coordinator=True)
    with client.session_transaction() as session:
        session["person_id"] = coordinator
    page = client.get(f"/admin/circles/{riverside.id}").get_data(as_text=True)
    march = page[page.index("Tue 2025-03-04 18:00"):].split("</tr>")[0]
    # Kim: maybe for this meeting; Robin: no and Sam: yes for every meeting (series answers).
    assert march.count("maybe") == 1 and march.count(">yes") == 1 and march.count(">no") == 1
    assert "<td>1</td><td>1</td><td>1</td><td>0</td>" in march.replace("\n", "")
    february = page[page.index("Tue 2025-02-04 18:00"):].split("</tr>")[0]
    assert "<td>1</td><td>1</td><td>0</td><td>1</td>" in february.replace("\n", "")


def test_a_counter_proposal_is_recorded_not_applied(app, inbound, riverside):
    """Outlook's "propose new time" (METHOD:COUNTER) for the meeting of 6 May,
    through the whole inbound pipeline."""
    raw = readdressed("outlook_counter.eml", riverside.uid, riverside.organizer)
    message = post_and_process(app, inbound, raw)
    assert (message.status, message.kind) == ("processed", "calendar_reply")
    assert message.reason == (
        "RSVP tentative for 2025-05-06 from robin@contoso.example with a proposed new time "
        "2025-05-08 19:00 (recorded, not applied)"
    )
    with app.app_context():
        row = db.session.scalar(select(Rsvp))
        assert (row.occurrence_start, row.partstat) == (MAY_6, "TENTATIVE")
        assert row.proposed_start == datetime(2025, 5, 8, 17, 0, tzinfo=UTC)
        assert "public holiday" in row.comment
        found = db.session.get(Circle, riverside.id)
        assert found.sequence == 0  # nothing moved


def test_a_reply_for_another_series_is_ignored_with_its_reason(app, inbound, riverside):
    raw = readdressed("google_accept.eml", "circle-999@elsewhere.example", riverside.organizer)
    message = post_and_process(app, inbound, raw)
    assert message.status == "ignored"
    assert message.reason == (
        "calendar reply not recorded: the reply answers circle-999@elsewhere.example, which is not "
        f"the series of Riverside circle ({riverside.uid})"
    )
    assert answers(app, riverside.id) == {}


def test_a_reply_from_someone_who_is_not_a_member_is_quarantined(app, inbound, riverside):
    with app.app_context():
        circles.remove_member(riverside.id, riverside.people["kim.example@example.net"], "left")
        db.session.commit()
    message = post_and_process(app, inbound, readdressed("apple_tentative.eml", riverside.uid,
                                                         riverside.organizer))
    assert message.status == "quarantined"
    assert message.reason.startswith("sent from kim.example@example.net, but this address belongs to ")
    assert answers(app, riverside.id) == {}


def test_the_service_names_why_it_refuses(app, riverside):
    with app.app_context():
        stranger = person(app, "stranger@example.org", "Stranger")
        google = (FIXTURES / "google_accept.eml").read_bytes()
        ics = google[google.index(b"BEGIN:VCALENDAR"):google.index(b"END:VCALENDAR") + 13]
        with pytest.raises(UnknownSeries, match="circle-7@hearth.example, which is not the series"):
            circles.record_calendar_reply(riverside.id, stranger, ics, None)
        ours = ics.replace(FIXTURE_UID, riverside.uid.encode()).replace(
            b"sam.example@gmail.example", b"stranger@example.org")
        with pytest.raises(NotAMember, match="stranger@example.org is not a member of Riverside circle"):
            circles.record_calendar_reply(riverside.id, stranger, ours, None)


def test_the_rsvp_page_asks_for_a_press_and_records_it(app, client, riverside):
    from app.circles import tokens

    sam = riverside.people["sam.example@gmail.example"]
    with app.test_request_context():
        links = tokens.rsvp_links(sam, riverside.id, MARCH_4)
    page = links["no"].removeprefix("http://hearth.test")
    shown = client.get(page)
    assert shown.status_code == 200
    assert "Press <strong>No</strong> to confirm" in shown.get_data(as_text=True)
    assert answers(app, riverside.id) == {}  # a GET (a link scanner) changes nothing

    path = page.split("?")[0]
    refused = client.post(path, data={"answer": "no"})
    assert refused.status_code == 400 and answers(app, riverside.id) == {}
    done = client.post(path, data={"answer": "no", "csrf_token": csrf_token(client, page)})
    assert done.status_code == 200
    assert "You answered <strong>no</strong>" in done.get_data(as_text=True)
    assert answers(app, riverside.id) == {("sam.example@gmail.example", MARCH_4): ("DECLINED", "link")}

    assert client.get("/circles/rsvp/not-a-token").status_code == 404
    with app.app_context():
        circles.cancel_meeting(riverside.id, MARCH_4.date())
        db.session.commit()
    gone = client.get(page)
    assert gone.status_code == 410 and "This meeting was cancelled" in gone.get_data(as_text=True)


def test_export_rsvps_prints_csv_with_a_header(app, runner, inbound, riverside):
    empty = runner.invoke(args=["export", "rsvps"])
    assert empty.exit_code == 0 and empty.output.startswith("circle_id,circle,person_id,email,")
    assert empty.output.count("\n") == 1
    for name in ("google_accept.eml", "apple_tentative.eml"):
        post_and_process(app, inbound, readdressed(name, riverside.uid, riverside.organizer))
    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["export", "rsvps"]).output)))
    assert [(r["email"], r["scope"], r["answer"], r["meeting_local"]) for r in rows] == [
        ("kim.example@example.net", "meeting", "maybe", "2025-03-04T18:00:00+01:00"),
        ("sam.example@gmail.example", "series", "yes", ""),
    ]


def test_a_new_time_asks_again_a_new_link_does_not(app, inbound, smtp, drain, riverside):
    for name in ("google_accept.eml", "apple_tentative.eml"):
        post_and_process(app, inbound, readdressed(name, riverside.uid, riverside.organizer))
    with app.app_context():
        circles.change_link(riverside.id, "https://meet.example/riverside-2")
        db.session.commit()
    assert ("sam.example@gmail.example", "series") in answers(app, riverside.id)
    send_all(app, drain)
    update = calendar_of(emails_to(smtp, "sam.example@gmail.example", "Updated")[-1])
    assert update.master["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"

    with app.app_context():  # Kim's meeting moves: her "maybe" was for the old time
        circles.move_meeting(riverside.id, MARCH_4.date(), datetime(2025, 3, 6, 18, 0))
        db.session.commit()
    assert ("kim.example@example.net", MARCH_4) not in answers(app, riverside.id)
    with app.app_context():
        circles.reschedule(riverside.id, datetime(2025, 4, 1, 19, 0))
        db.session.commit()
    assert answers(app, riverside.id) == {}
    send_all(app, drain)
    # The newest update is the one with the highest SEQUENCE, whatever order they arrived in.
    updates = [calendar_of(m) for m in emails_to(smtp, "sam.example@gmail.example", "Updated")]
    update = max(updates, key=lambda c: int(c.master["SEQUENCE"]))
    assert update.master["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION"


def test_a_member_s_data_export_and_deletion_include_their_circles(app, inbound, riverside):
    from app.accounts import service as accounts

    post_and_process(app, inbound, readdressed("apple_tentative.eml", riverside.uid, riverside.organizer))
    kim = riverside.people["kim.example@example.net"]
    with app.app_context():
        exported = circles.export_for(kim)
        assert exported["memberships"][0]["circle"] == "Riverside circle"
        assert exported["rsvps"][0]["answer"] == "TENTATIVE"
        accounts.delete_account(kim)
        db.session.commit()
        assert circles.export_for(kim) == {"memberships": [], "rsvps": [], "placements": []}
        assert len(circles.active_members(riverside.id)) == 2
