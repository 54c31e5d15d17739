"""Content that coordinators edit without code: checking and previewing the
templates and sequences under emails/ (`flask emails check|preview`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app import links
from app.accounts.models import ORGANISATION_KINDS, Person
from emails import render, sequences

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
        "links": {"survey": links.url("/surveys/sample"), "me": links.url("/me")},
        "minutes": current_app.config["LOGIN_TOKEN_MINUTES"],
        "login_url": links.url("/login"),
        "base_url": current_app.config["BASE_URL"],
        "me_url": links.url("/me"),
        "footer": links.footer_for("onboarding"),
    }


def check_content() -> list[str]:
    """Every problem in the sequences and templates; each rendered for real."""

    def render_check(template: str) -> list[str]:
        try:
            rendered = render.render(template, sample_context())
        except render.TemplateError as error:
            return [str(error)]
        return ["the text part still holds '{{'"] if "{{" in rendered.text else []

    return sequences.check(render_check=render_check)


@emails_cli.command("check")
def check_command() -> None:
    """Validate every template and sequence; exit non-zero on any problem."""
    problems = check_content()
    if problems:
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in emails/")
    count = len(sequences.load_all())
    click.echo(f"emails check: {len(render.template_names())} templates and {count} sequences are fine.")


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
