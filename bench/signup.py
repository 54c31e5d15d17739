"""signup: `POST /signup` against `GET /ping`, same server, same run.

gunicorn with 2 workers serves the app; 8 client threads (http.client, one
connection each, kept alive where the server allows: gunicorn's sync workers
close after each answer, so each request opens a new connection, for both
routes alike) run for a fixed time after a warm-up: 10 s a route, as two
alternating rounds of 5 s (3 s and one round with --quick). A signup client first
GETs /signup for its session cookie and CSRF token, then posts the form with a
new address each time; every POST validates, writes a person, an
organisation, a sign-in token and a Delivery, commits and enqueues the send.
No worker runs: the sends wait in Redis.

A third route is measured in the same rounds, reported without a target: the
same signup written as bare as the stack allows (bench/bare_signup.py, its
own gunicorn on the same database and Redis). It shows how much of the gap
to the target is the stack's and how much Hearth's.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from bench.harness import BIN, Environment, children_cpu_seconds, free_port, wait_until
from bench.report import Row, ScenarioResult, Target, percentile

CLIENTS = 8
RATE_TARGET = Target("ratio", ">=", 0.3)
P99_TARGET = Target("hearth", "<", 50, " ms")
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)  # seconds, measured window only
    requests: int = 0  # all answered, warm-up included
    failures: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1


def run(quick: bool) -> ScenarioResult:
    warmup, duration = (0.5, 3.0) if quick else (2.0, 10.0)
    # Alternate the routes, so that other work on the machine weighs on all.
    rounds = 1 if quick else 2
    result = ScenarioResult("signup")
    with Environment("signup", smtp=True) as env:
        booting = time.perf_counter()
        port, server = _serve(env, "gunicorn", "app:create_app()")
        result.details["server_start_s"] = round(time.perf_counter() - booting, 2)
        bare_port, bare_server = _serve(env, "gunicorn-bare", "bench.bare_signup:create()")
        runs: dict[str, list[Run]] = {"ping": [], "signup": [], "bare": []}
        for round_ in range(rounds):
            for name, route, at, pid in (("ping", "ping", port, server.pid),
                                         ("signup", "signup", port, server.pid),
                                         ("bare", "signup", bare_port, bare_server.pid)):
                runs[name].append(
                    _load(at, route, warmup if round_ == 0 else 0.0, duration / rounds, pid)
                )
        ping, signup, bare = (_summary(runs[name]) for name in ("ping", "signup", "bare"))
    for name, measured in (("ping", ping), ("signup", signup), ("bare_signup", bare)):
        result.details[name] = {
            "requests": measured["count"],
            "requests_per_s": round(measured["rate"], 1),
            "requests_per_s_by_round": measured["rates_per_round"],
            "p50_ms": round(measured["p50"], 2),
            "p99_ms": round(measured["p99"], 2),
            "max_ms": round(measured["max"], 2),
            "failures": measured["failures"],
            # CPU per request, to see where the time goes: the gunicorn workers,
            # and this process (the load generator), warm-up included.
            "server_cpu_ms_per_request": measured["server_cpu_ms"],
            "client_cpu_ms_per_request": measured["client_cpu_ms"],
        }
    result.details.update({"clients": CLIENTS, "gunicorn_workers": 2, "warmup_s": warmup,
                           "duration_s": duration, "rounds": rounds})
    result.rows += [
        Row("signup", f"requests/s ({CLIENTS} clients) vs /ping", signup["rate"], ping["rate"],
            RATE_TARGET),
        # The floor of the stack (bench/bare_signup.py), reported: what the
        # 0.3 target asks of the stack itself, and what Hearth's structure costs.
        Row("signup", "  bare signup of the same stack, requests/s vs /ping", bare["rate"],
            ping["rate"]),
        Row("signup", "  Hearth's signup vs the bare signup, requests/s", signup["rate"],
            bare["rate"]),
        Row("signup", "p50 latency ms vs /ping", signup["p50"], ping["p50"]),
        Row("signup", "p99 latency ms vs /ping", signup["p99"], ping["p99"], P99_TARGET),
        Row("signup", "failed requests (signup, ping)", float(sum(signup["failures"].values())),
            float(sum(ping["failures"].values())), Target("hearth", "<", 1)),
        Row("signup", "failed requests (bare signup)", float(sum(bare["failures"].values())),
            target=Target("hearth", "<", 1)),
    ]
    return result


def _serve(env: Environment, name: str, wsgi: str) -> tuple[int, subprocess.Popen]:
    """gunicorn with 2 workers serving `wsgi`, answering /ping."""
    port = free_port()
    server = env.start(name, [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", wsgi])
    if not wait_until(lambda: _ping(port) or server.poll() is not None, timeout=30):
        raise RuntimeError(f"{name} did not answer /ping in 30 s:\n" + env.log_tail(name))
    if server.poll() is not None:
        raise RuntimeError(f"{name} stopped:\n" + env.log_tail(name))
    return port, server


def _ping(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/ping")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@dataclass
class Run:
    seconds: float
    latencies: list[float]
    failures: dict[str, int]
    requests: int = 0  # warm-up included, for the CPU per request
    server_cpu: float = 0.0
    client_cpu: float = 0.0


def _load(port: int, route: str, warmup: float, duration: float, server_pid: int) -> Run:
    """CLIENTS threads on `route` for `warmup` + `duration` seconds; only
    requests both started and finished after the warm-up count."""
    server_cpu, client_cpu = children_cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + duration
    results = [ClientResult() for _ in range(CLIENTS)]
    threads = [
        threading.Thread(target=_client, args=(port, route, n, measure_from, stop_at, results[n]),
                         name=f"bench-{route}-{n}", daemon=True)
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=warmup + duration + 30)
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"{route} clients did not finish")
    server_cpu = children_cpu_seconds(server_pid) - server_cpu
    client_cpu = time.process_time() - client_cpu
    failures: dict[str, int] = {}
    for r in results:
        for reason, count in r.failures.items():
            failures[reason] = failures.get(reason, 0) + count
    return Run(duration, [x for r in results for x in r.latencies], failures,
               sum(r.requests for r in results), server_cpu, client_cpu)


def _summary(runs: list[Run]) -> dict:
    latencies = [x for run in runs for x in run.latencies]
    failures: dict[str, int] = {}
    for run in runs:
        for reason, count in run.failures.items():
            failures[reason] = failures.get(reason, 0) + count
    requests = sum(run.requests for run in runs) or 1
    return {
        "server_cpu_ms": round(sum(run.server_cpu for run in runs) / requests * 1000, 3),
        "client_cpu_ms": round(sum(run.client_cpu for run in runs) / requests * 1000, 3),
        "count": len(latencies),
        "rate": len(latencies) / sum(run.seconds for run in runs),
        "rates_per_round": [round(len(run.latencies) / run.seconds, 1) for run in runs],
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "max": max(latencies, default=float("nan")) * 1000,
        "failures": failures,
    }


class _Client:
    """One browser: one connection (reopened when the server closes it) and
    the session cookie."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (http.client.HTTPException, OSError):
            self.conn.close()  # the next request opens a new connection
            raise
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        if response.will_close:
            self.conn.close()
        return response.status, text


def _client(port: int, route: str, number: int, measure_from: float, stop_at: float,
            result: ClientResult) -> None:
    client = _Client(port)
    token = ""
    if route == "signup":
        status, page = client.request("GET", "/signup")
        match = _CSRF.search(page)
        if status != 200 or match is None:
            result.fail(f"GET /signup answered {status} without a CSRF token")
            return
        token = match.group(1)
    sequence = 0
    while True:
        began = time.perf_counter()
        if began >= stop_at:
            break
        sequence += 1
        try:
            if route == "signup":
                status, _ = client.request("POST", "/signup", _form(token, number, sequence))
            else:
                status, _ = client.request("GET", "/ping")
        except (http.client.HTTPException, OSError) as error:
            status = type(error).__name__
        finished = time.perf_counter()
        result.requests += 1
        if began < measure_from or finished > stop_at:
            continue
        if status == 200:
            result.latencies.append(finished - began)
        else:
            result.fail(str(status))


def _form(token: str, client: int, sequence: int) -> str:
    return urlencode({
        "name": f"Bench Champion {client}-{sequence}",
        "email": f"bench-{client}-{sequence}-{uuid.uuid4().hex[:8]}@example.org",
        "timezone": "Europe/Berlin",
        "organisation": "Bench Cooperative",
        "organisation_kind": "cooperative",
        "organisation_size": "10-49",
        "could_pay_consultant": "no",
        "language": "en",
        "situation": "We hold our first consent round next week.",
        "consent": "y",
        "csrf_token": token,
    })
