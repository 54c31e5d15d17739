"""`flask simulate --champions N --buddies M --weeks W [--seed S] [--report PATH]`."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.simulation import report
from app.simulation.run import Settings, simulate


@contextmanager
def _progress(enabled: bool):
    """A bar with the time left in a terminal (rich); silence when piped."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("simulating"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("simulate", total=1.0)
        yield lambda fraction: bar.update(task, completed=fraction)


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
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML report (a .json of the same figures is written beside it). "
                   "Default: instance/simulation/report.html")
@with_appcontext
def simulate_command(champions: int, buddies: int, weeks: int, seed: int,
                     report_path: Path | None) -> None:
    """Run the programme on generated people, in a database, Redis and SMTP
    server made for the run (never the live ones), and write a report."""
    target = report_path or Path(current_app.config["INSTANCE_PATH"]) / "simulation" / "report.html"
    settings = Settings(champions=champions, buddies=buddies, weeks=weeks, seed=seed)
    with _quiet(), _progress(sys.stdout.isatty()) as progress:
        data = simulate(settings, progress)
    json_path = report.write(data, target)
    integrity = data["integrity"]
    lateness = data["lateness_seconds"]
    click.echo(
        f"{data['emails']['people_reached']} people, "
        f"{sum(map(sum, data['emails']['per_week_by_stream'].values()))} emails; "
        f"at most {data['emails']['max_programme_emails_one_person_one_week']} programme emails "
        f"to one person in a week; {data['matches']['introduced']} pairs introduced; "
        f"lateness p50 {lateness['p50']} s, p99 {lateness['p99']} s; "
        f"lost {integrity['lost']}, doubled {integrity['doubled']}."
    )
    click.echo(f"report: {target}\nfigures: {json_path}")
    if integrity["lost"] or integrity["doubled"]:
        raise click.ClickException("something was lost or doubled: see the report's Integrity table")
