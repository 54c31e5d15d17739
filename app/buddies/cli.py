"""`flask buddies ...`: the CLI twins of the coordinators' buddy pages, and
`flask export checkins`. Each prints what it did and exits non-zero with a
clear message when it cannot (DESIGN.md)."""

from __future__ import annotations

import csv
import sys

import click
from flask.cli import AppGroup

from app import clock
from app.accounts.models import Person
from app.buddies import applications, overview, qualification, service
from app.buddies.errors import BuddyError
from app.extensions import db
from app.outbox import service as outbox

buddies_cli = AppGroup("buddies", help="Buddies: approval, matching, pairs, qualification.")


def _commit() -> None:
    db.session.commit()
    outbox.enqueue_pending()


@buddies_cli.command("approve")
@click.argument("email")
def approve(email: str) -> None:
    """Approve the buddy application of EMAIL."""
    try:
        profile, changed = applications.approve_buddy(email)
    except BuddyError as error:
        raise click.ClickException(str(error)) from error
    _commit()
    if changed:
        click.echo(f"{profile.person.email} is now a buddy (up to {profile.capacity} champions).")
    else:
        click.echo(f"{profile.person.email} is already a buddy; nothing changed.")


@buddies_cli.command("decline")
@click.argument("email")
@click.option("--reason", default="", help="Kept for coordinators; not emailed.")
def decline(email: str, reason: str) -> None:
    """Decline the buddy application of EMAIL (or retire a buddy without champions)."""
    try:
        profile = applications.decline_buddy(email, None, reason)
    except BuddyError as error:
        raise click.ClickException(str(error)) from error
    _commit()
    click.echo(f"The buddy application of {profile.person.email} is declined.")


@buddies_cli.command("match")
@click.argument("champion", required=False)
@click.option("--buddy", "buddy_email", help="Propose this buddy instead of the suggestion.")
@click.option("--auto", "auto", is_flag=True,
              help="Also switch on automatic matching: from now on Hearth proposes by itself.")
def match(champion: str | None, buddy_email: str | None, auto: bool) -> None:
    """Propose a buddy to CHAMPION (an email), or to every champion waiting.

    Each proposal goes to both people, who may object within the consent
    period; silence is consent."""
    if auto:
        service.set_auto_matching(True)
        _commit()
        click.echo("Automatic matching is on: Hearth proposes the best buddy by itself.")
    if buddy_email and not champion:
        raise click.ClickException("--buddy needs a CHAMPION: flask buddies match CHAMPION --buddy BUDDY")
    if champion:
        targets = [Person.by_email(champion)]
        if targets[0] is None:
            raise click.ClickException(f"No one with the address {champion.strip().lower()} is known to Hearth.")
    else:
        targets = service.waiting_champions(clock.now())
        if not targets:
            click.echo("No champion is waiting for a buddy.")
            return
    buddy_id = None
    if buddy_email:
        buddy = Person.by_email(buddy_email)
        if buddy is None:
            raise click.ClickException(f"No one with the address {buddy_email.strip().lower()} is known to Hearth.")
        buddy_id = buddy.id
    failed = 0
    for person in targets:
        try:
            pair = service.propose_match(person.id, buddy_id=buddy_id, how="coordinator")
        except BuddyError as error:
            db.session.rollback()
            failed += 1
            click.echo(f"{person.email}: {error}", err=True)
            continue
        _commit()
        click.echo(f"{person.email}: proposed {pair.buddy.email} (score {pair.score:.2f}; "
                   f"{', '.join(pair.reasons)}); objections until {pair.consent_until:%Y-%m-%d %H:%M} UTC.")
    if failed:
        raise click.ClickException(f"{failed} champion(s) could not be matched (see above).")


@buddies_cli.command("auto-matching")
@click.argument("state", type=click.Choice(["on", "off"]))
def auto_matching(state: str) -> None:
    """Switch automatic matching on or off."""
    service.set_auto_matching(state == "on")
    _commit()
    click.echo(f"Automatic matching is {state}.")


@buddies_cli.command("end")
@click.argument("pair_id", type=int)
@click.option("--reason", required=True, help="Why the coordinators end it (not emailed).")
def end(pair_id: int, reason: str) -> None:
    """End pair PAIR_ID: a closing email to both; the check-in prompts stop."""
    try:
        service.end_pair(pair_id, None, reason)
    except BuddyError as error:
        raise click.ClickException(str(error)) from error
    _commit()
    click.echo(f"Pair {pair_id} is ended.")


@buddies_cli.command("qualify")
@click.argument("email")
@click.option("--yes/--no", "qualifies", required=True, help="Qualifies for buddy support or not.")
@click.option("--reason", required=True, help="Why the coordinators decide so.")
def qualify(email: str, qualifies: bool, reason: str) -> None:
    """Override whether champion EMAIL qualifies for buddy support."""
    try:
        row = service.override_qualification(email, qualifies, reason, None)
    except BuddyError as error:
        raise click.ClickException(str(error)) from error
    _commit()
    click.echo(f"{row.person.email} {'qualifies' if row.qualifies else 'does not qualify'}: {reason}")


@buddies_cli.command("assess")
def assess() -> None:
    """Assess every confirmed champion who has no qualification yet."""
    champions = overview.unassessed_champions()
    for person in champions:
        row = qualification.assess(person)
        if row is None:
            raise click.ClickException("emails/programme.toml cannot be read; fix it first (see the log).")
        click.echo(f"{person.email}: {'qualifies' if row.qualifies else 'does not qualify'} ({row.reason})")
    _commit()
    click.echo(f"{len(champions)} champion(s) assessed.")


@buddies_cli.command("review")
def review() -> None:
    """Run the buddy clock work now: suggestions, introductions, nudges, at-risk."""
    now = clock.now()
    click.echo(f"matching: {service.suggest_for_due_champions(now)}")
    click.echo(f"review: {service.review_pairs(now)}")
    outbox.enqueue_pending()


def export_checkins() -> None:
    """Every check-in with its pair's people (CSV with a header row)."""
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["id", "pair_id", "champion_email", "buddy_email", "author_email", "author_role",
                  "at", "energy", "text", "inbound_id"])
    for checkin, pair in overview.checkin_rows():
        role = "buddy" if checkin.author_id == pair.buddy_id else "champion"
        out.writerow([checkin.id, pair.id, pair.champion.email, pair.buddy.email,
                      checkin.author.email, role, checkin.at.isoformat(),
                      "" if checkin.energy is None else checkin.energy, checkin.text,
                      checkin.inbound_id or ""])


def register(app) -> None:
    """Add `flask buddies` and `flask export checkins` (called by app.cli.register)."""
    from app.cli import export_cli

    export_cli.command("checkins")(export_checkins)
    app.cli.add_command(buddies_cli)
