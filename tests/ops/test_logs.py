"""LOG_FORMAT=json: one JSON object a line, with the delivery, inbound
message and RQ job it is about."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

import pytest

from app import logs, queues
from tests.inbound.mail import fixture

CAUGHT = io.StringIO()  # where the job below logs (RQ imports this module by name)


@pytest.fixture
def json_logger():
    """Install the JSON format on a named logger; undo it afterwards."""
    installed = []

    def install(name: str, stream: io.StringIO) -> logging.Logger:
        logger = logging.getLogger(name)
        saved = (logger.level, list(logger.handlers))
        installed.append((logger, saved))
        logs.install("json", "INFO", logger=logger, stream=stream)
        return logger

    yield install
    for logger, (level, handlers) in installed:
        logger.handlers[:] = handlers
        logger.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_line_carries_the_delivery_id(json_logger):
    stream = io.StringIO()
    log = json_logger("hearth.test.outbox", stream)
    log.info("delivery %s sent as %s", 7, "<d7.abc@hearth.test>", extra={"delivery_id": 7})
    [line] = lines(stream)
    assert line["message"] == "delivery 7 sent as <d7.abc@hearth.test>"
    assert line["delivery_id"] == 7
    assert line["level"] == "INFO" and line["logger"] == "hearth.test.outbox"
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0
    assert "job_id" not in line


def test_an_exception_keeps_its_traceback(json_logger):
    stream = io.StringIO()
    log = json_logger("hearth.test.errors", stream)
    try:
        {}["missing"]
    except KeyError:
        log.exception("inbound message %s failed", 3, extra={"inbound_id": 3})
    [line] = lines(stream)
    assert line["inbound_id"] == 3
    assert "KeyError: 'missing'" in line["exception"]


def test_installing_twice_never_doubles_a_line(json_logger):
    stream = io.StringIO()
    log = json_logger("hearth.test.twice", stream)
    logs.install("json", "INFO", logger=log, stream=stream)
    log.warning("once")
    assert [line["message"] for line in lines(stream)] == ["once"]


def test_text_stays_the_default():
    logger = logging.getLogger("hearth.test.text")
    stream = io.StringIO()
    try:
        logs.install("text", "INFO", logger=logger, stream=stream)
        logger.info("plain %s", "words")
        assert stream.getvalue().rstrip().endswith("INFO hearth.test.text: plain words")
    finally:
        logger.handlers.clear()


def log_inside_job(delivery_id: int) -> None:
    logging.getLogger("hearth.test.job").info("sending", extra={"delivery_id": delivery_id})


def test_a_line_logged_in_a_job_names_the_job(app, json_logger, drain):
    CAUGHT.seek(0)
    CAUGHT.truncate()
    json_logger("hearth.test.job", CAUGHT)
    with app.app_context():
        job = queues.enqueue(queues.BULK, "tests.ops.test_logs.log_inside_job", 42)
    drain()
    [line] = lines(CAUGHT)
    assert (line["job_id"], line["queue"], line["delivery_id"]) == (job.id, "bulk", 42)


def test_processing_a_reply_logs_its_inbound_id(inbound, drain, json_logger):
    stream = io.StringIO()
    json_logger("app.inbound.service", stream)
    stored = inbound.post(fixture("gmail_plain.eml")).get_json()
    drain()
    [line] = [entry for entry in lines(stream) if "inbound_id" in entry]
    assert line["inbound_id"] == stored["id"]
    assert line["status"] == "quarantined"
    assert line["queue"] == "inbound"


def test_json_takes_over_a_console_handler_set_up_before(json_logger):
    logger = logging.getLogger("hearth.test.before")
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))  # as logging.basicConfig() would
    json_logger("hearth.test.before", stream)
    logger.info("one line", extra={"delivery_id": 1})
    assert [line["delivery_id"] for line in lines(stream)] == [1]


def test_a_process_started_with_log_format_json_writes_json(tmp_path):
    import subprocess
    import sys

    from app.config import ROOT

    script = (
        "import logging\n"
        "from app import create_app\n"
        "from app.logs import configure\n"
        "app = create_app()\n"
        "configure(app)\n"
        "logging.getLogger('app.outbox.service').info('delivery 5 sent', extra={'delivery_id': 5})\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LOG_FORMAT": "json", "HEARTH_INSTANCE": str(tmp_path),
           "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(text) for text in done.stderr.splitlines() if text.strip()]
    assert line["delivery_id"] == 5 and line["logger"] == "app.outbox.service"
