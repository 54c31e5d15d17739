"""The clock process ticks under a Redis lock: two clocks never tick at once."""

from __future__ import annotations

from workers.clock import LOCK_NAME, run_once


def test_only_the_clock_holding_the_lock_ticks(app, redis):
    with app.app_context():
        assert run_once(redis, interval=30) is True  # free: it ticks and releases
        held = redis.lock(LOCK_NAME, timeout=60)
        assert held.acquire(blocking=False)
        try:
            assert run_once(redis, interval=30) is False  # another clock holds it
        finally:
            held.release()
        assert run_once(redis, interval=30) is True


def test_set_cohort_by_cli(runner, client, smtp, drain):
    from tests.story import signed_up_champion

    signed_up_champion(client, smtp, drain)
    ok = runner.invoke(args=["people", "set-cohort", "ada@example.org", "2027-03"])
    assert ok.exit_code == 0 and "is now in cohort 2027-03" in ok.output
    bad = runner.invoke(args=["people", "set-cohort", "ada@example.org", "spring"])
    assert bad.exit_code != 0 and "like 2027-03" in bad.output
    people = runner.invoke(args=["export", "people"]).output
    assert ",2027-03," in people
