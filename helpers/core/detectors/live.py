"""A sensor's chosen detectors run side by side on every live reading, each verdict in one shape.

The sampler keeps one bank per sensor. Each named detector (a preset or an
ensemble spec from :mod:`.presets`) scores the reading, then learns it; its
verdict carries the score, the flag at the detector's own alarm level, the
baseline it compared with (``expected`` ± ``spread`` where the detector has
one) and its explanation in words, so the dashboard can show why each one
fired and where they disagree.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable, Iterable, NamedTuple, Optional, Sequence

from helpers.core.detectors import ensemble
from helpers.core.detectors import knn_classifier
from helpers.core.detectors.contract import Detector
from helpers.core.detectors.presets import PRESETS, alarm, make

#: The most detectors one sensor may run beside the z-score.
MAX_LIVE_DETECTORS = 6

#: ``knn_model:NAME`` names a supervised kNN classifier trained with ``flask train-knn --name NAME``.
SUPERVISED = "knn_model:"
_MODEL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

#: How the runtime finds a trained model by name (the bank itself reads no files).
ModelLoader = Callable[[str], knn_classifier.Model]


class LiveVerdict(NamedTuple):
    """One detector's verdict on one reading; ``score`` and ``anomaly`` are None while it warms up."""

    score: Optional[float]
    anomaly: Optional[bool]
    why: Optional[str]
    expected: Optional[float] = None
    spread: Optional[float] = None

    def as_dict(self) -> dict[str, Any]:
        return {"score": None if self.score is None else round(self.score, 6), "anomaly": self.anomaly,
                "why": self.why, "expected": self.expected, "spread": self.spread}


def parse_names(text: str) -> list[str]:
    """The detector names in a comma-separated setting, checked, in order, each once.

    >>> parse_names(" robust_zscore+likelihood, knn ,knn")
    ['robust_zscore+likelihood', 'knn']
    >>> parse_names("nonsense")
    Traceback (most recent call last):
    ...
    ValueError: no detector named 'nonsense'
    """
    names: list[str] = []
    for name in (part.strip() for part in str(text).split(",")):
        if not name or name in names:
            continue
        if name.startswith(SUPERVISED):
            if not _MODEL_NAME.fullmatch(name[len(SUPERVISED):]) or name[len(SUPERVISED):].startswith("."):
                raise ValueError(f"{name!r}: a trained model's name is 1 to 64 letters, digits, '.', '-' or '_'")
            names.append(name)
            continue
        if name not in PRESETS and not ensemble.is_spec(name):
            raise ValueError(f"no detector named {name!r}")
        if ensemble.is_spec(name):
            make(name)  # a spec over unknown members fails here, not in the sampler
        names.append(name)
    if len(names) > MAX_LIVE_DETECTORS:
        raise ValueError(f"at most {MAX_LIVE_DETECTORS} detectors per sensor")
    return names


def _baseline(last: Any) -> tuple[Optional[float], Optional[float]]:
    """The expected value and its spread from a detector's explanation, when it has them."""
    for centre, scale in (("expected", "spread"), ("baseline", "scale"), ("mean", "std")):
        if hasattr(last, centre) and hasattr(last, scale):
            expected, spread = getattr(last, centre), getattr(last, scale)
            if expected is not None and spread is not None:
                return float(expected), float(spread)
    return None, None


def _why(name: str, detector: Detector, score: float, level: float) -> str:
    """The detector's own explanation, with the score against its alarm level."""
    last = getattr(detector, "last", None)
    if isinstance(last, list) and hasattr(detector, "members"):
        members = ensemble.parse(name)[1]
        last = ", ".join(f"{member} {s:.2f}" for member, s in zip(members, last))
    verdict = "≥" if score >= level else "<"
    kind = "log-likelihood" if name.endswith("+likelihood") else "score"
    told = f"{last}; " if last is not None else ""
    return f"{told}{kind} {score:.2f} {verdict} {level:.2f}"


def _live(detector: Detector) -> Detector:
    """The detector (and any it wraps or combines) set to fit in the background: the sampler never waits."""
    if hasattr(detector, "background"):
        detector.background = True
    inner = getattr(detector, "detector", None)
    if inner is not None:
        _live(inner)
    for member in getattr(detector, "members", ()):
        _live(member)
    return detector


class _Unavailable:
    """Stands in for a trained model that cannot be loaded: never ready, and says why."""

    ready = False

    def __init__(self, reason: str):
        self.reason = reason
        self.last = None

    def update(self, x: float, t: Any = None) -> None:
        return None


def _local_time(t: Optional[float]) -> Optional[datetime]:
    """Seasonal detectors compare readings at the same local time of day."""
    return None if t is None else datetime.fromtimestamp(t)


class DetectorBank:
    """The named detectors of one sensor, kept across setting changes.

    >>> bank = DetectorBank(["robust_zscore"])
    >>> verdicts = [bank.update(float(x % 3), 1_700_000_000.0 + x) for x in range(120)]
    >>> verdicts[0]["robust_zscore"].score is None, verdicts[-1]["robust_zscore"].anomaly
    (True, False)
    >>> spike = bank.update(50.0, 1_700_000_200.0)["robust_zscore"]
    >>> spike.anomaly, spike.why.startswith("median 1 ± ")
    (True, True)
    """

    def __init__(self, names: Sequence[str] = (), z_threshold: float = 3.0, load_model: Optional[ModelLoader] = None):
        self.z_threshold = z_threshold
        self.load_model = load_model
        self.detectors: dict[str, Detector] = {}
        self.levels: dict[str, float] = {}
        self.last_t: Optional[float] = None  # the time of the last reading learnt
        self.configure(names, z_threshold)

    @property
    def names(self) -> list[str]:
        return list(self.detectors)

    def configure(self, names: Sequence[str], z_threshold: float) -> list[str]:
        """Run exactly ``names``; detectors kept keep what they learnt. Returns the names that start fresh."""
        fresh = [name for name in names if name not in self.detectors]
        self.detectors = {name: self.detectors.get(name) or self._build(name) for name in names}
        self.z_threshold = z_threshold
        self.levels = {name: knn_classifier.ALARM if name.startswith(SUPERVISED) else alarm(name, z_threshold)
                       for name in names}
        return fresh

    def _build(self, name: str) -> Detector:
        if not name.startswith(SUPERVISED):
            return _live(make(name))
        model = name[len(SUPERVISED):]
        if self.load_model is None:
            return _Unavailable(f"no trained models here (model {model!r})")
        try:
            loaded = self.load_model(model)
        except (OSError, knn_classifier.ModelError) as error:
            return _Unavailable(f"model {model!r} cannot be used: {error}")
        if len(loaded.columns) != 1:
            return _Unavailable(f"model {model!r} reads {len(loaded.columns)} columns; a sensor gives one")
        return knn_classifier.KNNClassifier(loaded)

    def update(self, x: float, t: Optional[float] = None) -> dict[str, LiveVerdict]:
        """Every detector's verdict on ``x`` read at epoch second ``t``."""
        when = _local_time(t)
        self.last_t = t
        verdicts = {}
        for name, detector in self.detectors.items():
            score = detector.update(x, when)
            if score is None:
                verdicts[name] = LiveVerdict(None, None, getattr(detector, "reason", None))
                continue
            level = self.levels[name]
            expected, spread = _baseline(getattr(detector, "last", None))
            verdicts[name] = LiveVerdict(float(score), bool(score >= level), _why(name, detector, score, level),
                                         expected, spread)
        return verdicts

    def warm(self, names: Iterable[str], history: Iterable[tuple[float, float]]) -> None:
        """Let the named detectors learn from stored ``(t, value)`` history, oldest first (a restart, a new choice)."""
        chosen = [self.detectors[name] for name in names if name in self.detectors]
        if not chosen:
            return
        for t, value in history:
            when = _local_time(t)
            for detector in chosen:
                detector.update(value, when)
            self.last_t = t

    def forecast(self, steps: int) -> Optional[tuple[str, list[tuple[float, float, float]]]]:
        """The first forecasting detector's next ``steps`` (mean, low, high), with its name; None without one."""
        for name, detector in self.detectors.items():
            ahead = getattr(detector, "forecast", None) or getattr(getattr(detector, "detector", None),
                                                                     "forecast", None)
            if ahead is not None and detector.ready:
                return name, [tuple(map(float, point)) for point in ahead(steps)]
        return None
