"""One tick of the programme: everything that is due at `now` happens.

Run every 30 s by the clock process (under a Redis lock) and by `flask tick`.
The database says what is due, so a tick after lost Redis keys repairs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.outbox import service as outbox


@dataclass
class TickReport:
    enqueued: int = 0

    def __str__(self) -> str:
        return f"enqueued {self.enqueued} deliveries"


def tick() -> TickReport:
    report = TickReport()
    report.enqueued = outbox.enqueue_pending()
    return report
