"""What every pull source is: settings it checks, a poll that returns readings, a connection test.

A source never touches the database or the detectors: the runner stores what
``poll`` returns through the ingest queue, the same path pushed readings take.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping, NamedTuple, Optional


class Reading(NamedTuple):
    sensor: str
    t: float      # epoch seconds
    value: float


class ConfigError(ValueError):
    """A setting is wrong; ``field`` names it for the 400 answer."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class SourceError(RuntimeError):
    """The source could not deliver this time (server down, bad answer): logged, shown, retried with backoff."""


class PullSource:
    """Base class: subclasses set ``kind``, ``fields`` (name → (type, default, help)) and implement ``poll``.

    ``secrets`` are settings the API never sends back (it says whether they are set).
    ``payload`` is an uploaded file's content when the source needs one (CSV replay).
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    fields: ClassVar[dict[str, tuple[type, Any, str]]] = {}
    secrets: ClassVar[tuple[str, ...]] = ()
    needs_payload: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any], clock: Callable[[], float], payload: Optional[Any] = None):
        self.config = dict(config)
        self.clock = clock
        self.payload = payload

    @property
    def interval_s(self) -> float:
        """Seconds between polls."""
        return float(self.config.get("interval_s", 1.0))

    @classmethod
    def validate(cls, raw: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        """Check settings whole; a secret left out (or null) keeps its previous value."""
        if not isinstance(raw, Mapping):
            raise ConfigError("config", "settings must be an object")
        unknown = [k for k in raw if k not in cls.fields]
        if unknown:
            raise ConfigError(unknown[0], f"{unknown[0]} is not a setting of the {cls.kind} source "
                                          f"(those are {', '.join(cls.fields)})")
        out = {}
        for name, (kind, default, _help) in cls.fields.items():
            value = raw.get(name)
            if value is None and name in cls.secrets:
                value = previous.get(name, default)
            elif value is None:
                value = default
            out[name] = cls.check_field(name, kind, value)
        return out

    @classmethod
    def check_field(cls, name: str, kind: type, value: Any) -> Any:
        if value is None:
            return None
        if kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(name, f"{name} must be true or false")
            return value
        if kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(name, f"{name} must be a number")
            if value < 0:
                raise ConfigError(name, f"{name} must not be negative")
            return kind(value)
        if kind is str:
            if not isinstance(value, str):
                raise ConfigError(name, f"{name} must be text")
            return value.strip()
        if kind is dict:
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in value.items()):
                raise ConfigError(name, f"{name} must map sensor names to text")
            return value
        return value

    @classmethod
    def public(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The settings as the API shows them: secrets replaced by whether they are set."""
        out = {k: v for k, v in config.items() if k not in cls.secrets}
        for name in cls.secrets:
            out[f"{name}_set"] = bool(config.get(name))
        return out

    def poll(self) -> list[Reading]:
        raise NotImplementedError

    def test(self) -> str:
        """Try the connection once; a sentence on success, SourceError on failure."""
        readings = self.poll()
        return f"connected: {len(readings)} reading(s) now"

    def close(self) -> None:
        """Let go of connections and threads."""
