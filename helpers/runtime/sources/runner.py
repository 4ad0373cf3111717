"""Running the line's pull source: its own thread, its own backoff; nothing it does can stop the sampler.

The sampler's process (the lease holder) calls ``SourceRunner.sync`` with the
line's chosen source; the runner starts a ``SourceWorker`` thread for a pull
source and stops it when the choice changes or the lease is lost. A worker's
``step`` is what tests call: poll once, store what came through the ingest
queue (the same checks and path as pushed readings), record the outcome.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable, Optional

from flask import Flask

from helpers.core.formats.ingest import BatchRejected, check_rows
from helpers.runtime.sources import KINDS
from helpers.runtime.sources.base import PullSource
from helpers.storage import ingest_queue
from helpers.storage import line as line_store
from helpers.storage import source_configs as configs
from helpers.storage.db import db

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0


class SourceWorker:
    def __init__(self, app: Flask, kind: str, clock: Callable[[], float] = time.time):
        self.app, self.kind, self.clock = app, kind, clock
        self.source: Optional[PullSource] = None
        self._config_seen: Optional[str] = None
        self.failures = 0
        self.next_try = 0.0

    def _current_source(self) -> PullSource:
        raw = json.dumps(configs.config(self.kind), sort_keys=True)
        seen = raw + json.dumps(configs.payload_info(self.kind))  # a new upload restarts the source too
        if self.source is None or seen != self._config_seen:
            if self.source is not None:
                self.source.close()
            cls = KINDS[self.kind]
            self.source = cls(json.loads(raw), self.clock, configs.payload(self.kind) if cls.needs_payload else None)
            self._config_seen = seen
        return self.source

    def step(self, now: Optional[float] = None) -> int:
        """Poll once if due; the number of new readings queued. Never raises."""
        now = self.clock() if now is None else now
        if now < self.next_try:
            return 0
        try:
            source = self._current_source()
            readings = source.poll()
            stored = self._store(readings, now)
            newest = max((r.t for r in readings), default=None)
            self.failures = 0
            self.next_try = now + source.interval_s
            configs.report(self.kind, state="running", last_success_at=now, next_try_at=None, readings=stored,
                           **({"lag_s": max(now - newest, 0.0)} if newest is not None else {}))
            return stored
        except Exception as exc:  # a failing source backs off; the sampler and the others go on
            db.session.rollback()
            self.failures += 1
            wait = min(BACKOFF_FIRST_S * 2 ** (self.failures - 1), BACKOFF_MAX_S)
            self.next_try = now + wait
            message = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("source %s failed (%s); retrying in %.0f s", self.kind, message, wait)
            if self.source is not None:
                self.source.close()
                self.source = None  # reconnect from scratch next time
            try:
                configs.report(self.kind, state="backing_off", last_error=message, last_error_at=now,
                               next_try_at=self.next_try)
            except Exception:
                db.session.rollback()
                log.exception("could not record source %s's failure", self.kind)
            return 0

    def _store(self, readings, now: float) -> int:
        if not readings:
            return 0
        items = [(i, r.sensor, r.t, r.value) for i, r in enumerate(readings, 1)]
        try:
            rows = check_rows(items, now, self.app.config["INGEST_MAX_FUTURE_S"])
        except BatchRejected as exc:
            bad = {p.row for p in exc.problems}
            log.warning("source %s: %d reading(s) left out: %s", self.kind, len(bad), exc)
            rows = check_rows([item for item in items if item[0] not in bad], now,
                              self.app.config["INGEST_MAX_FUTURE_S"]) if len(bad) < len(items) else []
        if not rows:
            return 0
        count, _ = ingest_queue.accept(rows, f"pull:{self.kind}", line_store.the_line().id, True, now, skip_seen=True)
        return count

    def run(self, stop: threading.Event) -> None:
        with self.app.app_context():
            try:
                while not stop.is_set():
                    self.step()
                    stop.wait(max(min(self.next_try - self.clock(), 1.0), 0.05))
            finally:
                if self.source is not None:
                    self.source.close()
                try:
                    configs.report(self.kind, state="stopped")
                except Exception:
                    db.session.rollback()
                db.session.remove()


class SourceRunner:
    """Keeps exactly the line's chosen pull source running (in the sampler's process)."""

    def __init__(self, app: Flask, clock: Callable[[], float] = time.time):
        self.app, self.clock = app, clock
        self.kind: Optional[str] = None
        self._thread: Optional[threading.Thread] = None
        self._stop: Optional[threading.Event] = None

    def sync(self, kind: Optional[str]) -> None:
        wanted = kind if kind in KINDS else None
        if wanted == self.kind and (wanted is None or (self._thread and self._thread.is_alive())):
            return
        self.stop()
        if wanted is not None:
            worker = SourceWorker(self.app, wanted, self.clock)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=worker.run, args=(self._stop,), name=f"linewatch-source-{wanted}",
                                            daemon=True)
            self._thread.start()
            log.info("source %s started", wanted)
        self.kind = wanted

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=10)
            log.info("source %s stopped", self.kind)
        self._thread, self._stop, self.kind = None, None, None
