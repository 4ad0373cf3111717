"""InfluxDB 1.x: each poll reads the points written since the last (InfluxQL over HTTP) and writes the verdicts back.

A tag names the sensor (``sensor_tag``; ``field`` holds the value) or, with no tag
set, each numeric field of the measurement is a sensor named after it. Reads
follow a time cursor up to the present, at most one ingest batch a poll; a
restarted source reads ``lookback_s`` back again and the ingest queue drops what it
already has.

Write-back: the verdicts the sampler stored for the sensors this source feeds go to
``write_measurement`` (tag ``sensor``) in the same database at the next poll, in the
source's own thread, so the sampler never waits on InfluxDB. A sensor's cursor moves
only once InfluxDB has acknowledged the write; a restarted source asks InfluxDB for
the newest verdict it holds. This is the one source that reads the database (the
verdicts) and reports on its own: a failed write goes to last_error while readings flow.
"""
from __future__ import annotations

import base64
import itertools
import json
import logging
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Optional

from helpers.core.formats.ingest import MAX_BATCH
from helpers.runtime.sources.base import ConfigError, PullSource, Reading, SourceError
from helpers.storage import source_configs as configs
from helpers.storage import readings as reading_store

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 10.0
# Seconds between polls while a backlog is being read or written, whatever interval_s says.
CATCH_UP_INTERVAL_S = 1.0
WRITE_CHUNK = 5_000  # points per /write request
WRITE_MAX_PER_POLL = 50_000
VERDICT_TAG = "sensor"


def quote_ident(name: str) -> str:
    """An InfluxQL identifier (measurement, tag or field name), double-quoted."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _escape(text: str, specials: str) -> str:
    for ch in specials:
        text = text.replace(ch, "\\" + ch)
    return text


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, Any], ms: int) -> str:
    """One point in InfluxDB's line protocol, at millisecond precision; None and non-finite fields are left out.

    >>> line("linewatch verdicts", {"sensor": "press,1"}, {"value": 2.0, "z": None, "anomaly": True}, 1700000000000)
    'linewatch\\\\ verdicts,sensor=press\\\\,1 value=2.0,anomaly=true 1700000000000'
    """
    head = _escape(measurement, ", ") + "".join(f",{_escape(k, ',= ')}={_escape(v, ',= ')}" for k, v in tags.items())
    values = []
    for name, value in fields.items():
        if isinstance(value, bool):
            values.append(f"{_escape(name, ',= ')}={'true' if value else 'false'}")
        elif value is not None and math.isfinite(value):
            values.append(f"{_escape(name, ',= ')}={float(value)!r}")
    return f"{head} {','.join(values)} {ms}"


def take_page(rows: list[tuple[int, list[Reading]]], full: bool, cap: int) -> tuple[list[Reading], Optional[int], bool]:
    """From rows ``(ms, readings)`` in time order: the readings to take, the time read up to, and whether more wait.

    A full page (the query's LIMIT reached) may end inside its last timestamp, so that
    timestamp is left for the next read unless it is all there is; the readings stop
    at ``cap``, between timestamps.

    >>> r = lambda s: Reading(s, 0.0, 1.0)
    >>> take_page([(1, [r("a"), r("b")]), (2, [r("a")]), (3, [r("a")])], full=True, cap=10)[1:]
    (2, True)
    >>> take_page([(1, [r("a"), r("b")]), (2, [r("a")])], full=False, cap=2)[1:]
    (1, True)
    """
    groups = [(ms, [reading for _, readings in group for reading in readings])
              for ms, group in itertools.groupby(rows, key=lambda row: row[0])]
    behind = full
    if full and len(groups) > 1:
        groups.pop()
    taken: list[Reading] = []
    upto = None
    for ms, readings in groups:
        if taken and len(taken) + len(readings) > cap:
            behind = True
            break
        taken.extend(readings)
        upto = ms
    return taken, upto, behind


class InfluxDB(PullSource):
    kind = "influxdb"
    label = "InfluxDB 1.x"
    fields = {
        "url": (str, "http://127.0.0.1:8086", "the server's HTTP address"),
        "database": (str, "", "the database holding the sensors' points"),
        "username": (str, "", "empty when the server has authentication off"),
        "password": (str, "", "that user's password"),
        "measurement": (str, "", "the measurement holding the points"),
        "sensor_tag": (str, "sensor", "the tag whose value names the sensor; empty: each numeric field is a sensor"),
        "field": (str, "value", "the field holding the value (with a sensor tag)"),
        "interval_s": (float, 60.0, "seconds between reads (e.g. every minute, as the plant schedules it)"),
        "lookback_s": (float, 3600.0, "how far back the first read goes"),
        "write_measurement": (str, "linewatch_verdicts",
                              "the verdicts are written back to this measurement, tag sensor; empty: off"),
    }
    secrets = ("password",)

    @classmethod
    def validate(cls, raw: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        out = super().validate(raw, previous)
        parts = urllib.parse.urlsplit(out["url"])
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("url", "url must be an http:// or https:// address, e.g. http://127.0.0.1:8086")
        out["url"] = out["url"].rstrip("/")
        if out["interval_s"] < 1:
            raise ConfigError("interval_s", "interval_s must be at least 1 second")
        if not out["sensor_tag"] and out["field"] != cls.fields["field"][1]:
            raise ConfigError("field", "field applies with a sensor tag; without one every numeric field is read")
        if out["write_measurement"] and out["write_measurement"] == out["measurement"]:
            raise ConfigError("write_measurement", "write the verdicts to another measurement than the one read")
        return out

    def __init__(self, config, clock, payload=None):
        super().__init__(config, clock, payload)
        self.read_upto_ms: Optional[int] = None
        self.first_read: dict[str, float] = {}  # sensor → the oldest time this source read for it
        self.written: dict[str, float] = {}  # sensor → the newest verdict time InfluxDB has acknowledged
        self.behind = False

    @property
    def interval_s(self) -> float:
        return CATCH_UP_INTERVAL_S if self.behind else float(self.config["interval_s"])

    def poll(self) -> list[Reading]:
        self.behind = False
        readings = self._read_new()
        if self.config["write_measurement"]:
            try:
                self._write_back()
            except SourceError as exc:
                # The readings still flow; the verdicts wait in the database until a write succeeds.
                message = f"writing the verdicts back failed, retried at the next poll: {exc}"
                log.warning("source %s: %s", self.kind, message)
                configs.report(self.kind, last_error=message[:1000], last_error_at=self.clock())
        return readings

    def test(self) -> str:
        readings = self._read_new()
        sensors = sorted({r.sensor for r in readings})
        named = ", ".join(sensors[:5]) + (f" and {len(sensors) - 5} more" if len(sensors) > 5 else "")
        found = (f"{len(readings):,} reading(s) of {len(sensors)} sensor(s) ({named})" if readings
                 else "no points")
        back = (f"; verdicts go to {self.config['write_measurement']}" if self.config["write_measurement"]
                else "; write-back is off")
        return (f"connected: {found} in {self.config['measurement']} over the last "
                f"{self.config['lookback_s']:g} s{back}")

    # --- reading ---------------------------------------------------------------

    def _read_new(self) -> list[Reading]:
        config = self.config
        if not config["database"] or not config["measurement"]:
            raise SourceError("set the database and the measurement to read")
        now_ms = int(self.clock() * 1000)
        if self.read_upto_ms is None:
            self.read_upto_ms = now_ms - int(config["lookback_s"] * 1000)
        tag, field = config["sensor_tag"], config["field"]
        selected = f"{quote_ident(field)}, {quote_ident(tag)}" if tag else "*::field"
        # Up to the present only: a point stamped ahead of this clock is read once its time has come.
        rows = self._rows(f"SELECT {selected} FROM {quote_ident(config['measurement'])} "
                          f"WHERE time > {self.read_upto_ms}ms AND time <= {now_ms}ms "
                          f"ORDER BY time ASC LIMIT {MAX_BATCH}")
        readings, upto, behind = take_page(rows, len(rows) >= MAX_BATCH, MAX_BATCH)
        if upto is not None:
            self.read_upto_ms = upto
        self.behind = self.behind or behind
        for reading in readings:
            self.first_read.setdefault(reading.sensor, reading.t)
        return readings

    def _rows(self, query: str) -> list[tuple[int, list[Reading]]]:
        """The query's rows as ``(ms, readings)`` in time order."""
        tag, field = self.config["sensor_tag"], self.config["field"]
        rows, untagged = [], 0
        for series in self._query(query):
            columns = series["columns"]
            at = columns.index("time")
            named_at = columns.index(tag) if tag in columns else None
            value_at = columns.index(field) if field in columns else None
            for values in series.get("values", []):
                ms = int(values[at])
                if tag:
                    sensor = values[named_at] if named_at is not None else None
                    value = values[value_at] if value_at is not None else None
                    if not isinstance(sensor, str) or not sensor:
                        untagged += 1
                        continue
                    found = [(sensor, value)]
                else:
                    found = [(name, values[i]) for i, name in enumerate(columns) if i != at]
                rows.append((ms, [Reading(name, ms / 1000.0, float(value)) for name, value in found
                                  if isinstance(value, (int, float)) and not isinstance(value, bool)]))
        if untagged and not rows:
            raise SourceError(f"the points of {self.config['measurement']} have no tag {tag!r} naming the sensor "
                              f"(set sensor_tag, or empty it to read each field as a sensor)")
        return sorted(rows, key=lambda row: row[0])

    def _query(self, query: str) -> list[dict]:
        """An InfluxQL query's series (times in epoch milliseconds); SourceError with InfluxDB's reason otherwise."""
        body = self._http("/query", {"db": self.config["database"], "q": query, "epoch": "ms"})
        try:
            answer = json.loads(body)
        except ValueError:
            raise SourceError(f"InfluxDB's answer is not JSON: {body[:200]!r}") from None
        if answer.get("error"):
            raise SourceError(f"InfluxDB: {answer['error']}")
        series = []
        for result in answer.get("results", []):
            if result.get("error"):
                raise SourceError(f"InfluxDB: {result['error']}")
            series.extend(result.get("series", []))
        return series

    def _http(self, path: str, params: Mapping[str, str], body: Optional[bytes] = None) -> bytes:
        base = self.config["url"]
        request = urllib.request.Request(f"{base}{path}?{urllib.parse.urlencode(params)}", data=body,
                                         method="GET" if body is None else "POST")
        if self.config["username"]:
            # Basic authentication keeps the password out of URLs (and so out of proxy and server logs).
            token = f"{self.config['username']}:{self.config['password'] or ''}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace").strip()
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            if exc.code in (401, 403):
                raise SourceError(f"InfluxDB refused the username or password ({exc.code}: {detail})") from None
            raise SourceError(f"InfluxDB answered {exc.code}: {detail}") from None
        except OSError as exc:  # URLError, a refused connection, a timeout
            raise SourceError(f"InfluxDB at {base} did not answer: {getattr(exc, 'reason', exc)}") from None

    # --- writing the verdicts back -----------------------------------------------

    def _write_back(self) -> None:
        unknown = [sensor for sensor in self.first_read if sensor not in self.written]
        if unknown:
            self.written.update(self._last_written(unknown))
        measurement, sent = self.config["write_measurement"], 0
        for sensor in self.first_read:
            while True:
                if sent >= WRITE_MAX_PER_POLL:
                    self.behind = True
                    return
                rows = reading_store.verdicts_after(sensor, self.written[sensor], WRITE_CHUNK)
                if not rows:
                    break
                self._write([line(measurement, {VERDICT_TAG: sensor},
                                  {"value": value, "z": z, "anomaly": bool(anomaly), "anomaly_ratio": ratio,
                                   "lstm_score": lstm_score}, round(t * 1000))
                             for t, value, z, anomaly, ratio, lstm_score in rows])
                self.written[sensor] = rows[-1][0]
                sent += len(rows)
                if len(rows) < WRITE_CHUNK:
                    break

    def _last_written(self, sensors: list[str]) -> dict[str, float]:
        """Where each sensor's write-back starts: after the newest verdict InfluxDB holds, else at its first reading."""
        since_ms = int(min(self.first_read[s] for s in sensors) * 1000)
        held = {}
        for series in self._query(f"SELECT last(\"value\") FROM {quote_ident(self.config['write_measurement'])} "
                                  f"WHERE time >= {since_ms}ms GROUP BY {quote_ident(VERDICT_TAG)}"):
            sensor = series.get("tags", {}).get(VERDICT_TAG)
            if sensor and series.get("values"):
                held[sensor] = series["values"][0][0] / 1000.0
        # Half a millisecond before the first reading: that reading is included.
        return {s: max(held.get(s, -math.inf), self.first_read[s] - 0.0005) for s in sensors}

    def _write(self, lines: list[str]) -> None:
        self._http("/write", {"db": self.config["database"], "precision": "ms"}, "\n".join(lines).encode())
