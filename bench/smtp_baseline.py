"""`python -m bench.smtp_baseline --port P --count N --size BYTES`: the raw
SMTP baseline. Builds N messages of about BYTES each before the clock starts,
then sends them with smtplib over one reused connection to 127.0.0.1:P and
prints {"seconds": ..., "sent": ...} as JSON. A process of its own, like
Hearth's workers, so that it does not share the sink's interpreter."""

from __future__ import annotations

import argparse
import json
import smtplib
import time
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

SENDER = "hello@hearth.example.org"


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
