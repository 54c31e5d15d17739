"""Who qualifies for free buddy support: criteria as data, evaluated when a
champion confirms, stated on the signup page, overridable with a reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.models import Person
from app.buddies import programme, qualification
from app.buddies.models import Qualification
from app.extensions import db
from tests.buddies.pairing import make_champion, make_coordinator
from tests.forms import submit
from tests.story import signed_up_champion


def row(app, email="ada@example.org") -> tuple[bool, str, bool]:
    with app.app_context():
        person = Person.by_email(email)
        found = db.session.scalar(select(Qualification).where(Qualification.person_id == person.id))
        return found.qualifies, found.reason, found.overridden_at is not None


@pytest.mark.parametrize(
    ("answers", "qualifies", "reason"),
    [
        ({"organisation_kind": "cooperative", "organisation_size": "10-49"}, True, "meets every criterion"),
        ({"organisation_kind": "company", "organisation_size": "10-49"}, False, "companies are not eligible"),
        ({"organisation_kind": "nonprofit", "organisation_size": "250+"}, False, "250 people or more"),
        ({"organisation_kind": "nonprofit", "organisation_size": "1-9", "could_pay_consultant": "yes"},
         False, "could pay a professional consultant"),
        ({"organisation_kind": "nonprofit", "organisation_size": "1-9", "could_pay_consultant": "no"},
         True, "meets every criterion"),
        ({"organisation_size": "1-9"}, False, "companies are not eligible"),  # unknown kind fails
    ],
)
def test_the_criteria_in_programme_toml(answers, qualifies, reason):
    outcome, why = qualification.evaluate(answers)
    assert outcome is qualifies and reason in why


def test_a_malformed_programme_file_says_where():
    with pytest.raises(programme.ProgrammeError, match="qualification.rule.*#1.*needs says"):
        programme.parse({"qualification": {"rule": [{"answer": "x", "allowed": [], "refusal": "r"}]}})
    with pytest.raises(programme.ProgrammeError, match="unknown weight 'charm'"):
        programme.parse({"matching": {"weights": {"charm": 1}}})


def test_a_qualifying_champion_gets_no_extra_email(app, client, smtp, drain):
    signed_up_champion(client, smtp, drain)
    assert row(app) == (True, "meets every criterion", False)
    drain()
    assert not [m for m in smtp.to("ada@example.org") if "consultants" in m.subject.lower()
                or "Professional support" in m.subject]


def test_a_company_gets_one_email_pointing_to_the_consultants(app, client, smtp, drain):
    signed_up_champion(client, smtp, drain, organisation_kind="company", organisation="Acme GmbH")
    assert row(app)[:2] == (False, "companies are not eligible for free buddy support")
    drain()
    email = smtp.wait_for(to="ada@example.org", subject="Professional support for Acme GmbH")
    assert "http://hearth.test/buddies/consultants" in email.text
    assert "https://consultants.example.org/sociocracy" in email.text
    page = client.get("/buddies/consultants").get_data(as_text=True)
    assert "Example Sociocracy Consulting" in page and "Deutsch" in page
    # Confirming again (a second link) changes nothing and sends nothing more.
    with app.app_context():
        from app.accounts import service as accounts

        accounts.confirm(Person.by_email("ada@example.org"))
        db.session.commit()
    drain()
    assert len([m for m in smtp.to("ada@example.org") if "Professional support" in m.subject]) == 1


def test_an_organisation_that_could_pay_a_consultant_is_pointed_to_them(app, client, smtp, drain):
    page = client.get("/signup").get_data(as_text=True)
    assert "Could your organisation pay a professional consultant?" in page
    signed_up_champion(client, smtp, drain, could_pay_consultant="yes")
    assert row(app)[:2] == (False, "the organisation could pay a professional consultant")
    drain()
    assert smtp.wait_for(to="ada@example.org", subject="Professional support for Riverside Food Co-op")
    with app.app_context():
        from app.accounts import service as accounts

        exported = accounts.export_data(Person.by_email("ada@example.org"))
    assert exported["organisation"]["could_pay_consultant"] == "Yes, we could pay one"


def test_the_consultant_question_must_be_answered(client):
    from tests.story import sign_up

    response = sign_up(client, could_pay_consultant="")
    assert response.status_code == 422
    assert "whether your organisation could pay a consultant" in response.get_data(as_text=True)
    response = sign_up(client, could_pay_consultant="maybe-later")
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)


def test_the_signup_page_helper_states_the_criteria_plainly(app):
    with app.test_request_context("/signup"):
        criteria = app.jinja_env.globals["programme_criteria"]()
        assert "Free buddy support" in criteria.summary
        assert any("fewer than 250 people" in point for point in criteria.points)
        html = app.jinja_env.get_template("buddies/_criteria.html").render()
        assert "Who gets a buddy" in html and "companies are not eligible" in html
        assert "/buddies/consultants" in html


def test_a_coordinator_overrides_either_way_with_a_reason(app, client, smtp, drain, runner):
    make_champion(app, email="acme@example.org", name="Ann Acme", organisation_kind="company")
    make_coordinator(app, client, smtp, drain)
    with app.app_context():
        ann_id = Person.by_email("acme@example.org").id
    page = "/admin/qualification"
    assert "Ann Acme" in client.get(page).get_data(as_text=True)
    missing = submit(client, page, {"person_id": ann_id, "qualifies": "yes", "reason": ""},
                     "/admin/qualification/override")
    assert missing.status_code == 422
    assert "Please give a reason for the override." in missing.get_data(as_text=True)
    assert row(app, "acme@example.org")[0] is False
    done = submit(client, page, {"person_id": ann_id, "qualifies": "yes",
                                 "reason": "a worker co-op registered as a company"},
                  "/admin/qualification/override")
    assert done.status_code == 302
    assert row(app, "acme@example.org") == (True, "coordinator: a worker co-op registered as a company", True)

    result = runner.invoke(args=["buddies", "qualify", "acme@example.org", "--no", "--reason", "has a budget"])
    assert result.exit_code == 0, result.output
    assert "acme@example.org does not qualify: has a budget" in result.output
    assert row(app, "acme@example.org")[0] is False
    with app.app_context():
        kept = db.session.scalar(select(Qualification).where(Qualification.person_id == ann_id))
        assert (kept.assessed_qualifies, kept.override_reason) == (False, "has a budget")
    nobody = runner.invoke(args=["buddies", "qualify", "x@example.org", "--yes", "--reason", "r"])
    assert nobody.exit_code != 0 and "No one with the address x@example.org" in nobody.output


def test_champions_confirmed_before_the_criteria_existed_are_assessed_from_the_shell(app, runner):
    make_champion(app)
    with app.app_context():
        db.session.execute(Qualification.__table__.delete())
        db.session.commit()
    result = runner.invoke(args=["buddies", "assess"])
    assert result.exit_code == 0, result.output
    assert "ada@example.org: qualifies" in result.output and "1 champion(s) assessed." in result.output


def test_a_broken_programme_file_never_stops_a_signup_or_the_clock(app, client, smtp, drain, tmp_path,
                                                                      monkeypatch, runner):
    broken = tmp_path / "programme.toml"
    broken.write_text("[qualification\n")
    monkeypatch.setattr(programme, "PATH", broken)
    signed_up_champion(client, smtp, drain)  # confirmed and signed in all the same
    with app.app_context():
        assert db.session.scalar(select(Qualification)) is None
        from app.buddies import service

        assert "programme.toml is not valid TOML" in str(service.review_pairs())
        assert "programme.toml is not valid TOML" in str(service.suggest_for_due_champions())
    with app.test_request_context("/signup"):
        assert app.jinja_env.globals["programme_criteria"]().summary
    refused = runner.invoke(args=["buddies", "assess"])
    assert refused.exit_code != 0 and "cannot be read" in refused.output
    monkeypatch.undo()
    assert runner.invoke(args=["buddies", "assess"]).exit_code == 0
    assert row(app)[0] is True
