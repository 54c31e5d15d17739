"""Hearth's processes for a chaos run, each in its own process group, with a
supervisor that starts again any that dies (as systemd or a platform would),
and counts it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import ROOT, stop_processes


@dataclass
class Managed:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    restarts: int = 0
    killed: int = 0  # by the chaos run itself


@dataclass
class Processes:
    env: dict[str, str]
    logs: Path
    managed: dict[str, Managed] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, argv: list[str]) -> None:
        self.managed[name] = Managed(name, argv)
        self._spawn(self.managed[name])

    def _spawn(self, entry: Managed) -> None:
        with open(self.logs / f"{entry.name}.log", "ab") as output:
            entry.process = subprocess.Popen(entry.argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                             stdout=output, stderr=subprocess.STDOUT,
                                             start_new_session=True)

    def supervise(self) -> threading.Thread:
        def loop() -> None:
            while not self._stop.wait(0.5):
                with self._lock:
                    for entry in self.managed.values():
                        if entry.process is not None and entry.process.poll() is not None:
                            entry.restarts += 1
                            self._spawn(entry)

        thread = threading.Thread(target=loop, name="supervisor", daemon=True)
        thread.start()
        return thread

    def sigkill(self, name: str) -> int:
        """SIGKILL the whole process group of `name`; the supervisor starts it again."""
        with self._lock:
            entry = self.managed[name]
            pid = entry.process.pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            entry.process.wait(10)
            entry.killed += 1
            return pid

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            stop_processes([(e.name, e.process) for e in self.managed.values() if e.process])

    def alive(self, name: str) -> bool:
        entry = self.managed[name]
        return entry.process is not None and entry.process.poll() is None


def wait_for_port(port: int, timeout: float = 30) -> bool:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
        time.sleep(0.1)
    return False
