"""`make run`: the whole of Hearth on one machine with nothing installed.

Starts an embedded Redis when REDIS_URL is unset, then web, worker, clock and
the dev mail catcher together (honcho, Procfile.dev), and prints where to go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app.config import load


def main() -> int:
    config = load()
    instance = Path(config["INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DEV_MAIL_VIEWER", "1")
    env.setdefault("FLASK_APP", "app")
    env["PYTHONUNBUFFERED"] = "1"
    # Procfile lines say `python` and `flask`: make them this virtualenv's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    embedded = None
    marker = instance / "redis.url"
    if not os.environ.get("REDIS_URL"):
        from app.embedded_redis import EmbeddedRedis

        embedded = EmbeddedRedis(instance / "redis")
        env["REDIS_URL"] = embedded.url
        marker.write_text(embedded.url)
    base = config["BASE_URL"]
    bar = "=" * 66
    print(f"\n{bar}\n  Hearth is starting.\n"
          f"  Open {base}/signup to sign up as a champion.\n"
          f"  Every email lands in the dev mail catcher: {base}/dev/mail\n"
          f"  Make yourself a coordinator:  .venv/bin/flask --app app people make-coordinator YOU@EXAMPLE\n"
          f"  Stop with Ctrl-C.\n{bar}\n", flush=True)
    honcho = Path(sys.executable).with_name("honcho")
    process = subprocess.Popen([str(honcho), "-f", "Procfile.dev", "start"], env=env)
    # SIGTERM too must stop the processes and the embedded Redis, not orphan them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return process.wait()
    except (KeyboardInterrupt, SystemExit):
        process.send_signal(signal.SIGTERM)
        return process.wait()
    finally:
        if embedded is not None:
            marker.unlink(missing_ok=True)
            embedded.close()


if __name__ == "__main__":
    sys.exit(main())
