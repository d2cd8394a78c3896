"""Sending e-mail: SMTP when configured (production), else files in the instance outbox."""
from __future__ import annotations

import logging
import os
import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

log = logging.getLogger(__name__)


def send_mail(config: dict, instance_path: str, *, to: str, subject: str, body: str) -> Path | None:
    """Send one plain-text message.

    With ``MAIL_SERVER`` set the message goes through SMTP (STARTTLS unless ``MAIL_USE_TLS`` is
    false). Without it the message is written to ``<instance>/outbox/`` and logged, so a
    development machine never sends real mail. Returns the outbox file, if any.
    """
    message = EmailMessage()
    message["From"] = config.get("MAIL_FROM", "LMS <no-reply@localhost>")
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@lms>"
    message.set_content(body)
    server = config.get("MAIL_SERVER")
    if server:
        with smtplib.SMTP(server, int(config.get("MAIL_PORT", 587)), timeout=30) as smtp:
            if config.get("MAIL_USE_TLS", True):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
            smtp.send_message(message)
        return None
    outbox = Path(instance_path) / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    target = outbox / f"{uuid.uuid4().hex}.eml"
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(bytes(message))
    os.replace(tmp, target)
    log.warning("mail to %s (%s) written to %s", to, subject, target)
    return target
