"""The figures of a simulated programme (a JSON-ready dict), and the HTML
report with SVG charts that shows them. Every figure is read from what the
run left behind: the SMTP sink's own record and the run's database."""

from __future__ import annotations

import html
import json
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from app.accounts.models import Person
from app.buddies.models import Checkin, Pair
from app.circles import rsvps, schedule
from app.circles.models import Circle, Membership
from app.extensions import db
from app.inbound.models import InboundMessage
from app.metrics import quantile, send_lateness
from app.outbox.models import Delivery
from app.surveys.models import Graduation, SurveyResponse

STREAM_COLOURS = {"transactional": "#8a8f98", "onboarding": "#e07a2f", "buddy": "#2f7de0",
                  "circles": "#3aa657", "surveys": "#9a4fd0", "replies": "#c9a227",
                  "unknown": "#444444"}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def figures(outcome) -> dict:
    """Everything the report shows; call inside the run's app context."""
    settings = outcome.settings
    start, weeks = settings.start, settings.weeks
    deliveries = {d.message_id: d for d in db.session.scalars(
        select(Delivery).where(Delivery.message_id.is_not(None)))}
    received_ids: Counter[str] = Counter()
    per_week_stream: dict[str, list[int]] = defaultdict(lambda: [0] * weeks)
    per_person_week: Counter[tuple[str, int]] = Counter()
    timeline_mail: dict[str, list[dict]] = defaultdict(list)
    for arrival in outcome.arrivals:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(arrival.raw)
        message_id = str(headers["Message-ID"])
        received_ids[message_id] += 1
        delivery = deliveries.get(message_id)
        stream = delivery.stream if delivery else "unknown"
        week = min(int((arrival.at - start) / timedelta(weeks=1)), weeks - 1)
        for rcpt in arrival.rcpt_tos:
            per_week_stream[stream][week] += 1
            if stream != "transactional":
                per_person_week[(rcpt, week)] += 1
            timeline_mail[rcpt].append({"at": arrival.at.isoformat(), "what": "email",
                                        "stream": stream, "subject": str(headers["Subject"])})
    people = {email for email, _week in per_person_week}
    max_by_week = [max((per_person_week[(p, w)] for p in people), default=0) for w in range(weeks)]
    recipients = max(len({r for a in outcome.arrivals for r in a.rcpt_tos}), 1)
    return {
        "settings": {"champions": settings.champions, "buddies": settings.buddies,
                     "weeks": weeks, "seed": settings.seed, "start": start.isoformat(),
                     "steps": outcome.steps},
        "emails": {
            "per_week_by_stream": dict(sorted(per_week_stream.items())),
            "per_person_per_week_by_stream": {
                stream: [round(count / recipients, 2) for count in counts]
                for stream, counts in sorted(per_week_stream.items())},
            "max_programme_emails_one_person_one_week": max(max_by_week, default=0),
            "max_programme_emails_per_week": max_by_week,
            "attention_cap_per_week": current_app.config["ATTENTION_MAX_PER_WEEK"],
            "people_reached": recipients,
        },
        "sample_champion": _timeline(outcome, timeline_mail),
        "matches": _matches(),
        "checkins_per_pair": _checkins_per_pair(),
        "lateness_seconds": _lateness(),
        "replies_by_kind": dict(Counter(reply["kind"] for reply in outcome.replies)),
        "inbound_by_status": dict(db.session.execute(
            select(InboundMessage.status, func.count()).group_by(InboundMessage.status)).all()),
        "deliveries_by_status": dict(db.session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)).all()),
        "circles": _circles(settings.end),
        "graduation": _graduation(outcome),
        "integrity": _integrity(outcome, deliveries, received_ids),
    }


def _timeline(outcome, mail: dict[str, list[dict]]) -> dict:
    """The champion with a buddy who received the most, else the first champion."""
    paired = {pair.champion.email for pair in db.session.scalars(
        select(Pair).where(Pair.introduced_at.is_not(None)))}
    champions = [email for email in mail if email.endswith("@champions.example")]
    if not champions:
        return {"email": None, "events": []}
    wrote = Counter(r["from"] for r in outcome.replies if r["kind"] not in ("auto-reply", "bounce"))
    chosen = max(champions, key=lambda e: (e in paired, wrote[e] > 0, len(mail[e]), e))
    replies = [{"at": r["at"].isoformat(), "what": "reply", "kind": r["kind"]}
               for r in outcome.replies if r["from"] == chosen]
    events = sorted(mail[chosen] + replies, key=lambda event: event["at"])
    return {"email": chosen, "has_buddy": chosen in paired, "events": events}


def _matches() -> dict:
    statuses = dict(db.session.execute(select(Pair.status, func.count()).group_by(Pair.status)).all())
    return {
        "by_status": statuses,
        "introduced": db.session.scalar(select(func.count()).where(Pair.introduced_at.is_not(None))),
        "objected": db.session.scalar(select(func.count()).where(Pair.objected_at.is_not(None))),
    }


def _checkins_per_pair() -> list[dict]:
    counts = dict(db.session.execute(
        select(Checkin.pair_id, func.count()).group_by(Checkin.pair_id)).all())
    pairs = db.session.scalars(select(Pair).where(Pair.introduced_at.is_not(None)).order_by(Pair.id))
    return [{"pair": pair.id, "status": pair.status, "checkins": counts.get(pair.id, 0)}
            for pair in pairs]


def _circles(end: datetime) -> dict:
    """Who answered their circle's invitation how, and each meeting held:
    members at the time and how many had said yes (attendance as promised)."""
    answers: Counter[str] = Counter()
    meetings = []
    for circle in db.session.scalars(select(Circle).order_by(Circle.id)):
        members = list(db.session.scalars(select(Membership).where(Membership.circle_id == circle.id)))
        for member in members:
            answers[rsvps.ANSWERS.get(member.series_partstat or "", "no answer")] += 1
        for meeting in schedule.meetings(circle, _aware(circle.starts_at), end):
            if meeting.cancelled:
                continue
            present = [m for m in members if _aware(m.joined_at) <= meeting.original_start
                       and (m.left_at is None or _aware(m.left_at) > meeting.original_start)]
            said_yes = sum(1 for m in present
                           if rsvps.answer_of(circle.id, m, meeting.original_start) == "yes")
            meetings.append({"circle": circle.name, "at": meeting.start.isoformat(),
                             "members": len(present), "said_yes": said_yes})
    seats = sum(m["members"] for m in meetings)
    return {
        "circles": db.session.scalar(select(func.count(Circle.id))),
        "members": sum(answers.values()),
        "answers": dict(answers),
        "meetings": meetings,
        "attendance_rate": round(sum(m["said_yes"] for m in meetings) / seats, 3) if seats else None,
    }


def _graduation(outcome) -> dict:
    confirmed = db.session.scalar(select(func.count(Person.id)).where(
        Person.is_champion.is_(True), Person.is_coordinator.is_(False), Person.status == "active"))
    graduated = db.session.scalar(select(func.count(Graduation.id)))
    return {
        "champions_confirmed": confirmed,
        "graduated": graduated,
        "rate": round(graduated / confirmed, 3) if confirmed else None,
        "survey_responses": db.session.scalar(select(func.count(SurveyResponse.id))),
        "survey_responses_written": outcome.survey_responses,
    }


def _lateness() -> dict:
    values = send_lateness()
    p50, p99 = quantile(values, 0.5), quantile(values, 0.99)
    return {"sends": len(values), "p50": None if math.isnan(p50) else p50,
            "p99": None if math.isnan(p99) else p99}


def _integrity(outcome, deliveries: dict, received: Counter) -> dict:
    end = outcome.settings.end
    due_not_sent = sum(
        1 for d in db.session.scalars(select(Delivery).where(
            Delivery.status.in_(("pending", "sending"))))
        if _aware(d.next_attempt_at) <= end)
    sent_not_received = sum(1 for d in deliveries.values()
                            if d.status in ("sent", "bounced") and received[d.message_id] == 0)
    doubled = sum(count - 1 for count in received.values() if count > 1)
    inbound_open = db.session.scalar(
        select(func.count()).where(InboundMessage.status == "new"))
    lost = due_not_sent + sent_not_received + inbound_open
    return {"lost": lost, "doubled": doubled, "due_not_sent": due_not_sent,
            "sent_not_received": sent_not_received, "inbound_not_processed": inbound_open,
            "failed_jobs": outcome.failed_jobs}


# -- writing -------------------------------------------------------------------


def write(data: dict, html_path: Path) -> Path:
    """Write the HTML report and its JSON twin beside it; returns the JSON path."""
    html_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = html_path.with_suffix(".json")
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True))
    html_path.write_text(render_html(data))
    return json_path


def _stacked_bars(series: dict[str, list[float]], *, cap: float | None = None,
                  width: int = 640, height: int = 220, label: str = "week") -> str:
    """An SVG bar chart, one bar per index, stacked by series (colours by stream)."""
    length = max((len(v) for v in series.values()), default=0)
    totals = [sum(v[i] for v in series.values()) for i in range(length)]
    top = max([*totals, cap or 0, 1])
    left, bottom, plot_h = 40, 30, height - 50
    bar_w = (width - left - 10) / max(length, 1)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">',
             f'<text x="4" y="14" font-size="11">{top:g}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>']
    for i in range(length):
        y = height - bottom
        for name, values in series.items():
            h = values[i] / top * plot_h
            if h:
                y -= h
                colour = STREAM_COLOURS.get(name, "#2f7de0")
                parts.append(f'<rect x="{left + i * bar_w + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" '
                             f'height="{h:.1f}" fill="{colour}"><title>{html.escape(name)}: {values[i]:g}</title></rect>')
        parts.append(f'<text x="{left + (i + 0.5) * bar_w:.1f}" y="{height - 12}" font-size="10" '
                     f'text-anchor="middle">{i + 1}</text>')
    if cap is not None:
        y = height - bottom - cap / top * plot_h
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#c00" '
                     f'stroke-dasharray="4 3"><title>attention cap: {cap:g}</title></line>')
    parts.append(f'<text x="{width - 10}" y="{height - 1}" font-size="10" text-anchor="end">{label}</text></svg>')
    return "".join(parts)


def _timeline_svg(data: dict, width: int = 640, height: int = 90) -> str:
    events = data["sample_champion"]["events"]
    start = datetime.fromisoformat(data["settings"]["start"])
    span = timedelta(weeks=data["settings"]["weeks"]).total_seconds()
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">',
             f'<line x1="10" y1="30" x2="{width - 10}" y2="30" stroke="#999"/>',
             f'<line x1="10" y1="65" x2="{width - 10}" y2="65" stroke="#999"/>',
             '<text x="10" y="14" font-size="10">emails received</text>',
             '<text x="10" y="85" font-size="10">replies sent</text>']
    for event in events:
        x = 10 + (datetime.fromisoformat(event["at"]) - start).total_seconds() / span * (width - 20)
        if event["what"] == "email":
            colour = STREAM_COLOURS.get(event["stream"], "#444")
            parts.append(f'<circle cx="{x:.1f}" cy="30" r="5" fill="{colour}"><title>'
                         f'{html.escape(event["subject"])}</title></circle>')
        else:
            parts.append(f'<rect x="{x - 4:.1f}" y="61" width="8" height="8" fill="#222"><title>'
                         f'{html.escape(event["kind"])}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


def _circles_html(figures: dict) -> str:
    """Answers to the invitations, then each meeting: members, and who said yes."""
    rate = figures["attendance_rate"]
    summary = _table([("circles", figures["circles"]), ("members", figures["members"]),
                      *[(f"answered {k}", v) for k, v in sorted(figures["answers"].items())],
                      ("attendance (said yes / members)", "n/a" if rate is None else f"{rate:.0%}")])
    meetings = figures["meetings"]
    if not meetings:
        return summary + "<p>No meeting fell inside the run.</p>"
    chart = _stacked_bars({"circles": [m["said_yes"] for m in meetings],
                           "unknown": [m["members"] - m["said_yes"] for m in meetings]},
                          label="meeting (green: said yes, grey: did not)")
    return summary + chart


def render_html(data: dict) -> str:
    emails, integrity, lateness = data["emails"], data["integrity"], data["lateness_seconds"]
    settings = data["settings"]
    ok = integrity["lost"] == 0 and integrity["doubled"] == 0
    legend = " ".join(f'<span style="color:{STREAM_COLOURS.get(s, "#444")}">&#9632; {html.escape(s)}</span>'
                      for s in emails["per_week_by_stream"])
    pairs = data["checkins_per_pair"]
    checkin_chart = _stacked_bars({"buddy": [p["checkins"] for p in pairs]}, label="pair") if pairs else "<p>No pair was introduced.</p>"
    events = "".join(
        f"<li><time>{html.escape(e['at'][:16].replace('T', ' '))}</time> "
        + (f"{html.escape(e['stream'])}: {html.escape(e['subject'])}" if e["what"] == "email"
           else f"<strong>replied</strong> ({html.escape(e['kind'])})") + "</li>"
        for e in data["sample_champion"]["events"])

    def seconds(value):
        return "n/a" if value is None else f"{value:.0f} s"

    def percent(value):
        return "n/a" if value is None else f"{value:.0%}"

    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hearth simulation report</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:720px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse}}th,td{{text-align:left;padding:2px 12px 2px 0}}
.verdict{{padding:.6em 1em;border-radius:6px;background:{'#e3f5e6' if ok else '#fbe3e3'}}}
ol{{font-size:13px}}time{{color:#666}}</style></head><body>
<h1>Hearth simulation</h1>
<p>{settings['champions']} champions and {settings['buddies']} buddies over {settings['weeks']} weeks from
{html.escape(settings['start'][:10])} (seed {settings['seed']}, {settings['steps']} clock steps), through the real
signup, journeys, matching, outbox, SMTP and inbound pipeline.</p>
<p class="verdict"><strong>{'Nothing lost, nothing doubled.' if ok else 'Something was lost or doubled.'}</strong>
lost: {integrity['lost']}, doubled: {integrity['doubled']}</p>
<h2>Emails per week, by stream</h2><p>{legend}</p>
{_stacked_bars(emails['per_week_by_stream'])}
<h2>Fatigue: the most programme emails one person got in a week</h2>
<p>Maximum over the run: <strong>{emails['max_programme_emails_one_person_one_week']}</strong>
(attention cap: {emails['attention_cap_per_week']} in any 7 days; sign-in links not counted).</p>
{_stacked_bars({'onboarding': emails['max_programme_emails_per_week']}, cap=emails['attention_cap_per_week'])}
<h2>One champion's journey (times in UTC)</h2>
<p>{html.escape(str(data['sample_champion']['email']))}{' (with a buddy)' if data['sample_champion'].get('has_buddy') else ''}</p>
{_timeline_svg(data)}<ol>{events}</ol>
<h2>Matches and check-ins</h2>
{_table([('introduced pairs', data['matches']['introduced']), ('objected to', data['matches']['objected']),
         *[(f'pairs {k}', v) for k, v in sorted(data['matches']['by_status'].items())]])}
{checkin_chart}
<h2>Circles</h2>
{_circles_html(data['circles'])}
<h2>Graduation</h2>
{_table([('champions confirmed', data['graduation']['champions_confirmed']),
         ('graduated', data['graduation']['graduated']),
         ('graduation rate', percent(data['graduation']['rate'])),
         ('surveys answered (champions and buddies)', data['graduation']['survey_responses'])])}
<h2>Sending</h2>
{_table([('sends measured', lateness['sends']), ('lateness p50', seconds(lateness['p50'])),
         ('lateness p99', seconds(lateness['p99'])),
         *[(f'deliveries {k}', v) for k, v in sorted(data['deliveries_by_status'].items())]])}
<h2>Replies</h2>
{_table([*[(f'written: {k}', v) for k, v in sorted(data['replies_by_kind'].items())],
         *[(f'inbound {k}', v) for k, v in sorted(data['inbound_by_status'].items())]])}
<h2>Integrity</h2>
{_table(sorted(integrity.items()))}
</body></html>
"""
