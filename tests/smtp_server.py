"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd): one that accepts and records, or one that refuses.

``SmtpServer(port)`` only reserves the port; ``start()`` listens and ``stop()``
goes away again, so a test can have the server down first and up later on the
same port.
"""
from __future__ import annotations

import asyncio
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.server_process import free_port


class Recording:
    """Accepts every message and keeps it, parsed; ``delay`` makes each one take that long."""

    def __init__(self, delay: float = 0.0):
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class Refusing(Recording):
    """Answers 550 to every recipient (and to DATA, should it get that far)."""

    REPLY = "550 5.1.1 mailbox unavailable"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.REPLY

    async def handle_DATA(self, server, session, envelope):
        return self.REPLY


class SmtpServer:
    def __init__(self, handler=None, port: int | None = None):
        self.handler = handler or Recording()
        self.port = port or free_port()
        self.controller: Controller | None = None

    def start(self) -> "SmtpServer":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages


def text_of(message: EmailMessage) -> str:
    """The plain-text part of a received message."""
    return message.get_body(preferencelist=("plain",)).get_content()
