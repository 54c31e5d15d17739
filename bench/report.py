"""Rows of measurements against a baseline of the same run: the table on the
terminal and the JSON file under bench/results/."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """`ratio >= 0.3`, `ratio <= 1.5` or `hearth < 50` (in the row's unit)."""

    on: str  # "ratio" | "hearth"
    op: str  # ">=" | "<=" | "<"
    limit: float
    unit: str = ""

    def holds(self, hearth: float | None, ratio: float | None) -> bool:
        value = ratio if self.on == "ratio" else hearth
        if value is None or math.isnan(value):
            return False
        return {">=": value >= self.limit, "<=": value <= self.limit, "<": value < self.limit}[self.op]

    def __str__(self) -> str:
        return f"{self.op}{self.limit:g}{self.unit}"


@dataclass
class Row:
    scenario: str
    measure: str
    hearth: float | None
    baseline: float | None = None
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.hearth is None or not self.baseline:
            return None
        return self.hearth / self.baseline

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        return self.target.holds(self.hearth, self.ratio)

    def as_json(self) -> dict:
        return {
            "scenario": self.scenario,
            "measure": self.measure,
            "hearth": self.hearth,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": str(self.target) if self.target else None,
            "target_on": self.target.on if self.target else None,
            "ok": self.ok,
            "note": self.note,
        }


@dataclass
class ScenarioResult:
    name: str
    rows: list[Row] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and all(row.ok is not False for row in self.rows)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    size = abs(value)
    if size >= 100:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


COLUMNS = ("scenario", "measure", "hearth", "baseline", "ratio", "target", "ok")


def table(results: list[ScenarioResult]) -> str:
    lines = []
    for result in results:
        if result.error:
            lines.append((result.name, "ERROR: " + result.error.splitlines()[-1][:80],
                          "-", "-", "-", "-", "NO"))
        for row in result.rows:
            ok = {None: "", True: "yes", False: "NO"}[row.ok]
            lines.append((row.scenario, row.measure, _number(row.hearth), _number(row.baseline),
                          _number(row.ratio), str(row.target or ""), ok))
    widths = [max(len(COLUMNS[i]), *(len(line[i]) for line in lines)) if lines else len(COLUMNS[i])
              for i in range(len(COLUMNS))]
    numeric = {2, 3, 4}

    def render(cells) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    return "\n".join([render(COLUMNS), *(render(line) for line in lines)])


def write_json(path: Path, results: list[ScenarioResult], *, quick: bool, database: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "ok": all(result.ok for result in results),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "database": database,
        },
        "scenarios": {
            result.name: {
                "ok": result.ok,
                "seconds": round(result.seconds, 2),
                "error": result.error,
                "rows": [row.as_json() for row in result.rows],
                "details": result.details,
            }
            for result in results
        },
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
