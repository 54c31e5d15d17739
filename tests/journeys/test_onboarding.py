"""A champion's whole onboarding, travelled with the clock over ten weeks,
received by a real SMTP server."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app import clock
from app.accounts.models import Person
from app.extensions import db
from app.journeys.models import Journey
from emails import addresses, sequences
from tests.forms import submit
from tests.story import signed_up_champion, travel

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 1 March 2027, 10:00 in Berlin; Berlin's clocks go forward on 28 March.
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def onboarding_mail(smtp, email="ada@example.org"):
    """The onboarding journey's emails (graduation follows it on its own stream)."""
    return [m for m in smtp.to(email) if "onboarding" in (m.message["List-Id"] or "")]


def local_sent(message, zone=BERLIN) -> datetime:
    return parsedate_to_datetime(message.message["Date"]).astimezone(zone)


@pytest.fixture
def champion(client, smtp, drain):
    clock.set(START)
    signed_up_champion(client, smtp, drain)
    return client


def test_the_whole_onboarding_arrives_once_in_order_at_nine_on_weekdays(champion, smtp, drain, app):
    travel(app, drain, START + timedelta(weeks=11))
    mails = onboarding_mail(smtp)
    keys = [step.key for step in sequences.load("onboarding").steps]
    assert len(mails) == len(keys) == 10
    with app.app_context():
        subjects = [m.subject for m in mails]
        assert len(set(subjects)) == 10  # each once
    # In order: each email is the step after the previous one.
    params_order = [m.message["Message-ID"] for m in mails]
    assert len(set(params_order)) == 10
    times = [local_sent(m) for m in mails]
    assert times == sorted(times)
    for sent in times:
        assert (sent.hour, sent.minute) == (9, 0), sent
        assert sent.weekday() < 5, sent
    # Across the change to summer time, still 09:00 local: the UTC hour moved.
    utc_hours = {t.astimezone(UTC).hour for t in times}
    assert utc_hours == {7, 8}
    assert times[0].date() == datetime(2027, 3, 2).date()  # the first 09:00 after confirming
    assert (times[-1] - times[0]).days in range(63, 78)
    with app.app_context():
        journey = db.session.scalar(select(Journey))
        assert journey.state == "completed" and journey.passed == keys


def test_every_programme_email_carries_the_headers(champion, smtp, drain, app):
    travel(app, drain, START + timedelta(days=2))
    mail = onboarding_mail(smtp)[0].message
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [part.strip(" <>") for part in mail["List-Unsubscribe"].split(",")]
    assert https.startswith("http://hearth.test/unsubscribe/")
    assert mailto.startswith("mailto:reply+u") and mailto.endswith("?subject=unsubscribe")
    reply_to = mail["Reply-To"].addresses[0].addr_spec
    target = addresses.parse_reply_address(app.config["SECRET_KEY"], reply_to)
    assert target is not None and target.kind == "d"
    assert mail["Message-ID"].startswith(f"<d{target.id}.")
    text = mail.get_body(("plain",)).get_content()
    assert "Reply and tell me" in text and "{{" not in text


def test_pause_holds_everything_and_resumes_without_a_burst(champion, smtp, drain, app):
    travel(app, drain, START + timedelta(days=8))
    before = len(onboarding_mail(smtp))
    assert before == 2  # welcome and consent
    until = (START + timedelta(days=30)).date()
    prefs = {"name": "Ada Okafor", "timezone": "Europe/Berlin", "language": "en",
             "organisation": "Riverside Food Co-op", "organisation_kind": "cooperative",
             "organisation_size": "10-49", "situation": "", "paused_until": until.isoformat()}
    assert submit(champion, "/me", prefs).status_code == 302
    travel(app, drain, datetime.combine(until, datetime.min.time(), BERLIN))
    assert len(onboarding_mail(smtp)) == before  # nothing while paused
    travel(app, drain, START + timedelta(weeks=14))
    mails = onboarding_mail(smtp)
    assert len(mails) == 10
    after = [local_sent(m) for m in mails[before:]]
    assert after[0].date() == until or after[0].date() > until
    # No catching up in a burst: never two on one day, and not a week's worth at once.
    days = [t.date() for t in after]
    assert len(days) == len(set(days))
    assert all((b - a) >= timedelta(days=1) for a, b in zip(after, after[1:], strict=False))


def test_a_new_time_zone_moves_the_next_emails_to_the_new_local_nine(champion, smtp, drain, app):
    travel(app, drain, START + timedelta(days=8))
    prefs = {"name": "Ada Okafor", "timezone": "America/New_York", "language": "en",
             "organisation": "Riverside Food Co-op", "organisation_kind": "cooperative",
             "organisation_size": "10-49", "situation": "", "paused_until": ""}
    assert submit(champion, "/me", prefs).status_code == 302
    travel(app, drain, START + timedelta(weeks=11))
    mails = onboarding_mail(smtp)
    assert len(mails) == 10
    new_york = ZoneInfo("America/New_York")
    for mail in mails[2:]:
        sent = local_sent(mail, new_york)
        assert (sent.hour, sent.minute, sent.weekday() < 5) == (9, 0, True), sent


def test_a_sequence_edited_mid_journey(champion, smtp, drain, app, tmp_path, monkeypatch):
    folder = tmp_path / "sequences"
    folder.mkdir()
    shutil.copy(sequences.SEQUENCES / "onboarding.toml", folder / "onboarding.toml")
    monkeypatch.setattr(sequences, "SEQUENCES", folder)
    travel(app, drain, START + timedelta(days=8))
    assert len(onboarding_mail(smtp)) == 2
    text = (folder / "onboarding.toml").read_text()
    # Remove a step not yet reached and add a new one before the current position.
    start = text.index('[[step]]                      # day 38')
    end = text.index("[[step]]", start + 10)
    removed = text[start:end]
    assert 'key = "sceptics"' in removed
    text = text.replace(removed, "")
    text = text.replace('[[step]]                      # day 3\n',
                        '[[step]]\nkey = "early_extra"\ntemplate = "onboarding_sceptics"\nafter = "1 day"\n\n'
                        '[[step]]                      # day 3\n')
    (folder / "onboarding.toml").write_text(text)
    travel(app, drain, START + timedelta(weeks=12))
    with app.app_context():
        journey = db.session.scalar(select(Journey))
        assert journey.state == "completed"
        assert "sceptics" not in journey.passed
        assert "early_extra" in journey.passed
    subjects = [m.subject for m in onboarding_mail(smtp)]
    assert len(subjects) == 10  # 10 - 1 removed + 1 added
    assert sum("sceptics" in s.lower() or "tried that" in s.lower() for s in subjects) == 1


def test_confirming_twice_starts_one_journey(champion, app):
    from app.journeys import service

    with app.app_context():
        person = Person.by_email("ada@example.org")
        service.start_journey(person.id, "onboarding")
        db.session.commit()
        assert len(db.session.scalars(select(Journey)).all()) == 1
