"""What a coordinator does from the dashboard, each a button that POSTs:
retry or cancel emails, review quarantined replies (shown as text only), see
who needs attention, graduate someone, preview every email and send a test."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select

from app import clock
from app.accounts.models import Person
from app.buddies import service as buddies
from app.buddies.models import Checkin, Pair
from app.extensions import db
from app.inbound.models import InboundMessage
from app.outbox import service as outbox
from app.outbox.models import Delivery
from app.surveys.models import Graduation
from emails import render
from tests.admin.dashboard import coordinator
from tests.buddies.pairing import START, introduced_pair, make_champion, send_now
from tests.forms import csrf_token, submit
from tests.inbound.mail import reply_from


def queue(app, email: str, key: str, **options) -> int:
    with app.app_context():
        delivery = outbox.queue_email(Person.by_email(email), "onboarding_welcome", stream="onboarding",
                                      key=key, **options)
        db.session.commit()
        return delivery.id


def status(app, delivery_id: int) -> tuple[str, str | None]:
    with app.app_context():
        found = db.session.get(Delivery, delivery_id)
        return found.status, found.last_error


def test_failed_emails_show_the_smtp_answer_and_can_be_retried(app, client, smtp, drain):
    make_champion(app)
    send_now(app, drain)  # the signup's own email goes first
    smtp.reset()
    coordinator(app, client)
    smtp.data_answers.extend(["554 5.7.1 Message rejected as spam", "554 5.7.1 Message rejected as spam"])
    first, second = queue(app, "ada@example.org", "a"), queue(app, "ada@example.org", "b")
    send_now(app, drain)
    assert status(app, first)[0] == status(app, second)[0] == "failed"

    page = client.get("/admin/outbox?tab=failed").get_data(as_text=True)
    assert "554 5.7.1 Message rejected as spam" in page
    assert "Retry all 2 failed" in page
    retried = submit(client, "/admin/outbox", {"next": "/admin/outbox?tab=failed"},
                     action=f"/admin/outbox/{first}/retry")
    assert retried.status_code == 302 and retried.headers["Location"] == "/admin/outbox?tab=failed"
    drain()
    assert status(app, first)[0] == "sent"
    assert "is queued again" in client.get("/admin/outbox").get_data(as_text=True)
    # Retrying a sent email is refused and changes nothing.
    submit(client, "/admin/outbox", {}, action=f"/admin/outbox/{first}/retry")
    assert "only failed or bounced emails can be retried" in client.get("/admin/outbox").get_data(as_text=True)

    submit(client, "/admin/outbox", {}, action="/admin/outbox/retry-failed")
    drain()
    assert status(app, second)[0] == "sent"
    assert len(smtp.to("ada@example.org")) == 2


def test_a_waiting_email_can_be_cancelled_with_a_reason(app, client, smtp, drain, runner):
    make_champion(app)
    send_now(app, drain)
    smtp.reset()
    coordinator(app, client)
    later = queue(app, "ada@example.org", "later", send_at=clock.now() + timedelta(days=2))
    page = client.get("/admin/outbox?tab=pending").get_data(as_text=True)
    assert f'action="/admin/outbox/{later}/cancel"' in page
    submit(client, "/admin/outbox?tab=pending", {"reason": "sent by hand instead"},
           action=f"/admin/outbox/{later}/cancel")
    assert status(app, later) == ("cancelled", "cancelled by a coordinator (cora@hearth.test): sent by hand instead")
    clock.set(clock.now() + timedelta(days=3))
    send_now(app, drain)
    assert [m for m in smtp.to("ada@example.org") if "Welcome to Hearth" in m.subject] == []
    # The CLI twins say what they did, and refuse clearly.
    refused = runner.invoke(args=["outbox", "cancel", str(later)])
    assert refused.exit_code != 0 and "only an email not yet sent can be cancelled" in refused.output
    assert "0 failed email(s) queued again." in runner.invoke(args=["outbox", "retry-failed"]).output


def _quarantined(app, smtp, drain, inbound) -> tuple[object, int]:
    """A buddy answers the introduction from another address: quarantined."""
    clock.set(START)
    pair = introduced_pair(app, drain)
    intro = smtp.wait_for(to="sam@example.org", subject="meet Sam")
    assert inbound.post(reply_from("sam.private@mail.example", intro, "We met on Tuesday.\nenergy: 4")
                        ).status_code == 202
    drain()
    with app.app_context():
        message = db.session.scalar(select(InboundMessage))
        assert message.status == "quarantined" and "sent from sam.private@mail.example" in message.reason
        return pair, message.id


def test_a_quarantined_reply_is_assigned_to_a_pair_as_a_check_in(app, client, smtp, drain, inbound):
    pair, message_id = _quarantined(app, smtp, drain, inbound)
    coordinator(app, client)
    page = client.get("/admin/inbound").get_data(as_text=True)
    assert "We met on Tuesday." in page and "sent from sam.private@mail.example" in page
    done = submit(client, "/admin/inbound", {"pair_id": str(pair.pair_id), "author": "buddy"},
                  action=f"/admin/inbound/{message_id}/checkin")
    assert done.status_code == 302
    with app.app_context():
        checkin = db.session.scalar(select(Checkin))
        assert (checkin.pair_id, checkin.author_id, checkin.text, checkin.energy) == (
            pair.pair_id, pair.buddy_id, "We met on Tuesday.", 4)
        message = db.session.get(InboundMessage, message_id)
        assert message.status == "processed"
        assert message.reason == f"logged as check-in {checkin.id} of pair {pair.pair_id} by cora@hearth.test"
    assert "Nothing to review" in client.get("/admin/inbound").get_data(as_text=True)


def test_a_message_is_discarded_only_with_a_reason(app, client, smtp, drain, inbound, runner):
    _pair, message_id = _quarantined(app, smtp, drain, inbound)
    coordinator(app, client)
    submit(client, "/admin/inbound", {"reason": "  "}, action=f"/admin/inbound/{message_id}/discard")
    assert "Please give a reason" in client.get("/admin/inbound").get_data(as_text=True)
    submit(client, "/admin/inbound", {"reason": "a test from Sam's phone"},
           action=f"/admin/inbound/{message_id}/discard")
    with app.app_context():
        message = db.session.get(InboundMessage, message_id)
        assert (message.status, message.reason) == (
            "ignored", "discarded by cora@hearth.test: a test from Sam's phone")
    # Reprocessing runs the pipeline again (the sender still does not match).
    submit(client, "/admin/inbound?tab=ignored", {}, action=f"/admin/inbound/{message_id}/reprocess")
    with app.app_context():
        assert db.session.get(InboundMessage, message_id).status == "quarantined"
    assert "logged as check-in" in runner.invoke(
        args=["inbound", "checkin", str(message_id), "--pair", "1", "--author", "sam@example.org"]).output


def test_a_message_is_shown_as_text_only(app, client, inbound):
    message = EmailMessage()
    message["From"] = "Mallory <mallory@example.org>"
    message["To"] = "someone@in.hearth.test"
    message["Subject"] = "Look at this"
    message["Message-ID"] = "<html-only@example.org>"
    message.set_content('<html><body><p>Hello <b>there</b></p><img src="http://tracker.example/p.gif">'
                        '<script>alert(1)</script><a href="http://phish.example">click</a></body></html>',
                        subtype="html")
    assert inbound.post(message.as_bytes()).status_code == 202
    with app.app_context():
        from app.inbound import service

        service.process(db.session.scalar(select(InboundMessage.id)))
    coordinator(app, client)
    page = client.get("/admin/inbound").get_data(as_text=True)
    assert "Hello" in page and "there" in page
    assert "<img" not in page.split("<main")[1] and "<script>alert" not in page
    assert 'src="http://tracker.example' not in page and 'href="http://phish.example' not in page


def test_who_needs_attention(app, client, smtp, drain):
    clock.set(START)
    pair = introduced_pair(app, drain)
    other = make_champion(app, email="lee@example.org", name="Lee Chen")
    with app.app_context():
        buddies.record_checkin(pair.pair_id, pair.buddy_id, "She sounds exhausted.\nenergy: 1")
        outbox.suppress("lee@example.org", "SMTP 550 5.1.1 no such user")
        db.session.get(Person, other).paused_until = (START + timedelta(days=20)).date()
        db.session.add(Pair(champion_id=other, buddy_id=pair.buddy_id, status="objected", created_at=START,
                            objected_at=START, objected_by_id=other, objected_how="reply"))
        db.session.commit()
    coordinator(app, client)
    page = client.get("/admin/attention").get_data(as_text=True)
    assert "energy 1 of 5 in a check-in" in page and "words of burnout: exhausted" in page
    assert "mail to lee@example.org bounced: SMTP 550 5.1.1 no such user" in page
    assert "paused all email until 21 March 2027" in page
    assert "a proposed match of Lee Chen with Sam Rivera was objected to" in page
    assert "objected_by" not in page and "by Lee" not in page  # no page says who objected
    token = csrf_token(client, "/admin/attention")
    with app.app_context():
        concern_id = db.session.scalar(select(buddies.Concern.id))
    client.post("/admin/at-risk/resolve", data={"csrf_token": token, "concern_id": concern_id})
    assert "energy 1 of 5" not in client.get("/admin/attention").get_data(as_text=True)


def test_a_coordinator_graduates_a_champion_from_their_page(app, client, smtp, drain):
    ada = make_champion(app)
    coordinator(app, client)
    page = client.get(f"/admin/people/{ada}").get_data(as_text=True)
    assert "Graduate now" in page and "Riverside Food Co-op" in page
    submit(client, f"/admin/people/{ada}", {}, action=f"/admin/people/{ada}/graduate")
    with app.app_context():
        assert db.session.scalar(select(Graduation.how)) == "coordinator"
    assert "graduated" in client.get(f"/admin/people/{ada}").get_data(as_text=True)
    assert client.get("/admin/people/999999").status_code == 404


def test_every_email_previews_and_a_test_goes_to_the_coordinator(app, client, smtp, drain):
    coordinator(app, client)
    listing = client.get("/admin/content").get_data(as_text=True)
    for name in render.template_names():
        assert f'href="/admin/content/{name}"' in listing
        assert "cannot be rendered" not in listing
        assert client.get(f"/admin/content/{name}").status_code == 200, name
    page = client.get("/admin/content/graduation_invite").get_data(as_text=True)
    assert "Cora, 3 weeks on: thank you" in page
    html = client.get("/admin/content/graduation_invite/html")
    assert "style-src 'unsafe-inline'" in html.headers["Content-Security-Policy"]
    assert "script-src" not in html.headers["Content-Security-Policy"]
    assert "How much did Hearth help you" in html.get_data(as_text=True)
    submit(client, "/admin/content/graduation_invite", {}, action="/admin/content/graduation_invite/test")
    drain()
    test = smtp.wait_for(to="cora@hearth.test", subject="3 weeks on: thank you")
    assert "6 check-ins with Sam" in test.text
    assert client.get("/admin/content/no_such_thing").status_code == 404
