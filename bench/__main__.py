"""`python -m bench [SCENARIO ...] [--quick]`: Hearth against a baseline
measured in the same run; a table, bench/results/latest.json, and a non-zero
exit status when a target is missed."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from bench.harness import RESULTS, quiet_logging

SCENARIOS = ("signup", "delivery", "tick-scale", "lateness", "inbound", "scale")


def _scenario(name: str):
    if name == "signup":
        from bench import signup as module
    elif name == "delivery":
        from bench import delivery as module
    elif name == "tick-scale":
        from bench import tick_scale as module
    elif name == "inbound":
        from bench import inbound as module
    elif name == "scale":
        from bench import scale as module
    else:
        from bench import lateness as module
    return module.run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    names = list(dict.fromkeys(args.scenarios)) or list(SCENARIOS)

    # The app's own INFO lines would drown the table; basicConfig here makes
    # create_app()'s basicConfig a no-op.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_logging()
    # SIGTERM unwinds like Ctrl-C, so every scenario stops its processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from app import progress
    from bench.harness import database_kind
    from bench.report import ScenarioResult, table, write_json

    results: list[ScenarioResult] = []
    with progress.bar("bench", total=len(names)) as shown:  # in a terminal only
        for name in names:
            results.append(_run(name, args.quick))
            shown.advance()

    print(table(results))
    write_json(args.output, results, quick=args.quick, database=database_kind())
    print(f"\nwritten to {args.output}")
    missed = [r.name for r in results if not r.ok]
    if missed:
        print(f"targets missed or errors in: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def _run(name: str, quick: bool):
    """One scenario; a broken one gives a result with its error, never hides the others."""
    from bench.report import ScenarioResult

    print(f"bench: {name}{' (quick)' if quick else ''} ...", file=sys.stderr, flush=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        result = _scenario(name)(quick)
    except Exception as error:  # noqa: BLE001
        result = ScenarioResult(name, error=f"{type(error).__name__}: {error}")
        traceback.print_exc()
    result.seconds = time.perf_counter() - started
    # Other work on the machine moves both sides of a ratio, but not always equally.
    result.details["load_average_1m"] = {"before": load_before, "after": os.getloadavg()[0]}
    print(f"bench: {name} done in {result.seconds:.1f} s", file=sys.stderr, flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main())
