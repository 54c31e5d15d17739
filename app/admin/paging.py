"""Keyset paging: a page is "the next 50 rows after this id", never an
OFFSET, so page 2,000 of 100,000 people costs what page 1 costs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select

from app.extensions import db

PAGE_SIZE = 50


@dataclass
class Page:
    rows: list
    older: int | None  # pass as ?after= for the next page (smaller ids)
    newer: int | None  # pass as ?before= for the previous page (larger ids)


def cursor(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def keyset(query: Select, key, *, after: int | None = None, before: int | None = None,
           size: int = PAGE_SIZE, id_of: Callable[[Any], int] | None = None,
           scalars: bool = True) -> Page:
    """Rows of `query` newest first (by the integer column `key`), one page."""
    id_of = id_of or (lambda row: row.id)
    run = db.session.scalars if scalars else db.session.execute
    if before is not None:
        rows = list(run(query.where(key > before).order_by(key.asc()).limit(size + 1)))
        more_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        return Page(rows, older=id_of(rows[-1]) if rows else None,
                    newer=id_of(rows[0]) if rows and more_newer else None)
    if after is not None:
        query = query.where(key < after)
    rows = list(run(query.order_by(key.desc()).limit(size + 1)))
    more_older = len(rows) > size
    rows = rows[:size]
    return Page(rows, older=id_of(rows[-1]) if rows and more_older else None,
                newer=id_of(rows[0]) if rows and after is not None else None)


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's own wildcards escaped (use with escape="\\\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
