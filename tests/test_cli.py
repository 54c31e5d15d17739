"""The CLI twins: tick (with time travel and draining) and CSV exports."""

from __future__ import annotations

import csv
import io

from tests.story import confirm_by_email, sign_up


def test_tick_drain_sends_what_is_due(runner, client, smtp):
    sign_up(client)
    result = runner.invoke(args=["tick", "--drain"])
    assert result.exit_code == 0, result.output
    assert "queues drained" in result.output
    assert len(smtp.to("ada@example.org")) == 1


def test_tick_now_needs_time_travel_and_a_zone(runner, app, monkeypatch):
    ok = runner.invoke(args=["tick", "--now", "2027-01-04T09:00:00+01:00"])
    assert ok.exit_code == 0 and "2027-01-04T08:00:00+00:00" in ok.output
    naive = runner.invoke(args=["tick", "--now", "2027-01-04T09:00:00"])
    assert naive.exit_code != 0 and "needs a zone" in naive.output
    garbage = runner.invoke(args=["tick", "--now", "monday"])
    assert garbage.exit_code != 0 and "not an ISO 8601 time" in garbage.output
    monkeypatch.setitem(app.config, "ALLOW_TIME_TRAVEL", False)
    refused = runner.invoke(args=["tick", "--now", "2027-01-04T09:00:00+01:00"])
    assert refused.exit_code != 0 and "ALLOW_TIME_TRAVEL" in refused.output


def _rows(output: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(output)))


def test_export_people_and_deliveries(runner, client, smtp, drain):
    confirm_by_email(client, smtp, drain)
    people = _rows(runner.invoke(args=["export", "people"]).output)
    assert [(p["email"], p["status"], p["roles"]) for p in people] == [
        ("ada@example.org", "active", "champion")
    ]
    deliveries = _rows(runner.invoke(args=["export", "deliveries"]).output)
    assert [(d["template"], d["status"]) for d in deliveries] == [("confirm_signup", "sent")]
    assert deliveries[0]["message_id"].startswith("<d")


def test_exports_of_an_empty_programme_have_a_header_row(runner):
    for what in ("people", "deliveries"):
        output = runner.invoke(args=["export", what]).output
        assert output.count("\n") == 1 and output.startswith("id,")
