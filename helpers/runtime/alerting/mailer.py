"""Sending e-mail: Flask-Mail's settings and messages, SMTP with a timeout, and the outbox sender.

``MailSender.step`` sends every due message of the outbox once (tests call it
with a fake clock); ``MailSender.run`` is the dumb loop each worker runs in a
thread. A failed send is retried with exponential backoff until
MAIL_GIVE_UP_HOURS; nothing here ever raises into the loop or the sampler.
"""
from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import time
import uuid
from typing import Callable, Optional

from flask import Flask, current_app
from flask_mail import Mail, Message, email_dispatched, sanitize_address, sanitize_addresses

from helpers.core.alerts import message as alert_message
from helpers.runtime.alerting import compose
from helpers.storage import outbox
from helpers.storage.db import db

log = logging.getLogger(__name__)

mail = Mail()

# Messages sent over one SMTP connection, and the most batches in one step.
BATCH = 10
MAX_BATCHES = 20


def init_app(app: Flask) -> None:
    """Bind Flask-Mail to the app's MAIL_* settings; check ALERT_RECIPIENTS (``service.init_app`` starts the sender)."""
    # Flask-Mail suppresses sending whenever TESTING is on unless told otherwise: say it explicitly.
    app.config["MAIL_SUPPRESS_SEND"] = bool(app.config.get("MAIL_SUPPRESS_SEND", False))
    try:
        compose.recipients(app.config)
    except ValueError as exc:
        raise SystemExit(f"ALERT_RECIPIENTS: {exc}") from None
    mail.init_app(app)


def autostart(config) -> bool:
    """Whether each process runs a sender: MAIL_AUTOSTART, and someone to send to (else nothing is ever queued)."""
    return bool(config.get("MAIL_AUTOSTART")) and bool(compose.recipients(config))


def describe(exc: BaseException) -> str:
    """A one-line account of a send failure, as the server or the network put it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refusals(exc.recipients) or "all recipients refused"
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"timed out: {exc}" if str(exc) and str(exc) != "timed out" else "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _refusals(refused: dict) -> str:
    """smtplib's ``{recipient: (code, text)}`` as one line."""
    return "; ".join(f"{_reply(code, text)} ({rcpt})" for rcpt, (code, text) in refused.items())


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip()


class Connection:
    """One SMTP session with Flask-Mail's settings and a timeout on every network step.

    Flask-Mail's own connection waits forever on a silent server; this one
    gives up after MAIL_TIMEOUT_S. With MAIL_SUPPRESS_SEND nothing is sent,
    only Flask-Mail's ``email_dispatched`` signal (so ``record_messages`` works).
    """

    def __init__(self, app: Flask):
        self.app = app
        self.state = app.extensions["mail"]
        self.host: Optional[smtplib.SMTP] = None

    def open(self) -> "Connection":
        if self.state.suppress:
            return self
        timeout = float(self.app.config["MAIL_TIMEOUT_S"])
        cls = smtplib.SMTP_SSL if self.state.use_ssl else smtplib.SMTP
        host = cls(self.state.server, self.state.port, timeout=timeout)
        try:
            if self.state.use_tls:
                host.starttls()
            if self.state.username and self.state.password:
                host.login(self.state.username, self.state.password)
        except BaseException:
            host.close()
            raise
        self.host = host
        return self

    def send(self, message: Message) -> dict:
        """Send one message; the recipients refused while others were accepted (usually none)."""
        if self.host is None:
            email_dispatched.send(self.app, message=message)
            return {}
        refused = self.host.sendmail(sanitize_address(message.sender), list(sanitize_addresses(message.send_to)),
                                     message.as_bytes())
        email_dispatched.send(self.app, message=message)
        return refused

    def __enter__(self) -> "Connection":
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """QUIT politely; a server that is already gone is fine."""
        if self.host is not None:
            try:
                self.host.quit()
            except (smtplib.SMTPException, OSError):
                self.host.close()
            self.host = None


def _message(subject: str, body: str, html: Optional[str], to: list[str], date: float,
             message_id: Optional[str] = None) -> Message:
    message = Message(subject=subject, recipients=to, body=body, html=html or None, date=date)
    if message_id:
        message.msgId = message_id
    return message


def _message_id(app: Flask, outbox_id: int, created_at: float) -> str:
    """The same Message-ID at every try, so a mail client can drop a duplicate of a retried message."""
    domain = str(app.config.get("MAIL_DEFAULT_SENDER") or "localhost").rsplit("@", 1)[-1].strip("> ") or "localhost"
    return f"<linewatch.outbox.{outbox_id}.{int(created_at * 1000)}@{domain}>"


def send_test(app: Flask, to: list[str], now: float) -> Optional[str]:
    """Send one test e-mail right away and record it; None when it went out, else the error."""
    composed = alert_message.compose_test(app.config["DASHBOARD_URL"], now,
                                          f"{app.config['MAIL_SERVER']}:{app.config['MAIL_PORT']}")
    error = None
    try:
        with Connection(app) as connection:
            refused = connection.send(_message(composed.subject, composed.body, composed.html, to, now))
        error = _refusals(refused) or None
    except Exception as exc:  # every failure is an answer for the person who clicked
        error = describe(exc)
    outbox.record_test(composed.subject, composed.body, composed.html, to, now, error)
    return error


class MailSender:
    """Sends the outbox's due messages; any number may run (one per worker), each message goes out once."""

    def __init__(self, app: Flask, clock: Callable[[], float] = time.time, owner: Optional[str] = None,
                 poll_s: float = 1.0):
        self.app = app
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.poll_s = poll_s

    def step(self, now: Optional[float] = None) -> int:
        """Send every due message (in batches over one connection each); the number sent. Never raises."""
        now = self.clock() if now is None else now
        sent = 0
        with self.app.app_context():  # its own session, whichever thread calls
            try:
                for _ in range(MAX_BATCHES):
                    batch_sent, claimed = self._send_batch(now)
                    sent += batch_sent
                    if claimed < BATCH:
                        break
            except Exception:
                log.exception("mail sender step failed")
                db.session.rollback()
        return sent

    def _send_batch(self, now: float) -> tuple[int, int]:
        cfg = self.app.config
        timeout = float(cfg["MAIL_TIMEOUT_S"])
        give_up_s = float(cfg["MAIL_GIVE_UP_HOURS"]) * 3600.0
        # Long enough for a whole batch to time out step by step before another sender may take it.
        claimed = outbox.claim_due(self.owner, now, hold_s=timeout * (4 + 3 * BATCH) + 30.0, limit=BATCH)
        pending = []
        for message in claimed:
            if now >= message.created_at + give_up_s:
                outbox.give_up(message, self.owner, now, cfg["MAIL_GIVE_UP_HOURS"])
                log.warning("gave up e-mail %s (%r): not sent within %g h", message.id, message.subject,
                            cfg["MAIL_GIVE_UP_HOURS"])
            else:
                pending.append(message)
        if not pending:
            return 0, len(claimed)

        def failed(message: outbox.Claimed, error: str) -> None:
            outbox.mark_failed_attempt(message, self.owner, now, error, float(cfg["MAIL_RETRY_BASE_S"]),
                                       float(cfg["MAIL_RETRY_MAX_S"]), give_up_s)
            log.warning("e-mail %s (%r) not sent: %s", message.id, message.subject, error)

        sent = 0
        connection = Connection(self.app)
        try:
            connection.open()
        except Exception as exc:  # the server is down or refuses us: every message in the batch waits
            error = describe(exc)
            for message in pending:
                failed(message, error)
            return 0, len(claimed)
        try:
            for i, message in enumerate(pending):
                try:
                    refused = connection.send(_message(message.subject, message.body, message.html,
                                                       message.recipients, message.created_at,
                                                       _message_id(self.app, message.id, message.created_at)))
                except smtplib.SMTPServerDisconnected as exc:
                    self._connection_lost(message, pending[i + 1:], describe(exc), failed)
                    break
                except smtplib.SMTPException as exc:  # this message refused; the session goes on
                    failed(message, describe(exc))
                except OSError as exc:
                    self._connection_lost(message, pending[i + 1:], describe(exc), failed)
                    break
                except Exception as exc:  # e.g. an address smtplib cannot encode: this message's problem only
                    failed(message, f"{type(exc).__name__}: {exc}")
                else:
                    outbox.mark_sent(message, self.owner, now, _refusals(refused) or None)
                    sent += 1
        finally:
            connection.close()
        return sent, len(claimed)

    def _connection_lost(self, message, rest, error, failed) -> None:
        failed(message, error)
        for other in rest:  # untried: back to the queue for the next step, no attempt counted
            outbox.release(other, self.owner)

    def run(self, stop: threading.Event) -> None:
        """Step about once a second until ``stop`` is set; log any exception and go on."""
        log.info("mail sender %s started", self.owner)
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # step already logs; this keeps the thread alive whatever happens
                log.exception("mail sender loop failed")
            stop.wait(self.poll_s)


def settings(app: Optional[Flask] = None) -> dict:
    """The mail settings as GET /api/mail shows them: everything but the password."""
    cfg = (app or current_app).config
    return {"configured": bool(compose.recipients(cfg)), "server": cfg["MAIL_SERVER"], "port": cfg["MAIL_PORT"],
            "use_tls": bool(cfg["MAIL_USE_TLS"]), "use_ssl": bool(cfg["MAIL_USE_SSL"]),
            "username": cfg.get("MAIL_USERNAME"), "sender": cfg["MAIL_DEFAULT_SENDER"],
            "recipients": compose.recipients(cfg), "password_set": bool(cfg.get("MAIL_PASSWORD"))}
