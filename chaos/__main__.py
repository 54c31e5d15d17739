"""`python -m chaos [--quick]` (`make chaos`): see chaos/run.py. Prints the
faults injected and what survived; exits 1 on anything lost or doubled."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from chaos.run import QUICK, SLOW, Settings, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a 36 s run with fewer people")
    size.add_argument("--slow", action="store_true", help="a 120 s run with more people (CI)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    outcome = run(QUICK if args.quick else SLOW if args.slow else Settings())
    print("\nFaults injected")
    print(f"{'at s':>7}  fault")
    for fault in outcome.faults:
        print(f"{fault.at:7.1f}  {fault.what} {fault.detail}".rstrip())
    print(f"(the sink refused {outcome.refused} recipients with 421/451)")
    restarted = {name: n for name, n in outcome.restarts.items() if n}
    print(f"\nprocesses started again by the supervisor: {restarted or 'none'}")
    ledger = outcome.ledger
    print(f"people: {len(ledger.signed_up)} signed up, {len(ledger.confirmed)} confirmed, "
          f"{len(ledger.replies)} replies sent; retried {ledger.http_retries} web requests "
          f"and {ledger.smtp_retries} SMTP sends while things were down")
    print(f"settled {outcome.settled_in} s after the people finished" if outcome.settled_in is not None
          else "did NOT settle: something stayed due")
    print("\nWhat survived")
    width = max(len(what) for what, *_ in outcome.checks)
    print(f"{'check':<{width}}  {'found':>6}  {'expected':>8}  ok")
    for what, found, expected, ok in outcome.checks:
        print(f"{what:<{width}}  {found:>6}  {expected:>8}  {'yes' if ok else 'NO'}")
    for line in outcome.explained:
        print(f"  explained: {line}")
    for line in outcome.unsent:
        print(f"  not sent: {line}")
    if outcome.settled_in is None or not outcome.ok:
        print("\nchaos: something was lost or doubled", file=sys.stderr)
        return 1
    print("\nchaos: nothing lost, nothing doubled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
