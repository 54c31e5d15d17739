"""`flask surveys graduate|tick|results`: the CLI twins of graduation and the
survey results page (`flask export survey-responses` is in app.admin.cli).
Each prints what it did and exits non-zero with a clear message when it cannot."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app import clock
from app.accounts.models import Person
from app.extensions import db
from app.outbox import service as outbox
from app.surveys import results, service
from app.surveys.errors import SurveyError
from emails import surveys as definitions

surveys_cli = AppGroup("surveys", help="Graduation and surveys.")


@surveys_cli.command("graduate")
@click.argument("email")
def graduate(email: str) -> None:
    """Graduate champion EMAIL now: the thank-you email with the survey, and their buddy's survey."""
    person = Person.by_email(email)
    if person is None:
        raise click.ClickException(f"No one with the address {email.strip().lower()} is known to Hearth.")
    try:
        graduation = service.graduate(person.id, how="coordinator")
    except SurveyError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    outbox.enqueue_pending()
    click.echo(f"{person.email} graduated on {graduation.graduated_at:%Y-%m-%d} after {graduation.weeks} "
               f"weeks ({graduation.checkin_count} check-ins, {graduation.meetings_attended} circle "
               "meetings); the survey invitation is on its way.")


@surveys_cli.command("tick")
def tick() -> None:
    """Graduate every champion whose journey has ended (the clock does this too)."""
    click.echo(f"surveys: {service.tick_surveys(clock.now())}")
    outbox.enqueue_pending()


@surveys_cli.command("results")
@click.argument("survey")
@click.option("--cohort", help="Only this cohort, e.g. 2027-03.")
def show_results(survey: str, cohort: str | None) -> None:
    """Print the results of SURVEY per question, like the dashboard shows them."""
    if survey not in definitions.names():
        raise click.ClickException(f"There is no survey {survey!r} (known: {', '.join(definitions.names())}).")
    found = results.cohort_named(cohort) if cohort else None
    if cohort and found is None:
        raise click.ClickException(f"There is no cohort {cohort!r} (cohorts are months, like 2027-03).")
    summary = results.results(results.Filters(survey, found.id if found else None))
    rate = f" ({summary.response_rate}%)" if summary.response_rate is not None else ""
    click.echo(f"{summary.survey.title}: {summary.responses} responses of {summary.invited} invited{rate}")
    for number, result in enumerate(summary.questions, start=1):
        click.echo(f"\n{number}. {result.question.text} [{result.question.kind}, {result.answered} answered]")
        for bucket in result.buckets:
            click.echo(f"   {bucket.label}: {bucket.count}")
        if result.average is not None:
            click.echo(f"   average: {result.average:.2f}")
        if result.nps is not None:
            click.echo(f"   net promoter score: {result.nps:+d}")
        for at, text in result.texts[:10]:
            click.echo(f"   {at:%Y-%m-%d}: {' '.join(text.split())}")
