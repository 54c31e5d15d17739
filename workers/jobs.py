"""RQ entry points: ids in, one service call. The worker owns the app context."""

from __future__ import annotations

from app.inbound import service as inbound
from app.outbox import service as outbox


def send_deliveries(delivery_ids: list[int]) -> dict[str, int]:
    return outbox.send_batch(delivery_ids)


def process_inbound(message_id: int) -> str:
    message = inbound.process(message_id)
    return f"{message.status}: {message.reason}"
