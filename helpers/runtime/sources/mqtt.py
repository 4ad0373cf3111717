"""MQTT: subscribe to a broker's topics; each message becomes readings — one sensor per topic, or JSON naming sensors.

paho-mqtt's network loop runs in its own thread (receives, and reconnects when the
broker goes away) and fills a bounded buffer; ``poll`` drains it on the runner's
schedule, and raises SourceError while disconnected with nothing buffered, so the
runner shows why and backs off. A malformed payload, a refused subscription or a
full buffer (the oldest readings dropped) is counted and reported, never fatal.
"""
from __future__ import annotations

import json
import logging
import math
import threading
from collections import deque
from datetime import datetime
from typing import Any, Mapping, Optional

from paho.mqtt import client as mqtt

from helpers.core.formats.series_csv import parse_time
from helpers.runtime.sources.base import ConfigError, PullSource, Reading, SourceError
from helpers.storage import source_configs as configs

log = logging.getLogger(__name__)

MODES = ("topic", "json")
CONNECT_WAIT_S = 5.0  # for the broker's CONNACK and SUBACK
KEEPALIVE_S = 30
RECONNECT_MAX_S = 30
MAX_BUFFER = 1_000_000
# A number this large is epoch milliseconds (as seconds it would be after the year 5000).
MILLISECONDS_FROM = 1e11
EPOCH = datetime(1970, 1, 1)


def _number(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError(f"value {raw!r} is not a number")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"value {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {raw!r} is not a finite number")
    return value


def _time(raw: Any, arrival: float) -> float:
    """Epoch seconds (or milliseconds) or an ISO 8601 time (UTC without a zone); the arrival time when absent."""
    if raw is None or raw == "":
        return arrival
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            return (parse_time(raw) - EPOCH).total_seconds()  # its ValueError names the problem
    t = _number(raw)
    return t / 1000.0 if t >= MILLISECONDS_FROM else t


def readings_from(mode: str, topic: str, payload: bytes, topic_sensors: Mapping[str, str],
                  arrival: float) -> list[Reading]:
    """The readings in one message; ValueError saying what is wrong with it.

    >>> readings_from("topic", "plant/press_1/force", b"21.5", {}, 1800000000.0)
    [Reading(sensor='force', t=1800000000.0, value=21.5)]
    >>> readings_from("json", "plant", b'[{"sensor": "oven", "value": 3, "timestamp": "2027-01-15T08:00:00Z"}]', {}, 0)
    [Reading(sensor='oven', t=1800000000.0, value=3.0)]
    >>> readings_from("topic", "plant/x", b"on", {}, 0)
    Traceback (most recent call last):
    ValueError: 'on' is not a number or JSON
    """
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("the payload is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"{text[:60]!r} is not a number or JSON") from None
    if mode == "topic":
        sensor = topic_sensors.get(topic) or topic.rstrip("/").rsplit("/", 1)[-1]
        if isinstance(data, dict):
            return [Reading(sensor, _time(data.get("timestamp"), arrival), _number(data.get("value")))]
        return [Reading(sensor, arrival, _number(data))]
    items = data.get("readings", data) if isinstance(data, dict) else data
    out = []
    for item in items if isinstance(items, list) else [items]:
        if not isinstance(item, dict) or not isinstance(item.get("sensor"), str) or not item["sensor"].strip():
            raise ValueError('expected {"sensor", "value", "timestamp"?} or a list of them')
        out.append(Reading(item["sensor"].strip(), _time(item.get("timestamp"), arrival), _number(item.get("value"))))
    return out


def _check_topic(topic: str) -> None:
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            raise ConfigError("topics", f"{topic!r}: + stands alone in a level, # alone in the last one")


class Mqtt(PullSource):
    kind = "mqtt"
    label = "MQTT broker"
    fields = {
        "host": (str, "127.0.0.1", "the broker's host name or address"),
        "port": (int, 1883, "the broker's port"),
        "username": (str, "", "empty for a broker that lets anyone in"),
        "password": (str, "", "that user's password"),
        "topics": (list, ["linewatch/#"], "topics to subscribe to (a list, or comma-separated); + and # allowed"),
        "mode": (str, "topic", 'topic: one sensor per topic, the payload a number or {"value", "timestamp"}; '
                               'json: payloads name the sensor, {"sensor", "value", "timestamp"} or a list of them'),
        "topic_sensors": (dict, {}, "topic → sensor name in topic mode (otherwise the topic's last level names it)"),
        "qos": (int, 0, "0: at most once; 1: at least once"),
        "client_id": (str, "", "empty: a random one; set one to keep the broker's session (and its qos 1 "
                               "messages) across reconnects"),
        "buffer_size": (int, 10_000, "readings held between two polls; when full the oldest are dropped and counted"),
    }
    secrets = ("password",)

    @classmethod
    def validate(cls, raw: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        out = super().validate(raw, previous)
        topics = out["topics"]
        if isinstance(topics, str):
            topics = topics.split(",")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ConfigError("topics", "topics must be a list of topics or comma-separated text")
        out["topics"] = [t.strip() for t in topics if t.strip()]
        if not out["topics"]:
            raise ConfigError("topics", "name at least one topic to subscribe to")
        for topic in out["topics"]:
            _check_topic(topic)
        if not out["host"]:
            raise ConfigError("host", "name the broker's host")
        if not 1 <= out["port"] <= 65_535:
            raise ConfigError("port", "port must be between 1 and 65535")
        if out["mode"] not in MODES:
            raise ConfigError("mode", f"mode must be one of {', '.join(MODES)}")
        if out["qos"] not in (0, 1):
            raise ConfigError("qos", "qos must be 0 or 1")
        if not 1 <= out["buffer_size"] <= MAX_BUFFER:
            raise ConfigError("buffer_size", f"buffer_size must be between 1 and {MAX_BUFFER:,}")
        return out

    def __init__(self, config, clock, payload=None):
        super().__init__(config, clock, payload)
        self._client: Optional[mqtt.Client] = None
        self._lock = threading.Lock()
        self._buffer: deque[Reading] = deque(maxlen=self.config["buffer_size"])
        self._answered = threading.Event()  # the first CONNACK (and SUBACK) or refusal came
        self._ready = False  # connected and subscribed
        self._problem: Optional[str] = None  # why it is not ready
        self._refusal: Optional[str] = None  # the broker's answer to the last connection, when it said no
        # Counted in the network thread, reported (and reset) by poll.
        self._malformed = self._dropped = 0
        self._last_malformed: Optional[str] = None
        self._refused: list[str] = []

    # --- the network thread ---------------------------------------------------

    def _on_connect(self, client, _userdata, _flags, reason, _properties) -> None:
        if reason.is_failure:
            self._refusal = self._problem = f"the broker at {self._address} refused the connection: {reason}"
            self._answered.set()
            return
        self._refusal = None
        client.subscribe([(topic, self.config["qos"]) for topic in self.config["topics"]])

    def _on_subscribe(self, _client, _userdata, _mid, reasons, _properties) -> None:
        refused = [topic for topic, reason in zip(self.config["topics"], reasons) if reason.is_failure]
        with self._lock:
            self._refused.extend(refused)
        self._ready, self._problem = True, None
        self._answered.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason, _properties) -> None:
        self._ready = False
        # The broker hangs up after refusing a connection: the refusal is what to tell.
        self._problem = (self._refusal
                         or f"lost the connection to the broker at {self._address} ({reason}); reconnecting")
        self._answered.set()

    def _on_message(self, _client, _userdata, message) -> None:
        try:
            readings = readings_from(self.config["mode"], message.topic, message.payload,
                                     self.config["topic_sensors"], self.clock())
        except ValueError as exc:
            with self._lock:
                self._malformed += 1
                self._last_malformed = f"{message.topic}: {exc}"
            return
        with self._lock:
            for reading in readings:
                if len(self._buffer) == self._buffer.maxlen:
                    self._dropped += 1  # the deque drops the oldest
                self._buffer.append(reading)

    # --- the runner's side ----------------------------------------------------

    @property
    def _address(self) -> str:
        return f"{self.config['host']}:{self.config['port']}"

    def _connect(self) -> None:
        """The first time: connect, start the network thread, wait for the subscription; SourceError if it fails."""
        if self._client is not None:
            return
        config = self.config
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=config["client_id"],
                             clean_session=not config["client_id"], protocol=mqtt.MQTTv311)
        if config["username"]:
            client.username_pw_set(config["username"], config["password"] or None)
        client.reconnect_delay_set(1, RECONNECT_MAX_S)
        client.on_connect, client.on_subscribe = self._on_connect, self._on_subscribe
        client.on_disconnect, client.on_message = self._on_disconnect, self._on_message
        try:
            client.connect(config["host"], config["port"], KEEPALIVE_S)
        except (OSError, ValueError) as exc:
            raise SourceError(f"could not connect to the broker at {self._address}: {exc}") from None
        client.loop_start()  # from here on paho reconnects by itself
        self._client = client
        if not self._answered.wait(CONNECT_WAIT_S):
            raise SourceError(f"the broker at {self._address} did not answer within {CONNECT_WAIT_S:g} s")

    def poll(self) -> list[Reading]:
        self._connect()
        with self._lock:
            readings = list(self._buffer)
            self._buffer.clear()
            malformed, dropped, last_malformed, refused = (self._malformed, self._dropped, self._last_malformed,
                                                           self._refused)
            self._malformed = self._dropped = 0
            self._refused = []
        problems = []
        if malformed:
            problems.append(f"{malformed} malformed message(s) left out (the last: {last_malformed})")
        if dropped:
            problems.append(f"the buffer was full: {dropped} oldest reading(s) dropped "
                            f"(raise buffer_size or poll more often)")
        if refused:
            problems.append(f"the broker refused the subscription to {', '.join(refused)}")
        if problems:
            message = "; ".join(problems)
            log.warning("source %s: %s", self.kind, message)
            configs.report(self.kind, last_error=message[:1000], last_error_at=self.clock())
        if not readings and not self._ready:
            raise SourceError(self._problem or f"not connected to the broker at {self._address}")
        return readings

    def test(self) -> str:
        self._connect()
        if not self._ready:
            raise SourceError(self._problem or f"not connected to the broker at {self._address}")
        with self._lock:
            refused = list(self._refused)
        topics = [t for t in self.config["topics"] if t not in refused]
        if not topics:
            raise SourceError(f"connected, but the broker refused the subscription to {', '.join(refused)}")
        return (f"connected to {self._address}, subscribed to {', '.join(topics)}"
                + (f" (refused: {', '.join(refused)})" if refused else ""))

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
