"""Flask CLI: every coordinator action has a twin here (DESIGN.md)."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app import clock, queues
from app.accounts import service as accounts
from app.accounts.errors import NotFound
from app.content import emails_cli
from app.extensions import db
from app.inbound.cli import inbound_cli
from app.tick import tick

people_cli = AppGroup("people", help="People and their roles.")


@people_cli.command("make-coordinator")
@click.argument("email")
def make_coordinator(email: str) -> None:
    """Give EMAIL the coordinator role (they sign in by magic link)."""
    try:
        person = accounts.make_coordinator(email)
    except NotFound as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{person.email} is now a coordinator.")


@people_cli.command("set-cohort")
@click.argument("email")
@click.argument("cohort")
def set_cohort(email: str, cohort: str) -> None:
    """Place EMAIL's champion in COHORT (a month: 2027-03) instead of their signup month."""
    try:
        accounts.place_in_cohort(email, cohort)
    except NotFound as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{email.strip().lower()} is now in cohort {cohort}.")


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    if not current_app.config["ALLOW_TIME_TRAVEL"]:
        raise click.ClickException("--now needs ALLOW_TIME_TRAVEL=1 in the environment.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.ClickException(f"--now {value!r} is not an ISO 8601 time: {error}") from error
    if moment.tzinfo is None:
        raise click.ClickException("--now needs a zone, for example 2027-01-04T09:00:00+01:00")
    return moment


@click.command("tick")
@with_appcontext
@click.option("--now", "now_text", help="Pretend it is this time (needs ALLOW_TIME_TRAVEL).")
@click.option("--drain", "do_drain", is_flag=True, help="Also run the jobs it enqueues, here.")
def tick_command(now_text: str | None, do_drain: bool) -> None:
    """Run what is due now: journeys, retries, stale sends."""
    moment = _parse_now(now_text)
    if moment is not None:
        clock.set(moment)
    report = tick()
    click.echo(f"tick at {clock.now().isoformat()}: {report}")
    if do_drain:
        queues.drain(after_each=tick)  # retries made due by the jobs, and follow-ups
        click.echo("queues drained")


# Its lists (people, deliveries, ...) are registered by app.admin.cli from
# app.admin.exports, which the dashboard's CSV links read too.
export_cli = AppGroup("export", help="CSV exports with a header row.")


def register(app: Flask) -> None:
    app.cli.add_command(people_cli)
    app.cli.add_command(tick_command)
    app.cli.add_command(export_cli)
    app.cli.add_command(emails_cli)
    from app.buddies.cli import register as register_buddies  # imports export_cli: here, not on top

    register_buddies(app)  # `flask buddies ...` and `flask export checkins`
    app.cli.add_command(inbound_cli)
    from app.circles.cli import circles_cli  # imports export_cli (`flask export rsvps`): here

    app.cli.add_command(circles_cli)
    from app.simulation.cli import simulate_command  # builds its own app for the run: here

    app.cli.add_command(simulate_command)
    from app.admin.cli import register as register_admin  # imports export_cli: here
    from app.surveys.cli import surveys_cli

    register_admin(app)  # `flask export people|deliveries|...`, `flask outbox`, inbound review
    app.cli.add_command(surveys_cli)  # `flask surveys graduate|tick|check`
