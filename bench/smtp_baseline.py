"""`python -m bench.smtp_baseline --port P --count N --size BYTES`: the raw
SMTP baseline. Builds N messages of about BYTES each before the clock starts,
then sends them with smtplib over one reused connection to 127.0.0.1:P and
prints {"seconds": ..., "sent": ...} as JSON. A process of its own, like
Hearth's workers, so that it does not share the sink's interpreter."""

from __future__ import annotations

import argparse
import json
import smtplib
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

SENDER = "hello@hearth.example.org"


def measure(port: int, count: int, size: int) -> dict:
    """Run the baseline in a process of its own; its JSON answer."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.smtp_baseline", "--port", str(port), "--count", str(count),
         "--size", str(size)],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
        timeout=max(60.0, count / 50), check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the raw SMTP baseline failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def build(count: int, size: int) -> list[tuple[str, bytes]]:
    messages = []
    for index in range(count):
        to = f"baseline-{index}@example.org"
        message = EmailMessage(policy=policy.SMTP)  # CRLF: smtplib sends bytes as they are
        message["From"] = f"Hearth <{SENDER}>"
        message["To"] = to
        message["Subject"] = f"Baseline message {index}"
        message["Message-ID"] = make_msgid(domain="hearth.example.org")
        message.set_content("x")
        line = "The quick brown fox jumps over the lazy dog, again and again. 0123\n"  # 7bit
        # Each "\n" goes out as CRLF: one byte more a line.
        padding = max((size - len(message.as_bytes())) * len(line) // (len(line) + 1), 1)
        body = (line * (padding // len(line) + 1))[:padding]
        message.set_content(body)
        messages.append((to, message.as_bytes()))
    return messages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    args = parser.parse_args(argv)
    messages = build(args.count, args.size)
    started = time.perf_counter()
    sent = 0
    with smtplib.SMTP("127.0.0.1", args.port, timeout=30) as smtp:
        for to, data in messages:
            smtp.sendmail(SENDER, [to], data)
            sent += 1
    seconds = time.perf_counter() - started
    sizes = [len(data) for _to, data in messages]
    print(json.dumps({"seconds": seconds, "sent": sent, "mean_bytes": sum(sizes) / len(sizes)}))


if __name__ == "__main__":
    main()
