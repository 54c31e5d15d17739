"""The CLI twins of the dashboard: `flask export NAME` for every list, and
`flask outbox retry|retry-failed|cancel`, `flask inbound checkin|discard`.
Each prints what it did and exits non-zero with a clear message when it cannot."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask.cli import AppGroup

from app import progress
from app.admin import exports, inbound_review
from app.extensions import db
from app.outbox import admin_actions
from app.outbox import service as outbox
from app.surveys import results

outbox_cli = AppGroup("outbox", help="The outbox: retry failed emails, cancel waiting ones.")


def _export_command(export: exports.Export):
    def run(**options) -> None:
        _write_csv(export, **options)

    run.__doc__ = f"{export.help} (CSV with a header row)"
    return run


def _write_csv(export: exports.Export, **options) -> None:
    """The CSV on stdout; a bar on stderr when that is a terminal."""
    total = export.count() if export.count is not None else None
    with progress.bar(f"export {export.name}", total) as shown:
        for chunk in exports.csv_lines(export, on_rows=shown.advance, **options):
            sys.stdout.write(chunk)


def _survey_filters(survey: str | None, cohort: str | None, since: date | None,
                    until: date | None) -> results.Filters | None:
    if cohort and not survey:
        raise click.ClickException("--cohort needs --survey.")
    if not survey:
        return None
    found = results.cohort_named(cohort) if cohort else None
    if cohort and found is None:
        raise click.ClickException(f"There is no cohort {cohort!r} (cohorts are months, like 2027-03).")
    return results.Filters(survey, found.id if found else None, since, until)


def _survey_responses_command():
    @click.option("--survey", help="Only this survey (its columns only), e.g. graduation.")
    @click.option("--cohort", help="Only this cohort, e.g. 2027-03 (needs --survey).")
    @click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Answered on or after this day.")
    @click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Answered on or before this day.")
    def survey_responses(survey, cohort, since, until) -> None:
        """One row per survey response, one column per question (CSV with a header row)."""
        from emails import surveys as definitions

        if survey and survey not in definitions.names():
            raise click.ClickException(f"There is no survey {survey!r} (known: {', '.join(definitions.names())}).")
        filters = _survey_filters(survey, cohort, since.date() if since else None,
                                  until.date() if until else None)
        _write_csv(exports.EXPORTS["survey-responses"], filters=filters)

    return survey_responses


def _commit() -> None:
    db.session.commit()
    outbox.enqueue_pending()


@outbox_cli.command("retry")
@click.argument("delivery_id", type=int)
def retry(delivery_id: int) -> None:
    """Send failed or bounced email DELIVERY_ID again."""
    try:
        delivery = admin_actions.retry(delivery_id)
    except admin_actions.DeliveryActionRefused as error:
        raise click.ClickException(str(error)) from error
    _commit()
    click.echo(f"Email #{delivery.id} to {delivery.to_email} is queued again.")


@outbox_cli.command("retry-failed")
def retry_failed() -> None:
    """Send every failed email again (bounced ones stay: their addresses said no)."""
    count = admin_actions.retry_all_failed()
    _commit()
    click.echo(f"{count} failed email(s) queued again.")


@outbox_cli.command("cancel")
@click.argument("delivery_id", type=int)
@click.option("--reason", default="", help="Kept with the email for the record.")
def cancel(delivery_id: int, reason: str) -> None:
    """Cancel email DELIVERY_ID, which has not been sent yet."""
    try:
        delivery = admin_actions.cancel(delivery_id, reason)
    except admin_actions.DeliveryActionRefused as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Email #{delivery.id} to {delivery.to_email} is cancelled.")


def _inbound_checkin():
    @click.argument("message_id", type=int)
    @click.option("--pair", "pair_id", type=int, required=True, help="The pair it belongs to.")
    @click.option("--author", "author_email", help="Who wrote it (default: its sender).")
    def checkin(message_id: int, pair_id: int, author_email: str | None) -> None:
        """Log inbound message MESSAGE_ID as a check-in of a pair."""
        from app.accounts.models import Person

        author_id = None
        if author_email:
            author = Person.by_email(author_email)
            if author is None:
                raise click.ClickException(f"No one with the address {author_email} is known to Hearth.")
            author_id = author.id
        try:
            logged = inbound_review.log_as_checkin(message_id, pair_id, author_id, "the command line")
        except inbound_review.ReviewRefused as error:
            raise click.ClickException(str(error)) from error
        _commit()
        click.echo(f"inbound {message_id}: logged as check-in {logged.id} of pair {pair_id}")

    return checkin


def _inbound_discard():
    @click.argument("message_id", type=int)
    @click.option("--reason", required=True, help="Why it is set aside (kept with the message).")
    def discard(message_id: int, reason: str) -> None:
        """Set inbound message MESSAGE_ID aside for good, with a reason."""
        try:
            found = inbound_review.discard(message_id, reason, "the command line")
        except inbound_review.ReviewRefused as error:
            raise click.ClickException(str(error)) from error
        db.session.commit()
        click.echo(f"inbound {found.id}: {found.status}: {found.reason}")

    return discard


def register(app) -> None:
    """Add every `flask export` list, `flask outbox` and the inbound review
    commands (called by app.cli.register)."""
    from app.cli import export_cli
    from app.inbound.cli import inbound_cli

    for name, export in exports.EXPORTS.items():
        if name == "survey-responses":
            export_cli.command(name)(_survey_responses_command())
        else:
            export_cli.command(name)(_export_command(export))
    inbound_cli.command("checkin")(_inbound_checkin())
    inbound_cli.command("discard")(_inbound_discard())
    app.cli.add_command(outbox_cli)
