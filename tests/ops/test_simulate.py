"""`flask simulate`: the real programme on generated people, in parts made
for the run, with a report of what they lived through."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select

from app.accounts.models import Person
from app.extensions import db
from app.simulation import people
from app.simulation.run import Settings, simulate


@pytest.fixture
def one_bounces_one_is_away(monkeypatch):
    """The first generated champion's address does not exist; the second is on holiday."""
    generate = people.champions

    def champions(rng, count):
        made = generate(rng, count)
        made[0] = dataclasses.replace(made[0], bounces=True, away=False)
        made[1] = dataclasses.replace(made[1], bounces=False, away=True)
        return [made[0], made[1], *(dataclasses.replace(c, bounces=False, away=False) for c in made[2:])]

    monkeypatch.setattr(people, "champions", champions)


@pytest.fixture(scope="module")
def figures_cache():
    return {}


def run_once(cache) -> dict:
    if "figures" not in cache:
        cache["figures"] = simulate(Settings(champions=6, buddies=2, weeks=4, seed=7))
    return cache["figures"]


def test_nothing_is_lost_or_doubled(one_bounces_one_is_away, figures_cache):
    figures = run_once(figures_cache)
    assert figures["integrity"] == {"lost": 0, "doubled": 0, "due_not_sent": 0,
                                    "sent_not_received": 0, "inbound_not_processed": 0,
                                    "failed_jobs": 0}


def test_champions_get_buddies_and_buddies_log_checkins(one_bounces_one_is_away, figures_cache):
    figures = run_once(figures_cache)
    assert figures["matches"]["introduced"] >= 2
    assert sum(pair["checkins"] for pair in figures["checkins_per_pair"]) >= 1
    sample = figures["sample_champion"]
    assert sample["has_buddy"]
    subjects = [event["subject"] for event in sample["events"] if event["what"] == "email"]
    assert subjects[0].startswith("Confirm") and any("Welcome" in s for s in subjects)


def test_replies_go_through_the_inbound_pipeline(one_bounces_one_is_away, figures_cache):
    figures = run_once(figures_cache)
    assert figures["replies_by_kind"]["bounce"] == 1
    assert figures["replies_by_kind"]["auto-reply"] >= 1
    assert figures["inbound_by_status"]["ignored"] >= figures["replies_by_kind"]["auto-reply"] + 1
    assert "new" not in figures["inbound_by_status"] and "failed" not in figures["inbound_by_status"]
    assert figures["deliveries_by_status"]["bounced"] == 1


def test_emails_per_person_per_week(one_bounces_one_is_away, figures_cache):
    emails = run_once(figures_cache)["emails"]
    assert set(emails["per_week_by_stream"]) >= {"transactional", "onboarding", "buddy"}
    assert all(len(weeks) == 4 for weeks in emails["per_week_by_stream"].values())
    assert emails["max_programme_emails_one_person_one_week"] == max(emails["max_programme_emails_per_week"])
    # Everyone, and the coordinator too when a question came before a buddy.
    assert 6 + 2 <= emails["people_reached"] <= 6 + 2 + 1
    lateness = run_once(figures_cache)["lateness_seconds"]
    assert lateness["sends"] > 0 and lateness["p99"] is not None


def test_the_same_seed_gives_the_same_programme(one_bounces_one_is_away, figures_cache):
    again = simulate(Settings(champions=6, buddies=2, weeks=4, seed=7))
    assert again == run_once(figures_cache)


def test_the_live_database_is_never_touched(app, one_bounces_one_is_away, figures_cache, redis):
    run_once(figures_cache)
    with app.app_context():
        assert db.session.scalar(select(func.count(Person.id))) == 0
    assert redis.dbsize() == 0


def test_the_command_writes_html_and_json(runner, tmp_path):
    target = tmp_path / "launch" / "report.html"
    result = runner.invoke(args=["simulate", "--champions", "3", "--buddies", "1", "--weeks", "2",
                                 "--seed", "4", "--report", str(target)])
    assert result.exit_code == 0, result.output
    assert "lost 0, doubled 0." in result.output
    page = target.read_text()
    assert page.count("<svg") >= 3 and "Nothing lost, nothing doubled." in page
    figures = json.loads(target.with_suffix(".json").read_text())
    assert figures["settings"]["champions"] == 3
    assert figures["integrity"]["lost"] == 0


def test_the_command_explains_bad_sizes(runner):
    result = runner.invoke(args=["simulate", "--champions", "0", "--buddies", "1", "--weeks", "2"])
    assert result.exit_code != 0 and "champions" in result.output


def test_champions_answer_their_circle_invitation_from_their_calendar(one_bounces_one_is_away,
                                                                        figures_cache):
    figures = run_once(figures_cache)
    circles = figures["circles"]
    assert circles["circles"] == 1 and circles["members"] >= 2
    rsvps = {kind: count for kind, count in figures["replies_by_kind"].items() if kind.startswith("rsvp")}
    assert sum(rsvps.values()) >= 2  # iTIP REPLYs, through the inbound pipeline
    answered = sum(count for answer, count in circles["answers"].items() if answer != "no answer")
    assert answered == sum(rsvps.values())  # each one recorded on its membership
    [meeting] = circles["meetings"]  # the second Thursday of March 2027, 18:00 in Berlin
    assert meeting["at"] == "2027-03-11T18:00:00+01:00" and meeting["members"] >= 1
    assert circles["attendance_rate"] == meeting["said_yes"] / meeting["members"]


def test_champions_graduate_at_the_end_and_answer_the_survey():
    figures = simulate(Settings(champions=3, buddies=1, weeks=11, seed=5))
    graduation = figures["graduation"]
    assert graduation["champions_confirmed"] == 3
    assert graduation["graduated"] == 3 and graduation["rate"] == 1.0  # ten weeks after confirming
    assert graduation["survey_responses"] == graduation["survey_responses_written"] >= 1
    assert figures["emails"]["per_week_by_stream"]["surveys"][-2:] != [0, 0]
    assert figures["integrity"]["lost"] == 0 and figures["integrity"]["doubled"] == 0


def _another_redis_database(url: str) -> str:
    if url.startswith("unix://"):
        return url.split("?")[0] + "?db=7"
    return url.rsplit("/", 1)[0] + "/7"


def test_a_database_and_redis_given_for_the_run(app, runner, tmp_path, redis_url):
    database = f"sqlite:///{tmp_path / 'launch-rehearsal.sqlite3'}"
    other = _another_redis_database(redis_url)
    args = ["simulate", "--champions", "2", "--buddies", "1", "--weeks", "1",
            "--database-url", database, "--redis-url", other, "--report", str(tmp_path / "r.html")]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert "lost 0, doubled 0." in first.output
    again = runner.invoke(args=args)  # it is not empty any more
    assert again.exit_code != 0 and "is not empty" in again.output and "--reset" in again.output
    reset = runner.invoke(args=[*args, "--reset"])
    assert reset.exit_code == 0, reset.output
    redis_lib = pytest.importorskip("redis")
    redis_lib.Redis.from_url(other).flushdb()


def test_the_live_database_or_redis_is_refused(app, runner, redis_url):
    live_database = app.config["SQLALCHEMY_DATABASE_URI"]
    for option, url in (("--database-url", live_database), ("--redis-url", redis_url)):
        result = runner.invoke(args=["simulate", "--champions", "2", "--buddies", "1", "--weeks", "1",
                                     option, url])
        assert result.exit_code != 0 and "that is the live" in result.output, result.output
