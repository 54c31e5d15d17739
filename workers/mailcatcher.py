"""`python -m workers.mailcatcher`: the development mail catcher.

A real SMTP server (aiosmtpd) on 127.0.0.1:1025 that stores every message as
an .eml file under instance/mail/, where `/dev/mail` shows them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller

from app.config import load

log = logging.getLogger("workers.mailcatcher")


class StoreHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        log.info("caught mail for %s -> %s", ", ".join(envelope.rcpt_tos), name)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> None:
    config = load()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=config["MAIL_PORT"])
    parser.add_argument("--folder", default=config["DEV_MAIL_DIR"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    controller = Controller(StoreHandler(Path(args.folder)), hostname=args.host, port=args.port)
    controller.start()
    log.info("dev mail catcher on %s:%s, storing in %s", args.host, args.port, args.folder)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
