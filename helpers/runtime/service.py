"""Starts the sampler and the mail sender threads after the server has forked, once per process.

Each process only becomes a sampler *candidate*: the database lease decides which
one samples, so the line is sampled exactly once however many workers run. Every
process sends mail; claims in the outbox make each message go out once.
"""
from __future__ import annotations

import os
import threading
from typing import Optional

from flask import Flask

from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator
from helpers.runtime.alerting import mailer
from helpers.runtime.alerting.mailer import MailSender
from helpers.runtime.sampler import Sampler
from helpers.runtime.supervisor import Supervisor


class SamplerThread:
    """This process's sampler candidate, run by a supervisor that restarts it if its thread dies."""

    def __init__(self, app: Flask):
        self.app = app
        self.stop_event = threading.Event()
        self.owner: Optional[str] = None  # kept across restarts, so a restarted sampler retakes its lease at once
        self.supervisor = Supervisor(app, self._new_sampler, self.stop_event)
        self.thread = threading.Thread(target=self.supervisor.run, name="linewatch-supervisor", daemon=True)

    def _new_sampler(self) -> Sampler:
        sampler = Sampler(self.app, LineSimulator(DEFAULT_SENSORS, seed=self.app.config["SIMULATOR_SEED"]),
                          owner=self.owner)
        self.owner = sampler.owner
        return sampler

    @property
    def sampler(self) -> Optional[Sampler]:
        return self.supervisor.sampler

    def start(self) -> "SamplerThread":
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)

    def run_in_foreground(self) -> None:
        """Supervise the sampler from the calling thread (``flask sampler``) until stopped or Ctrl-C."""
        try:
            self.supervisor.run()
        except KeyboardInterrupt:
            self.stop_event.set()
            if self.supervisor.worker is not None:
                self.supervisor.worker.join(5.0)


class MailThread:
    def __init__(self, app: Flask):
        self.stop_event = threading.Event()
        self.sender = MailSender(app)
        self.thread = threading.Thread(target=self.sender.run, args=(self.stop_event,),
                                       name="linewatch-mail", daemon=True)

    def start(self) -> "MailThread":
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


def init_app(app: Flask) -> None:
    """Bind the mailer, and start this process's sampler and mail sender with its first request.

    Started by the first request, i.e. after gunicorn has forked, never in its master;
    gunicorn.conf.py also starts both as soon as a worker boots.
    """
    mailer.init_app(app)
    if app.config["SAMPLER_AUTOSTART"]:
        app.before_request(lambda: ensure_started(app) and None)
    if mailer.autostart(app.config):
        app.before_request(lambda: ensure_mail_sender(app) and None)


_lock = threading.Lock()
_running: dict[int, SamplerThread] = {}  # by pid: a forked child must start its own
_mail_running: dict[int, MailThread] = {}


def ensure_started(app: Flask) -> Optional[SamplerThread]:
    """Start this process's sampler candidate unless it is already running."""
    pid = os.getpid()
    with _lock:
        if pid not in _running:
            _running[pid] = SamplerThread(app).start()
        return _running[pid]


def ensure_mail_sender(app: Flask) -> Optional[MailThread]:
    """Start this process's mail sender unless it is already running."""
    pid = os.getpid()
    with _lock:
        if pid not in _mail_running:
            _mail_running[pid] = MailThread(app).start()
        return _mail_running[pid]


def stop_running() -> None:
    """Stop this process's sampler (flushes and hands the lease back) and its mail sender.

    A message being sent at that moment keeps its claim until the claim expires,
    then another sender retries it.
    """
    with _lock:
        handles = [_running.pop(os.getpid(), None), _mail_running.pop(os.getpid(), None)]
    for handle in handles:
        if handle is not None:
            handle.stop()
