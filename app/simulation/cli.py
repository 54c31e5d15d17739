"""`flask simulate --champions N --buddies M --weeks W [--seed S] [--report PATH]`."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app import progress
from app.simulation import report
from app.simulation.parts import Parts, PartsRefused
from app.simulation.run import Settings, simulate


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


@contextmanager
def _quiet():
    """The INFO lines of each send, reply and SMTP connection would drown the summary."""
    loggers = [logging.getLogger(name) for name in ("app", "mail.log", "rq.worker")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@click.command("simulate")
@click.option("--champions", type=click.IntRange(1, 100_000), required=True)
@click.option("--buddies", type=click.IntRange(0, 100_000), required=True)
@click.option("--weeks", type=click.IntRange(1, 104), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--database-url", help="A database made for the run (PostgreSQL, say): empty, "
              "never the live one. Default: a new SQLite file, removed afterwards.")
@click.option("--redis-url", help="A Redis database made for the run: empty, never the live one. "
              "Default: an embedded Redis, stopped afterwards.")
@click.option("--reset", is_flag=True, help="Empty the given database and Redis first "
              "(everything in them is deleted).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML report (a .json of the same figures is written beside it). "
                   "Default: instance/simulation/report.html")
@with_appcontext
def simulate_command(champions: int, buddies: int, weeks: int, seed: int,
                     database_url: str | None, redis_url: str | None, reset: bool,
                     report_path: Path | None) -> None:
    """Run the programme on generated people, in a database, Redis and SMTP
    server made for the run (never the live ones), and write a report."""
    target = report_path or Path(current_app.config["INSTANCE_PATH"]) / "simulation" / "report.html"
    settings = Settings(champions=champions, buddies=buddies, weeks=weeks, seed=seed)
    live = (current_app.config["SQLALCHEMY_DATABASE_URI"], current_app.config.get("REDIS_URL"))
    try:
        parts = Parts(database_url, redis_url, reset=reset, live=live)
        with _quiet(), progress.bar("simulating", total=1.0) as shown:
            data = simulate(settings, shown.update, parts)
    except PartsRefused as error:
        raise click.ClickException(str(error)) from error
    json_path = report.write(data, target)
    integrity = data["integrity"]
    lateness = data["lateness_seconds"]
    click.echo(
        f"{data['emails']['people_reached']} people, "
        f"{sum(map(sum, data['emails']['per_week_by_stream'].values()))} emails; "
        f"at most {data['emails']['max_programme_emails_one_person_one_week']} programme emails "
        f"to one person in a week; {data['matches']['introduced']} pairs introduced; "
        f"circle attendance {_percent(data['circles']['attendance_rate'])}; "
        f"graduated {_percent(data['graduation']['rate'])}; "
        f"lateness p50 {lateness['p50']} s, p99 {lateness['p99']} s; "
        f"lost {integrity['lost']}, doubled {integrity['doubled']}."
    )
    click.echo(f"report: {target}\nfigures: {json_path}")
    if integrity["lost"] or integrity["doubled"]:
        raise click.ClickException("something was lost or doubled: see the report's Integrity table")
