"""The settings a user can change, their types, ranges and defaults, and their validation.

Line-wide values are the defaults that the dashboard's sliders set; the
``per_sensor`` ones can be overridden for a single sensor (a vibration sensor
and a temperature sensor rarely want the same threshold).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Union

from helpers.core.detectors.live import parse_names
from helpers.core.detectors.presets import PRESETS
from helpers.core.verdict import VERDICT_SOURCES

Number = Union[int, float]


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: type
    default: Any
    minimum: Optional[Number] = None
    maximum: Optional[Number] = None
    per_sensor: bool = True
    help: str = ""
    choices: tuple[str, ...] = ()
    # A free-text setting's check: returns the normal form or raises ValueError with the reason.
    parse: Optional[Callable[[str], str]] = None


SETTINGS: dict[str, SettingSpec] = {s.name: s for s in (
    SettingSpec("running", bool, True, per_sensor=False, help="whether the line produces readings"),
    SettingSpec("z_threshold", float, 3.0, 0.1, 100.0, help="|z| above which a reading is an anomaly"),
    SettingSpec("anomaly_level", float, 0.0, 0.0, 100.0, per_sensor=False,
                help="simulated disturbance, percent: offsets and extra noise"),
    SettingSpec("model_size", int, 100, 2, 100_000, help="recent normal readings in the z-score model"),
    SettingSpec("anomaly_list_size", int, 100, 1, 100_000,
                help="verdicts the accumulated anomaly ratio is taken over"),
    SettingSpec("sample_rate_hz", float, 1.0, 0.01, 100.0, help="readings per second per sensor"),
    SettingSpec("relearn_after", int, 30, 1, 100_000,
                help="anomalies in a row after which the model relearns from them"),
    SettingSpec("lstm_enabled", bool, False, help="score every reading with the sensor's LSTM as well"),
    SettingSpec("time_steps", int, 15, 2, 500, help="readings in one LSTM window (used at the next training)"),
    SettingSpec("lstm_percentile", float, 99.0, 50.0, 100.0,
                help="percentile of the held-out reconstruction errors that sets the LSTM threshold"),
    SettingSpec("lstm_ratio", float, 1.0, 0.01, 100.0, help="multiplies the LSTM threshold"),
    SettingSpec("line_lstm_enabled", bool, False, per_sensor=False,
                help="score the line as a whole with its multivariate LSTM"),
    SettingSpec("high_usage_enter", float, 0.10, 0.001, 1.0,
                help="anomaly ratio above which a sensor enters high usage (the line: the sensors' mean ratio)"),
    SettingSpec("high_usage_exit", float, 0.05, 0.0, 1.0,
                help="anomaly ratio it must stay below, for the hold time, to return to normal"),
    SettingSpec("high_usage_hold_s", float, 60.0, 0.0, 86_400.0, help="seconds below the exit ratio before normal"),
    SettingSpec("alert_on_state", bool, True, help="alert when the sensor enters high usage (and when it leaves)"),
    SettingSpec("alert_on_burst", bool, True, help="alert on a burst of anomalies"),
    SettingSpec("alert_on_excursion", bool, True,
                help="alert on the z-score's excursion alarm (one per unusual run of out-of-band readings)"),
    SettingSpec("burst_count", int, 5, 1, 100_000, help="anomalies that make a burst"),
    SettingSpec("burst_readings", int, 20, 1, 100_000, help="... within this many latest readings"),
    SettingSpec("burst_seconds", float, 0.0, 0.0, 86_400.0, help="... or within this many seconds (0: off)"),
    SettingSpec("burst_clear_count", int, 1, 0, 100_000,
                help="a burst alarm clears when its windows hold at most this many anomalies"),
    SettingSpec("alert_cooldown_s", float, 300.0, 0.0, 86_400.0,
                help="after an alert, the same rule on the same sensor stays quiet this long"),
    SettingSpec("source", str, "simulator", per_sensor=False,
                choices=("simulator", "push", "csv_replay", "system", "graphql", "promql", "influxdb", "mqtt"),
                help="where the line's readings come from"),
    SettingSpec("verdict_source", str, "zscore", choices=(*VERDICT_SOURCES, *PRESETS),
                help="which detector's verdict drives the anomaly ratio and everything downstream"),
    SettingSpec("detectors", str, "", parse=lambda text: ",".join(parse_names(text)),
                help="detectors that judge every reading beside the z-score (comma-separated names)"),
)}
DETECTOR_KEYS = ("z_threshold", "model_size", "anomaly_list_size", "relearn_after")


class SettingError(ValueError):
    """A setting failed validation; ``field`` names it for the error response."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def coerce(name: str, value: Any) -> Any:
    """Check one value against its spec and return it in the spec's type."""
    spec = SETTINGS.get(name)
    if spec is None:
        raise SettingError(name, "unknown setting")
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise SettingError(name, "must be true or false")
        return value
    if spec.kind is str and spec.parse is not None:
        if not isinstance(value, str):
            raise SettingError(name, f"must be text, got {type(value).__name__}")
        try:
            return spec.parse(value)
        except ValueError as error:
            raise SettingError(name, str(error)) from None
    if spec.kind is str:
        if value not in spec.choices:
            raise SettingError(name, f"must be one of {', '.join(spec.choices)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingError(name, f"must be a number, got {type(value).__name__}")
    if spec.kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise SettingError(name, "must be a whole number")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise SettingError(name, "must be a finite number")
    if spec.minimum is not None and value < spec.minimum:
        raise SettingError(name, f"must be at least {spec.minimum}")
    if spec.maximum is not None and value > spec.maximum:
        raise SettingError(name, f"must be at most {spec.maximum}")
    return value


def validate_changes(changes: Mapping[str, Any], per_sensor: bool = False) -> dict[str, Any]:
    """Validate a whole set of changes; raise on the first bad one so none is applied.

    With ``per_sensor``, ``None`` clears a sensor's override.
    """
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        spec = SETTINGS.get(name)
        if spec is None:
            raise SettingError(name, "unknown setting")
        if per_sensor and not spec.per_sensor:
            raise SettingError(name, "is line-wide and cannot be set per sensor")
        clean[name] = None if per_sensor and value is None else coerce(name, value)
    return clean


def defaults(overrides: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Every setting's default, with deploy-time ``overrides`` validated on top."""
    values = {name: spec.default for name, spec in SETTINGS.items()}
    values.update(validate_changes(overrides or {}))
    return values
