"""`python -m workers.worker [QUEUE ...]`: the RQ worker.

It never forks per job (DESIGN.md: a forking worker costs about 60 ms a job,
re-importing everything); jobs run in this process inside one app context, and
the database session is cleaned after each job.
"""

from __future__ import annotations

import argparse
import logging

from rq import SimpleWorker

from app import create_app, queues
from app.extensions import db


class HearthWorker(SimpleWorker):
    def perform_job(self, job, queue):
        try:
            return super().perform_job(job, queue)
        finally:
            db.session.remove()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("queues", nargs="*", default=list(queues.ALL))
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    args = parser.parse_args(argv)
    app = create_app()
    with app.app_context():
        connection = queues.connection()
        worker = HearthWorker([queues.queue(name) for name in args.queues], connection=connection)
        logging.getLogger(__name__).info("worker listening on %s", ", ".join(args.queues))
        worker.work(burst=args.burst, with_scheduler=False, logging_level="INFO")


if __name__ == "__main__":
    main()
