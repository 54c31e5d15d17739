"""The dashboard's story verbs: people written straight into the database (no
emails to set up), a signed-in coordinator, and charts read from the page the
way a person reads them: which bar, what number, how long."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from app import clock
from app.accounts import service as accounts
from app.accounts.models import Enrollment, Person
from app.extensions import db

SVG = re.compile(r"<svg\b.*?</svg>", re.S)
NS = "{http://www.w3.org/2000/svg}"


def person(app, email: str, name: str = "", *, cohort: str | None = None, status: str = "active",
           champion: bool = True, coordinator: bool = False, created: datetime | None = None,
           timezone: str = "Europe/Berlin") -> int:
    """A person written directly (no signup emails in the mailbox), in `cohort` if given."""
    with app.app_context():
        now = created or clock.now()
        found = Person(email=email, name=name or email.split("@")[0].title(), timezone=timezone,
                       status=status, is_champion=champion, is_coordinator=coordinator, created_at=now,
                       confirmed_at=now if status == "active" else None)
        db.session.add(found)
        db.session.flush()
        if cohort:
            moment = datetime.fromisoformat(f"{cohort}-01T00:00:00+00:00")
            db.session.add(Enrollment(person_id=found.id, cohort_id=accounts.cohort_for(moment).id,
                                      enrolled_at=now))
        db.session.commit()
        return found.id


def coordinator(app, client, email: str = "cora@hearth.test") -> int:
    """A coordinator, signed in on `client`."""
    person_id = person(app, email, "Cora Coordinator", coordinator=True, champion=False)
    with client.session_transaction() as session:
        session["person_id"] = person_id
    return person_id


def charts(html: str) -> list[ET.Element]:
    return [ET.fromstring(found) for found in SVG.findall(html)]


def bars(chart: ET.Element) -> list[dict]:
    """Every bar of a chart: its label, series, value and drawn size."""
    found = []
    for rect in chart.iter(f"{NS}rect"):
        if rect.get("class") != "bar":
            continue
        found.append({
            "label": rect.get("data-label"), "series": rect.get("data-series"),
            "value": float(rect.get("data-value").replace(",", "")),
            "width": float(rect.get("width")), "height": float(rect.get("height")),
            "title": rect.find(f"{NS}title").text,
        })
    return found


def chart_titled(html: str, title: str) -> ET.Element:
    for chart in charts(html):
        if chart.get("aria-label") == title:
            return chart
    raise AssertionError(f"no chart {title!r} in {[c.get('aria-label') for c in charts(html)]}")


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)
