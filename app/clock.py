"""The one place that says what time it is (DESIGN.md invariant 3).

Everything is UTC and timezone-aware. Tests and the simulator move the clock
with `set()` / `advance()`; nothing else in Hearth calls `datetime.now()`.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_frozen: datetime | None = None


def now() -> datetime:
    """The current time, aware, in UTC."""
    frozen = _frozen
    if frozen is not None:
        return frozen
    return datetime.now(UTC)


def set(moment: datetime | None) -> None:  # noqa: A001 - reads well as clock.set()
    """Freeze the clock at `moment` (aware); None returns to real time."""
    global _frozen
    if moment is not None and moment.tzinfo is None:
        raise ValueError("clock.set() needs an aware datetime")
    with _lock:
        _frozen = moment.astimezone(UTC) if moment is not None else None


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (freezing it at now() first if it runs)."""
    global _frozen
    with _lock:
        _frozen = (_frozen or datetime.now(UTC)) + delta
        return _frozen


def is_frozen() -> bool:
    return _frozen is not None
