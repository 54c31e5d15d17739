"""Real parts for one scenario, in a temporary folder, all stopped at the end.

`Environment` gives a database migrated from empty (a SQLite file in WAL mode,
or the PostgreSQL of `DATABASE_URL` after dropping its `public` schema), a
Redis (embedded, or `REDIS_URL`, which is flushed), an SMTP sink on
127.0.0.1, the environment variables that configure Hearth's own processes,
an app object for this process, and process management: every process it
starts runs in its own process group and is killed on the way out, error or
not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
SECRET_KEY = "bench-secret-key-not-for-production"
SENDER = "Hearth <hello@hearth.example.org>"

log = logging.getLogger("bench")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc/<pid>/stat (Linux);
    0 when it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the ")" of the command name: utime and stime are fields 14 and 15 of stat(5).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of the children of `pid` (gunicorn's workers); nan when it has gone."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return float("nan")
    return sum(cpu_seconds(int(child)) for child in children)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """An aiosmtpd handler that accepts everything and remembers only when
    each message arrived, for whom, and how big it was (no parsing: the sink
    must not be the bottleneck)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.arrivals: list[tuple[float, str, int]] = []  # (time.time(), first recipient, bytes)

    async def handle_DATA(self, server, session, envelope):
        arrived = time.time()
        rcpt = envelope.rcpt_tos[0].lower() if envelope.rcpt_tos else ""
        with self._lock:
            self.arrivals.append((arrived, rcpt, len(envelope.content)))
            self._arrived.notify_all()
        return "250 OK"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def reset(self) -> None:
        with self._lock:
            self.arrivals.clear()

    def snapshot(self) -> list[tuple[float, str, int]]:
        with self._lock:
            return list(self.arrivals)

    def wait_for(self, count: int, timeout: float, *, alive=None) -> bool:
        """Wait until `count` messages arrived; False on timeout, or a second
        after `alive()` first says the senders are gone."""
        deadline = time.monotonic() + timeout
        gone_since = None
        while True:
            with self._lock:
                if len(self.arrivals) >= count:
                    return True
                self._arrived.wait(0.25)
                if len(self.arrivals) >= count:
                    return True
            now = time.monotonic()
            if now >= deadline:
                return False
            if alive is not None and not alive():
                gone_since = gone_since or now
                if now - gone_since > 1.0:  # the last messages may still be in flight
                    return self.count >= count


class Environment:
    """`with Environment("delivery") as env:` -- see the module docstring."""

    def __init__(self, name: str, *, redis: bool = True, smtp: bool = True,
                 database_url: str | None = None) -> None:
        self.name = name
        self._want_redis = redis
        self._want_smtp = smtp
        self._stack = contextlib.ExitStack()
        self._processes: list[tuple[str, subprocess.Popen]] = []
        self.folder = Path(tempfile.mkdtemp(prefix=f"hearth-bench-{name}-"))
        self.instance = self.folder / "instance"
        self.instance.mkdir()
        self.redis_url: str | None = None
        self.database_url = database_url or ""
        self.sink: Sink | None = None
        self.smtp_port = 0
        self.env: dict[str, str] = {}
        self.app = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> Environment:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind, error, trace) -> None:
        if error is not None:
            self._keep_logs()
        self.close()

    def _start(self) -> None:
        self._stack.callback(shutil.rmtree, self.folder, ignore_errors=True)
        if self._want_redis:
            self.redis_url = os.environ.get("REDIS_URL") or self._embedded_redis()
        if self._want_smtp:
            self.sink = Sink()
            self.smtp_port = free_port()
            controller = Controller(self.sink, hostname="127.0.0.1", port=self.smtp_port)
            controller.start()
            self._stack.callback(controller.stop)
        self.database_url = self.database_url or _database_url(self.folder)
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": SECRET_KEY,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(self.smtp_port or 1),
            "MAIL_DEFAULT_SENDER": SENDER,
            "BASE_URL": "http://hearth.example.org",
            "INBOUND_DOMAIN": "in.hearth.example.org",
            "HEARTH_INSTANCE": str(self.instance),
            "RATELIMIT_ENABLED": "0",
            "ALLOW_TIME_TRAVEL": "1",
            "DEV_MAIL_VIEWER": "0",
            "PYTHONUNBUFFERED": "1",
        }
        if self.redis_url:
            self.env["REDIS_URL"] = self.redis_url
        else:
            self.env.pop("REDIS_URL", None)
        self.app = self._create_app()
        self._stack.callback(self._dispose_app)
        self._migrate()

    def close(self) -> None:
        stop_processes(self._processes)
        self._processes.clear()
        self._stack.close()

    def _embedded_redis(self) -> str:
        from app.embedded_redis import EmbeddedRedis

        server = EmbeddedRedis(self.folder / "redis")
        self._stack.callback(server.close)
        return server.url

    def _create_app(self):
        from app import create_app

        overrides = {
            "INSTANCE_PATH": str(self.instance),
            "SECRET_KEY": SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "REDIS_URL": self.redis_url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.smtp_port or 1,
            "MAIL_DEFAULT_SENDER": SENDER,
            "BASE_URL": "http://hearth.example.org",
            "INBOUND_DOMAIN": "in.hearth.example.org",
            "RATELIMIT_ENABLED": False,
            "ALLOW_TIME_TRAVEL": True,
            "DEV_MAIL_VIEWER": False,
        }
        return create_app(overrides)  # INSTANCE_PATH: nothing goes into the project's instance/

    def _migrate(self) -> None:
        from flask_migrate import upgrade
        from sqlalchemy import text

        from app.extensions import db

        with self.app.app_context():
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            logging.disable(logging.INFO)  # alembic's fileConfig() logs each revision
            try:
                upgrade()
            finally:
                logging.disable(logging.NOTSET)
            if self.redis_url:
                from app import queues

                queues.connection().flushdb()
        quiet_logging()  # alembic's fileConfig() turned the root logger back on

    def _dispose_app(self) -> None:
        from app.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()

    # -- processes ---------------------------------------------------------

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        """Start a process of Hearth's (cwd: the project), output to a log file."""
        log_path = self.folder / f"{name}.log"
        with open(log_path, "ab") as output:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: gunicorn's workers die with it
            )
        self._processes.append((name, process))
        return process

    def python(self, name: str, *args: str) -> subprocess.Popen:
        return self.start(name, [sys.executable, *args])

    def stop(self, process: subprocess.Popen) -> None:
        for entry in list(self._processes):
            if entry[1] is process:
                stop_process(process, entry[0])
                self._processes.remove(entry)

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.folder / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _keep_logs(self) -> None:
        """A failed scenario keeps its process logs under bench/results/logs/."""
        target = RESULTS / "logs" / self.name
        with contextlib.suppress(OSError):
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True, exist_ok=True)
            for path in self.folder.glob("*.log"):
                shutil.copy(path, target / path.name)


def stop_process(process: subprocess.Popen, name: str = "", grace: float = 5.0) -> None:
    stop_processes([(name, process)], grace)


def stop_processes(processes: list[tuple[str, subprocess.Popen]], grace: float = 5.0) -> None:
    """SIGTERM to each process group at once, SIGKILL to what is left after
    `grace` seconds (each was started in a group of its own)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        running = [(name, p) for name, p in processes if p.poll() is None]
        for _name, process in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
        deadline = time.monotonic() + wait
        for name, process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %s) did not stop after %s", name, process.pid, sig.name)
    # Children (gunicorn's workers) may outlive a leader that exited first.
    for _name, process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def _database_url(folder: Path) -> str:
    if database_kind() == "postgresql":
        return os.environ["DATABASE_URL"]
    return f"sqlite:///{folder / 'hearth.sqlite3'}"


def fresh_postgres(url: str) -> None:
    """The PostgreSQL database of `url`, created when missing, with an empty
    public schema (everything in it is deleted)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                {"name": parsed.database})
            if not found:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        server.dispose()
    engine = create_engine(parsed)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def database_kind() -> str:
    """PostgreSQL when DATABASE_URL names one (its schema is dropped!), else SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    return "postgresql" if url.startswith(("postgresql", "postgres://")) else "sqlite"


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def quiet_logging() -> None:
    """The benchmark prints a table; the app's INFO lines go nowhere."""
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("alembic", "flask_migrate"):
        logging.getLogger(name).setLevel(logging.WARNING)


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
