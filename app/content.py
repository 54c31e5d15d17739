"""Content that coordinators edit without code: checking and previewing the
templates and sequences under emails/ (`flask emails check|preview`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app import links
from app.accounts.models import ORGANISATION_KINDS, Person
from emails import render, sequences, surveys

emails_cli = AppGroup("emails", help="Check and preview email content.")


def sample_context(person: Person | None = None) -> dict:
    """What a template sees, for a real person or a believable sample one."""
    organisation = person.organisation if person else None
    return {
        "first_name": person.first_name if person else "Ada",
        "name": person.name if person else "Ada Okafor",
        "organisation": organisation.name if organisation else "Riverside Food Co-op",
        "organisation_kind": ORGANISATION_KINDS.get(organisation.kind, "") if organisation else "Cooperative",
        "buddy_name": "Sam Rivera",
        "buddy_first_name": "Sam",
        "cohort": "2027-01",
        "weeks": 3,
        "link": links.url("/auth/sample-token"),
        "links": {
            "survey": links.url("/surveys/sample"),
            "me": links.url("/me"),
            "profiles": links.url("/buddies/profiles/sample"),
            "object": links.url("/buddies/proposal/sample"),
            "calendar": links.url("/calendar/sample.ics"),
            "leave": links.url("/circles/leave/sample"),
            **{word: links.url("/circles/rsvp/sample", answer=word) for word in ("yes", "no", "maybe")},
        },
        "minutes": current_app.config["LOGIN_TOKEN_MINUTES"],
        "login_url": links.url("/login"),
        "base_url": current_app.config["BASE_URL"],
        "me_url": links.url("/me"),
        "footer": links.footer_for("onboarding"),
        **_sample_programme(),
    }


def _sample_programme() -> dict:
    """Believable values for the variables of the buddy, circle, command and
    survey emails, so that every template can be previewed and checked."""
    try:
        first = surveys.load("graduation").first
        question = first.text
        answers = [{"label": c.label, "value": c.value, "url": links.url("/surveys/sample", answer=c.value)}
                   for c in first.options()]
    except surveys.SurveyError:  # `flask emails check` reports the survey itself
        question, answers = "How much did Hearth help you?", []
    return {
        "until": "Monday 3 May 2027",
        "stream_name": "the onboarding journey",
        "sender_name": "Ada Okafor",
        "question": "How do we run our first consent round when the chair is sceptical?",
        "original_subject": "Re: Who decides how Riverside Food Co-op decides?",
        "champion_name": "Ada Okafor",
        "champion_first_name": "Ada",
        "consent_until": "Friday 12 March",
        "consent_days": 5,
        "was_active": True,
        "circle_name": "Riverside circle",
        "circle_purpose": "a monthly peer support circle for champions",
        "video_url": "https://meet.example/riverside",
        "meetings": ["Tuesday 2 March 2027, 18:00-19:30 (Europe/Berlin)",
                     "Tuesday 6 April 2027, 18:00-19:30 (Europe/Berlin)"],
        "meeting_when": "Tuesday 2 March 2027, 18:00-19:30 (Europe/Berlin)",
        "change": "The meeting moves to Wednesday 3 March 2027, 18:00 (Europe/Berlin).",
        "agenda": ["Check-in round", "One member's situation", "Consent round", "Check-out round"],
        "facilitator_name": "Sam Rivera",
        "situation_name": "Ada Okafor",
        "answer": "yes",
        "members": ["Ada Okafor: yes", "Sam Rivera: maybe", "Lee Chen: no answer yet"],
        "survey_title": "Looking back on your Hearth journey",
        "survey_question": question,
        "survey_answers": answers,
        "checkin_count": 6,
        "meetings_attended": 2,
    }


def stream_of(template: str) -> str:
    """The stream a template is sent in: from the sequence that names it, else
    from its name (buddy_, circle_, survey_ ...); sign-in and replies otherwise."""
    for sequence in _loadable_sequences():
        for step in sequence.steps:
            if step.template == template:
                return step.stream
    for prefix, stream in (("onboarding_", "onboarding"), ("buddy_", "buddy"), ("circle_", "circles"),
                           ("survey_", "surveys"), ("graduation_", "surveys"), ("command_", "replies"),
                           ("forwarded_", "replies")):
        if template.startswith(prefix):
            return stream
    return "transactional"


def preview(template: str, person: Person | None = None) -> render.Rendered:
    """`template` as its recipient sees it, with sample values (TemplateError when broken)."""
    context = sample_context(person)
    context["footer"] = links.footer_for(stream_of(template), person.id if person else None)
    return render.render(template, context)


def test_params() -> dict:
    """Sample values for a "send me a test" delivery (the outbox adds the
    recipient's own name, organisation and footer)."""
    return {key: value for key, value in sample_context().items()
            if key not in ("first_name", "name", "organisation", "organisation_kind", "footer",
                           "base_url", "me_url")}


def check_content() -> list[str]:
    """Every problem in the sequences and templates; each rendered for real."""

    def render_check(template: str) -> list[str]:
        try:
            rendered = render.render(template, sample_context())
        except render.TemplateError as error:
            return [str(error)]
        return ["the text part still holds '{{'"] if "{{" in rendered.text else []

    problems = sequences.check(render_check=render_check)
    # Every template, not only those a sequence names: features send the rest.
    used = {step.template for seq in _loadable_sequences() for step in seq.steps}
    for template in render.template_names():
        if template not in used:
            problems.extend(f"{template}.md: {message}" for message in render_check(template))
    return problems + surveys.check()


def _loadable_sequences() -> list:
    found = []
    for path in sorted(sequences.SEQUENCES.glob("*.toml")):
        try:
            found.append(sequences.load(path.stem))
        except sequences.SequenceError:
            continue  # sequences.check() reported it
    return found


@emails_cli.command("check")
def check_command() -> None:
    """Validate every template and sequence; exit non-zero on any problem."""
    problems = check_content()
    if problems:
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in emails/")
    count = len(sequences.load_all())
    click.echo(f"emails check: {len(render.template_names())} templates, {count} sequences and "
               f"{len(surveys.names())} surveys are fine.")


@emails_cli.command("preview")
@click.argument("template")
@click.option("--person", "email", help="Render for this person instead of a sample one.")
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the HTML.")
def preview_command(template: str, email: str | None, out: Path | None) -> None:
    """Print TEMPLATE's subject and text, and write its HTML to a file."""
    person = None
    if email:
        person = Person.by_email(email)
        if person is None:
            raise click.ClickException(f"No one with the address {email} has signed up.")
    try:
        rendered = render.render(template, sample_context(person))
    except render.TemplateError as error:
        raise click.ClickException(str(error)) from error
    out = out or Path(current_app.config["INSTANCE_PATH"]) / "previews" / f"{template}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(rendered.html, encoding="utf-8")
    click.echo(f"Subject: {rendered.subject}\nPreheader: {rendered.preheader}\n\n{rendered.text}")
    click.echo(f"HTML written to {out}")
