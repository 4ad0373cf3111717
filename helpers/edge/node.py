"""The edge node: produce a line's readings on this machine and push them to a Linewatch server, each exactly once.

A reading is written to a local spool (SQLite) the moment it is produced, and
grouped into batches that are sealed with a sequence number; a batch leaves the
spool only once the server has answered 2xx for it (stored, or "repeated": it
had stored it before) or refused it for good. Every batch is sent with the
Idempotency-Key ``<node id>:<seq>``, and the server stores a key with its batch
in one transaction, so a retry after a lost answer, a timeout or a restart of
either side never stores a reading twice. ``Node.produce`` and
``Node.send_step`` are what tests call; ``Node.run`` only keeps time.
"""
from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.client import HTTPException
from typing import Any, Callable, Iterator, Optional, Protocol, Sequence

from helpers.core.line.simulator import LineSimulator, SensorProfile

log = logging.getLogger(__name__)

Reading = tuple[str, float, float]  # (sensor, t in epoch seconds, value)

# Answers that mean "try again later": the request timed out or was throttled, or the server failed.
RETRY_STATUSES = {408, 429}
# 4xx answers about the node's setup, not about the batch (a wrong or revoked token, a wrong URL, a server
# whose line does not read pushed data yet): dropping batches for these would lose every reading until
# someone fixes the setup, so the node keeps them and retries slowly, logging each refusal as an error.
SETUP_STATUSES = {401, 403, 404, 409}
MAX_BATCH = 10_000  # the server's limit


def iso(t: float) -> str:
    """Epoch seconds as ISO 8601 UTC with microseconds, e.g. ``2026-11-26T14:03:00.250000Z``."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def on_microseconds(t: float) -> float:
    """``t`` rounded to whole microseconds, so it survives the ISO 8601 round trip to the server unchanged."""
    return round(t * 1_000_000) / 1_000_000


# --- where readings come from ---------------------------------------------------

class Producer(Protocol):
    finished: bool

    def due(self, now: float) -> list[Reading]: ...

    def next_due(self) -> Optional[float]: ...

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any], now: float) -> None: ...


class SimulatedLine:
    """The simulated line's sensors, every one read at ``rate_hz`` on one schedule (``base + k / rate``).

    After a stall longer than ``max_catchup_s`` (a suspended laptop) it skips
    ahead instead of producing the missed time all at once.
    """

    finished = False

    def __init__(self, profiles: Sequence[SensorProfile], rate_hz: float, seed: Optional[int] = None,
                 max_catchup_s: float = 60.0):
        self.simulator = LineSimulator(profiles, seed)
        self.names = [p.name for p in profiles]
        self.period = 1.0 / rate_hz
        self.max_catchup_s = max_catchup_s
        self.base: Optional[float] = None
        self.k = 0
        self.last_t: Optional[float] = None

    def due(self, now: float) -> list[Reading]:
        if self.base is None:
            self.base = now
        if now - (self.base + self.k * self.period) > self.max_catchup_s:
            log.warning("the node fell %.0f s behind; skipping ahead", now - (self.base + self.k * self.period))
            self._start_at(now)
        out: list[Reading] = []
        while self.base + self.k * self.period <= now:
            offset = self.k * self.period
            t = on_microseconds(self.base + offset)
            self.k += 1
            if self.last_t is not None and t <= self.last_t:
                continue  # never twice at one time (a restart resumes after the last spooled reading)
            for name in self.names:
                out.append((name, t, self.simulator.sample(name, offset)))
            self.last_t = t
        return out

    def next_due(self) -> Optional[float]:
        return None if self.base is None else self.base + self.k * self.period

    def state(self) -> dict[str, Any]:
        return {"kind": "simulated", "last_t": self.last_t}

    def restore(self, state: dict[str, Any], now: float) -> None:
        """Go on after the last reading a previous run spooled (or from now, if that is later)."""
        if state.get("kind") == "simulated" and state.get("last_t") is not None:
            self.last_t = state["last_t"]
            self._start_at(max(now, self.last_t + self.period))

    def _start_at(self, t: float) -> None:
        """Make ``t`` the next due time; the offsets (the simulated cycle's phase) count on."""
        self.base = t - self.k * self.period


class ReplayFile:
    """A recorded series replayed into one sensor: the next value every ``1 / rate_hz`` seconds, stamped with now.

    Its position is kept in the spool, so a restarted node goes on where it stopped.
    """

    def __init__(self, values: Sequence[float], sensor: str, rate_hz: float, name: str = ""):
        self.values = list(values)
        self.sensor = sensor
        self.period = 1.0 / rate_hz
        self.name = name
        self.row = 0
        self.base: Optional[float] = None
        self.k = 0
        self.last_t: Optional[float] = None

    @property
    def finished(self) -> bool:
        return self.row >= len(self.values)

    def due(self, now: float) -> list[Reading]:
        if self.base is None:
            self.base = now
        out: list[Reading] = []
        while not self.finished and self.base + self.k * self.period <= now:
            t = on_microseconds(self.base + self.k * self.period)
            self.k += 1
            if self.last_t is not None and t <= self.last_t:
                continue
            out.append((self.sensor, t, self.values[self.row]))
            self.row += 1
            self.last_t = t
        return out

    def next_due(self) -> Optional[float]:
        return None if self.base is None or self.finished else self.base + self.k * self.period

    def state(self) -> dict[str, Any]:
        return {"kind": "replay", "file": self.name, "sensor": self.sensor, "row": self.row, "last_t": self.last_t}

    def restore(self, state: dict[str, Any], now: float) -> None:
        if state.get("kind") == "replay" and (state.get("file"), state.get("sensor")) == (self.name, self.sensor):
            self.row, self.last_t = state["row"], state["last_t"]
            if self.last_t is not None:
                self.base, self.k = max(now, self.last_t + self.period), 0


# --- the spool ----------------------------------------------------------------------

class Spool:
    """Readings the server has not acknowledged yet, in a small SQLite file that survives restarts.

    Open readings (``batch IS NULL``) wait to be sealed into a batch; a sealed
    batch keeps its sequence number and its readings until it is done. The
    node's id is made once per spool file, so a new spool never reuses an old
    one's idempotency keys.
    """

    def __init__(self, path: str):
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")  # a committed reading survives a power cut, not only a crash
        self.conn.executescript("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS readings (id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, t REAL NOT NULL,
                                                 value REAL NOT NULL, batch INTEGER);
            CREATE INDEX IF NOT EXISTS readings_batch ON readings (batch, id);
            CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, sealed_at REAL NOT NULL,
                                                attempts INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS rejected (seq INTEGER PRIMARY KEY, rejected_at REAL NOT NULL,
                                                 status INTEGER NOT NULL, message TEXT NOT NULL,
                                                 readings TEXT NOT NULL);
        """)
        with self._tx():
            stored = self._meta("node_id")
            if stored is None:
                stored = f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:12]}"
                self._set_meta("node_id", stored)
            if self._meta("next_seq") is None:
                self._set_meta("next_seq", "1")
        self.node_id = stored

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _meta(self, key: str) -> Optional[str]:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def add(self, readings: Sequence[Reading], producer_state: dict[str, Any]) -> None:
        """Spool new readings and where the producer stands, in one transaction: both or neither."""
        with self._tx() as conn:
            conn.executemany("INSERT INTO readings (sensor, t, value) VALUES (?, ?, ?)", readings)
            self._set_meta("producer", json.dumps(producer_state))

    def producer_state(self) -> dict[str, Any]:
        raw = self._meta("producer")
        return json.loads(raw) if raw else {}

    def open_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM readings WHERE batch IS NULL").fetchone()[0]

    def seal(self, now: float, limit: int) -> Optional[int]:
        """Make the oldest ``limit`` open readings the next batch; its sequence number, or None if none were open."""
        with self._tx() as conn:
            seq = int(self._meta("next_seq"))
            moved = conn.execute("UPDATE readings SET batch = ? WHERE id IN (SELECT id FROM readings WHERE batch "
                                 "IS NULL ORDER BY id LIMIT ?)", (seq, limit)).rowcount
            if not moved:
                return None
            conn.execute("INSERT INTO batches (seq, sealed_at) VALUES (?, ?)", (seq, now))
            self._set_meta("next_seq", str(seq + 1))
        return seq

    def oldest(self) -> Optional[tuple[int, list[Reading]]]:
        """The oldest sealed batch: its sequence number and readings, in the order they were produced."""
        row = self.conn.execute("SELECT seq FROM batches ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        readings = self.conn.execute("SELECT sensor, t, value FROM readings WHERE batch = ? ORDER BY id",
                                     (row[0],)).fetchall()
        return row[0], readings

    def attempted(self, seq: int) -> None:
        self.conn.execute("UPDATE batches SET attempts = attempts + 1 WHERE seq = ?", (seq,))

    def done(self, seq: int) -> None:
        """The server has the batch: forget it."""
        with self._tx() as conn:
            conn.execute("DELETE FROM readings WHERE batch = ?", (seq,))
            conn.execute("DELETE FROM batches WHERE seq = ?", (seq,))

    def reject(self, seq: int, now: float, status: int, message: str) -> None:
        """The server refused the batch for good: move it aside (kept for a person to look at), go on."""
        with self._tx() as conn:
            readings = conn.execute("SELECT sensor, t, value FROM readings WHERE batch = ? ORDER BY id",
                                    (seq,)).fetchall()
            conn.execute("INSERT OR REPLACE INTO rejected (seq, rejected_at, status, message, readings) "
                         "VALUES (?, ?, ?, ?, ?)", (seq, now, status, message, json.dumps(readings)))
            conn.execute("DELETE FROM readings WHERE batch = ?", (seq,))
            conn.execute("DELETE FROM batches WHERE seq = ?", (seq,))

    def has_batches(self) -> bool:
        return self.conn.execute("SELECT 1 FROM batches LIMIT 1").fetchone() is not None

    def backlog(self) -> tuple[int, int]:
        """Sealed batches waiting, and readings waiting (sealed or open)."""
        batches = self.conn.execute("SELECT count(*) FROM batches").fetchone()[0]
        readings = self.conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        return batches, readings

    def rejected(self) -> list[tuple[int, int, str, int]]:
        """``(seq, status, message, readings)`` of every batch the server refused for good."""
        return [(seq, status, message, len(json.loads(readings))) for seq, status, message, readings
                in self.conn.execute("SELECT seq, status, message, readings FROM rejected ORDER BY seq")]

    def close(self) -> None:
        self.conn.close()


# --- HTTP ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    retry_after: Optional[str] = None


Post = Callable[[str, bytes, dict[str, str], float], Answer]


def urllib_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST with the standard library; a network failure raises OSError (or HTTPException)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read().decode("utf-8", "replace"),
                          response.headers.get("Retry-After"))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.read().decode("utf-8", "replace"), exc.headers.get("Retry-After"))


def server_message(answer: Answer) -> str:
    """The server's own words: its JSON error's message (and the first problems), else the body's start."""
    try:
        body = json.loads(answer.text)
    except ValueError:
        return answer.text.strip()[:500] or "(no message)"
    if not isinstance(body, dict):
        return answer.text[:500]
    message = str(body.get("message") or body.get("error") or answer.text[:500])
    problems = body.get("errors") or []
    if problems:
        message += "; " + "; ".join(f"row {p.get('row')}: {p.get('field')}: {p.get('reason')}"
                                    for p in problems[:5] if isinstance(p, dict))
    return message


# --- the node -----------------------------------------------------------------------

class Node:
    """Produces readings into the spool, seals them into batches (every ``batch_seconds`` or ``batch_size``
    readings) and sends the batches, oldest first."""

    def __init__(self, url: str, token: Optional[str], producer: Producer, spool: Spool, *,
                 post: Post = urllib_post, clock: Callable[[], float] = time.time,
                 batch_size: int = 1000, batch_seconds: float = 1.0, timeout_s: float = 10.0,
                 backoff_base_s: float = 0.5, backoff_max_s: float = 30.0,
                 jitter: Callable[[], float] = random.random):
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH}")
        self.endpoint = url.rstrip("/") + "/api/readings"
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        "User-Agent": "linewatch-edge-node"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.producer, self.spool, self.post, self.clock = producer, spool, post, clock
        self.batch_size, self.batch_seconds, self.timeout_s = batch_size, batch_seconds, timeout_s
        self.backoff_base_s, self.backoff_max_s, self.jitter = backoff_base_s, backoff_max_s, jitter
        self.failures = 0
        self.next_try = 0.0
        self.produced = self.sent = self.rejected = 0
        now = clock()
        producer.restore(spool.producer_state(), now)
        # Readings a previous run left open are sealed now: their batch is as old as it gets.
        self._open = spool.open_count()
        self._open_since: Optional[float] = now if self._open else None
        self._seal(now, everything=True)

    # --- one pass ------------------------------------------------------------

    def produce(self, now: float) -> int:
        """Spool the readings that are due and seal what makes a batch; how many were produced."""
        readings = self.producer.due(now)
        if readings:
            self.spool.add(readings, self.producer.state())
            if self._open_since is None:
                self._open_since = now
            self._open += len(readings)
            self.produced += len(readings)
        full = self._open_since is not None and now - self._open_since >= self.batch_seconds
        self._seal(now, everything=full or self.producer.finished)
        return len(readings)

    def _seal(self, now: float, everything: bool) -> None:
        while self._open >= self.batch_size or (everything and self._open):
            if self.spool.seal(now, self.batch_size) is None:
                self._open = 0
                break
            self._open -= min(self._open, self.batch_size)
        if not self._open:
            self._open_since = None

    def send_step(self, now: float) -> bool:
        """Send the oldest sealed batch if its time has come.

        True when it left the spool: the server took it, or refused it for good.
        """
        if now < self.next_try:
            return False
        batch = self.spool.oldest()
        if batch is None:
            return False
        seq, readings = batch
        body = json.dumps({"readings": [{"sensor": s, "timestamp": iso(t), "value": v} for s, t, v in readings]},
                          separators=(",", ":")).encode()
        headers = {**self.headers, "Idempotency-Key": f"{self.spool.node_id}:{seq}"}
        self.spool.attempted(seq)
        try:
            answer = self.post(self.endpoint, body, headers, self.timeout_s)
        except (OSError, HTTPException) as exc:  # refused, reset, timed out, DNS: the server may come back
            self._back_off(now, f"server unreachable ({exc.__class__.__name__}: {exc})")
            return False
        status = answer.status
        if 200 <= status < 300:
            self.spool.done(seq)
            self.sent += len(readings)
            if self.failures:
                log.info("server answers again after %d failed tries; sending the spooled batches", self.failures)
            self.failures, self.next_try = 0, 0.0
            return True
        if status >= 500 or status in RETRY_STATUSES:
            self._back_off(now, f"server answered {status}: {server_message(answer)}", answer.retry_after)
            return False
        if status in SETUP_STATUSES:
            log.error("the server refuses this node (%d): %s. Fix the node's token/URL or the server's source "
                      "setting; %d readings are kept in %s and retried", status, server_message(answer),
                      self.spool.backlog()[1], self.spool.path)
            self.failures += 1
            self.next_try = now + self.backoff_max_s
            return False
        message = server_message(answer)
        log.error("batch %s:%d (%d readings) REJECTED by the server with %d: %s. It will not be retried; "
                  "it is kept in the spool's 'rejected' table", self.spool.node_id, seq, len(readings), status,
                  message)
        self.spool.reject(seq, now, status, message)
        self.rejected += len(readings)
        self.failures, self.next_try = 0, 0.0
        return True

    def _back_off(self, now: float, reason: str, retry_after: Optional[str] = None) -> None:
        self.failures += 1
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** min(self.failures - 1, 30))  # no float overflow
        delay *= 0.5 + 0.5 * self.jitter()  # spread many nodes' retries after an outage
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), self.backoff_max_s))
        self.next_try = now + delay
        batches, readings = self.spool.backlog()
        log.warning("%s; %d batches (%d readings) spooled; retry %d in %.1f s", reason, batches, readings,
                    self.failures, delay)

    def done(self) -> bool:
        """The producer has nothing more to give and the spool is empty (a finished replay)."""
        return self.producer.finished and self.spool.backlog() == (0, 0)

    # --- the loop --------------------------------------------------------------

    def run(self, stop: threading.Event, drain_s: float = 1.0) -> None:
        """Produce on time and send while the server takes batches (for at most ``drain_s`` between productions)."""
        while not stop.is_set():
            try:
                now = self.clock()
                self.produce(now)
                until = now + drain_s
                while self.send_step(self.clock()) and self.clock() < until and not stop.is_set():
                    pass
                if self.done():
                    log.info("replay finished: %d readings sent, %d rejected", self.sent, self.rejected)
                    return
            except Exception:  # noqa: BLE001 - the loop must go on; the spool keeps everything
                log.exception("node step failed; going on")
                stop.wait(1.0)
                continue
            stop.wait(self._pause(self.clock()))
        self._seal(self.clock(), everything=True)
        until = self.clock() + drain_s
        try:  # a last send of what is sealed, while the server answers; the rest waits in the spool
            while not self.failures and self.clock() < until and self.send_step(self.clock()):
                pass
        except Exception:  # noqa: BLE001
            log.exception("last send failed")
        batches, readings = self.spool.backlog()
        if readings:
            log.info("stopped with %d readings in %d batches spooled in %s; they go out at the next start",
                     readings, batches, self.spool.path)

    def _pause(self, now: float) -> float:
        wakes = [self.producer.next_due()]
        if self._open_since is not None:
            wakes.append(self._open_since + self.batch_seconds)
        if self.spool.has_batches():
            wakes.append(self.next_try)
        soonest = min((w for w in wakes if w is not None), default=now + 1.0)
        return min(max(soonest - now, 0.0), 1.0)
