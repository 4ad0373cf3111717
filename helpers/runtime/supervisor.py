"""Keeps the sampler thread alive: notices that it died, records the crash, restarts it after a backoff.

``Sampler.run`` survives any failing step, but an exception that escapes it
(a bug in ``start``, a ``BaseException``) ends its thread, and with it the
line's sampling in this process. The supervisor waits on that thread; when it
ends without being asked to, the crash goes to the database (every worker's
/healthz shows it) and a fresh sampler with the same lease owner starts after
1 s, 2 s, 4 s … at most 60 s, back to 1 s once a run has lasted a while.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

from flask import Flask

from helpers.storage import sampler_health
from helpers.storage.db import db

log = logging.getLogger(__name__)


class Backoff:
    """Delays between restarts: ``base`` doubling up to ``cap``; a run of ``healthy_after`` s resets it."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, healthy_after: float = 300.0):
        self.base, self.cap, self.healthy_after = base, cap, healthy_after
        self.crashes = 0  # in a row, i.e. without a healthy run between them

    def after_crash(self, ran_s: float) -> float:
        """The delay before the next start, given how long the run that just crashed lasted."""
        if ran_s >= self.healthy_after:
            self.crashes = 0
        delay = min(self.base * 2 ** min(self.crashes, 32), self.cap)
        self.crashes += 1
        return delay


class Supervisor:
    """Runs ``make_sampler()``'s ``run(stop)`` in a thread and starts a new one whenever it dies.

    ``clock`` measures how long a run lasted, ``wall`` stamps the records, and
    ``wait(stop, seconds)`` (True when stopped) sleeps between a crash and its restart;
    tests pass their own.
    """

    def __init__(self, app: Flask, make_sampler: Callable[[], object], stop: threading.Event,
                 backoff: Optional[Backoff] = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 wait: Callable[[threading.Event, float], bool] = lambda stop, s: stop.wait(s)):
        self.app, self.make_sampler, self.stop = app, make_sampler, stop
        self.backoff = backoff or Backoff()
        self.clock, self.wall, self.wait = clock, wall, wait
        self.sampler = None
        self.worker: Optional[threading.Thread] = None
        self.restarts = 0
        self.delays: list[float] = []
        self._error: Optional[BaseException] = None

    def run(self) -> None:
        while not self.stop.is_set():
            self.sampler = self.make_sampler()
            self._error = None
            self.worker = threading.Thread(target=self._body, args=(self.sampler,), name="linewatch-sampler",
                                           daemon=True)
            began = self.clock()
            self.worker.start()
            self.worker.join()
            if self.stop.is_set():
                return
            delay = self.backoff.after_crash(self.clock() - began)
            self.delays.append(delay)
            self.restarts += 1
            error = sampler_health.describe(self._error) if self._error is not None else \
                "the sampler loop returned without being stopped"
            log.error("sampler thread died (%s); restart %d in %.0f s", error, self.restarts, delay)
            self._cleanup(self.sampler)
            crash_id = self._in_context(lambda: sampler_health.record_crash(
                getattr(self.sampler, "owner", "?"), self.wall(), error, delay))
            if self.wait(self.stop, delay):
                return
            self._in_context(lambda: sampler_health.mark_restarted(crash_id, self.wall()))

    def _body(self, sampler) -> None:
        try:
            sampler.run(self.stop)
        except BaseException as exc:  # noqa: B036 - whatever ended the thread is what the supervisor reports
            self._error = exc
            log.critical("sampler thread crashed", exc_info=True)

    def _cleanup(self, sampler) -> None:
        """Stop what the dead sampler left running (its pull source thread)."""
        try:
            sampler.sources.stop()
        except Exception:
            log.exception("could not stop the crashed sampler's source")

    def _in_context(self, work: Callable[[], object]):
        with self.app.app_context():
            try:
                return work()
            finally:
                db.session.remove()
