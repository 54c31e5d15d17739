"""The dev mail catcher is a real SMTP server; /dev/mail shows what it caught."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.mailbox import free_port
from workers.mailcatcher import StoreHandler


def test_catcher_stores_and_viewer_shows_text_html_and_source(app, client):
    folder = Path(app.config["DEV_MAIL_DIR"])
    controller = Controller(StoreHandler(folder), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        message = EmailMessage()
        message["From"] = "Hearth <hello@hearth.test>"
        message["To"] = "ada@example.org"
        message["Subject"] = "Confirm your place"
        message.set_content("Open http://hearth.test/auth/abc to continue.")
        message.add_alternative("<p>Open <b>the link</b></p>", subtype="html")
        with smtplib.SMTP(controller.hostname, controller.port) as smtp:
            smtp.send_message(message)
    finally:
        controller.stop()
    stored = list(folder.glob("*.eml"))
    assert len(stored) == 1

    inbox = client.get("/dev/mail/").get_data(as_text=True)
    assert "Confirm your place" in inbox
    page = client.get(f"/dev/mail/{stored[0].name}").get_data(as_text=True)
    assert '<a href="http://hearth.test/auth/abc">' in page
    assert "Raw source" in page and "Subject: Confirm your place" in page
    html = client.get(f"/dev/mail/{stored[0].name}/html")
    assert "<b>the link</b>" in html.get_data(as_text=True)
    assert "script-src" not in html.headers["Content-Security-Policy"]
    assert client.get("/dev/mail/..%2Fsecret_key").status_code == 404


def test_viewer_is_off_unless_enabled(tmp_path, app):
    from app import create_app

    plain = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                        "REDIS_URL": app.config["REDIS_URL"],
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    assert plain.test_client().get("/dev/mail/").status_code == 404
