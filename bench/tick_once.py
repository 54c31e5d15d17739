"""`python -m bench.tick_once`: one `tick()` in a process of its own, as the
clock process runs it in production. Loads the app (configured by the
environment), prints "ready", waits for a line on stdin, ticks, and prints
{"seconds": ..., "report": "..."} as JSON. So the benchmark's SMTP sink never
shares an interpreter (and its GIL) with Hearth's work."""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    from app import create_app
    from app.tick import tick

    app = create_app()
    with app.app_context():
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.perf_counter()
        report = tick()
        print(json.dumps({"seconds": time.perf_counter() - started, "report": str(report)}), flush=True)


if __name__ == "__main__":
    main()
