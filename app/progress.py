"""Progress for long commands (`flask simulate`, `flask export ...`, `flask
inbound reprocess --status ...`, `make bench`): a bar with the rate and the
time left, on stderr when stderr is a terminal; nothing at all when it is not
(a pipe, cron, CI, a log file), so what a command prints on stdout (a CSV)
stays clean either way."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO


class Bar:
    """What a command tells its bar; a bar that is not shown ignores it all."""

    def __init__(self, progress=None, task=None) -> None:
        self._progress, self._task = progress, task

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=amount)

    def update(self, completed: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=completed)

    def total(self, total: float | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)


def shown(stream: IO[str] | None = None) -> bool:
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced by something without a TTY
        return False


@contextmanager
def bar(label: str, total: float | None = None, *, stream: IO[str] | None = None,
        show: bool | None = None) -> Iterator[Bar]:
    """`with progress.bar("export people", total=rows) as bar: ... bar.advance(n)`.
    Without a total the bar counts and shows the rate, without a time left."""
    stream = stream or sys.stderr
    if not (shown(stream) if show is None else show):
        yield Bar()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn() if total is None or total > 1 else
               TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
    with Progress(*columns, console=Console(file=stream), transient=True) as progress:
        yield Bar(progress, progress.add_task(label, total=total))
