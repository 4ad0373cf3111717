"""The Evaluate page's runs: one labelled series, several detectors, scores at any threshold.

A run is an analysis job: the series and label windows are its payload, each
detector's per-row scores its result (stored as each detector finishes, so the
page can draw them early). Our detectors run causally through the same path as
``flask score``; the published ones' scores come with the bundled examples.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from helpers.core.formats import series_csv
from helpers.core.evaluation.batch import score_series
from helpers.core.detectors import presets
from helpers.core.evaluation.nab import examples as bundled
from helpers.core.evaluation.nab.single import score_one
from helpers.core.evaluation.nab.windows import probationary_length
from helpers.core.detectors.zscore import z_to_score
from helpers.runtime.jobs.evaluation import NAB_PROFILES
from helpers.storage import analysis_jobs

KIND = "evaluation"

# Our detectors as the page offers them, with the threshold each flags at by itself.
OURS = {
    "zscore": {"label": "Rolling z-score: every out-of-band reading (live default)",
               "default_threshold": z_to_score(3.0)},
    "zscore_alarm": {"label": "Rolling z-score: its excursion alarms (live default)", "default_threshold": 0.5},
    "lstm": {"label": "LSTM autoencoder", "default_threshold": 0.5},
    **{name: {"label": label, "default_threshold": presets.alarm(name)} for name, label in (
        ("robust_zscore", "Robust z-score (median, MAD)"),
        ("robust_zscore_seasonal", "Robust z-score, time-of-day baseline"),
        ("zscore+likelihood", "Z-score + anomaly likelihood"),
        ("robust_zscore+likelihood", "Robust z-score + anomaly likelihood"),
        ("robust_zscore_seasonal+likelihood", "Robust z-score, time of day + likelihood"),
        ("knn", "kNN distance"),
        ("knn+likelihood", "kNN distance + anomaly likelihood"),
        ("ensemble_max", "Ensemble: max of seasonal robust z + kNN"),
    )},
}
# Epochs the LSTM trains for on the Evaluate page: enough to learn a series, short enough for a class.
LSTM_EPOCHS = 20


class RunRefused(ValueError):
    """The run cannot start; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    max_rows: int
    min_rows: int


def catalogue(limits: Limits) -> dict[str, Any]:
    """What the page can offer: the bundled examples, the detectors and the upload limits."""
    return {
        "examples": [{"id": e.id, "name": e.name, "title": e.title, "category": e.category,
                      "windows": e.windows, "references": e.references,
                      "rows": len(bundled.load_series(e)[0])} for e in bundled.examples().values()],
        "detectors": [{"id": key, **info} for key, info in OURS.items()],
        "references": [{"id": key, "label": label,
                        "default_threshold": bundled.reference_thresholds()[key]["standard"]}
                       for key, label in bundled.REFERENCES.items()],
        "limits": limits.__dict__,
    }


def example(example_id: Any) -> bundled.Example:
    found = bundled.examples().get(example_id) if isinstance(example_id, str) else None
    if found is None:
        raise RunRefused("example", f"unknown example {example_id!r}; one of {', '.join(bundled.examples())}")
    return found


def example_series(example_id: Any) -> dict[str, Any]:
    chosen = example(example_id)
    timestamps, values = bundled.load_series(chosen)
    return {"id": chosen.id, "name": chosen.name, "title": chosen.title, "timestamps": timestamps,
            "values": values, "windows": chosen.windows}


def _detectors(raw: Any, references: Sequence[str]) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(d, str) for d in raw):
        raise RunRefused("detectors", "choose at least one detector")
    allowed = [*OURS, *references]
    unknown = [d for d in raw if d not in allowed]
    if unknown:
        raise RunRefused("detectors", f"unknown detector {unknown[0]!r} here; one of {', '.join(allowed)}")
    return list(dict.fromkeys(raw))


def _windows(raw: Any, timestamps: Sequence[str], name: Optional[str], field: str) -> list[tuple[str, str]]:
    try:
        return series_csv.snapped_windows(raw, timestamps, name)
    except (series_csv.SeriesError, ValueError) as exc:
        raise RunRefused(field, str(exc)) from None


def request_example(example_id: Any, detectors: Any, windows: Any = None) -> dict:
    """Record a run on a bundled example; its label windows unless others are given."""
    chosen = example(example_id)
    chosen_detectors = _detectors(detectors, chosen.references)
    timestamps, values = bundled.load_series(chosen)
    spans = chosen.windows if windows is None else _windows(windows, timestamps, chosen.name, "windows")
    return _create(chosen.title, {"example": chosen.id, "detectors": chosen_detectors},
                   chosen.name, timestamps, values, spans)


def request_upload(data: bytes, filename: str, labels: Optional[bytes], windows: Any, detectors: Any,
                   limits: Limits) -> dict:
    """Validate an uploaded ``timestamp,value`` CSV and its labels whole, then record the run."""
    if len(data) > limits.max_upload_bytes:
        raise RunRefused("file", f"the file has {len(data):,} bytes; the limit is {limits.max_upload_bytes:,}")
    chosen_detectors = _detectors(detectors, [])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RunRefused("file", f"{filename} is not UTF-8 text") from None
    try:
        raw_stamps, values = series_csv.read_series(io.StringIO(text), filename)
        timestamps = series_csv.normalised_timestamps(raw_stamps, filename)
    except series_csv.SeriesError as exc:
        raise RunRefused("file", str(exc)) from None
    if not limits.min_rows <= len(values) <= limits.max_rows:
        raise RunRefused("file", f"{filename} has {len(values):,} rows; between {limits.min_rows:,} and "
                                 f"{limits.max_rows:,} can be evaluated")
    if any(b < a for a, b in zip(timestamps, timestamps[1:])):
        line = next(i for i, (a, b) in enumerate(zip(timestamps, timestamps[1:]), 3) if b < a)
        raise RunRefused("file", f"{filename}, line {line}: timestamps must not go back in time")
    spans: list = []
    if labels:
        try:
            parsed = json.loads(labels.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RunRefused("labels", f"the labels file is not JSON: {exc}") from None
        spans = _windows(parsed, timestamps, filename, "labels")
    if windows is not None:
        spans = sorted(set(spans) | set(_windows(windows, timestamps, filename, "windows")))
    return _create(filename, {"upload": filename, "detectors": chosen_detectors},
                   filename, timestamps, values, spans)


def _create(title: str, params: dict, name: str, timestamps: list, values: list, windows: list) -> dict:
    params = {**params, "name": name, "rows": len(values), "windows": [list(w) for w in windows]}
    job = analysis_jobs.create(KIND, title, params, {"timestamps": timestamps, "values": values},
                               total=len(params["detectors"]))
    return status(job.id)


def status(job_id: int) -> Optional[dict]:
    job = analysis_jobs.get(job_id, KIND)
    if job is None:
        return None
    out = analysis_jobs.as_dict(job)
    result = analysis_jobs.result(job_id) or {}
    params = out["params"]
    return {**out, "detectors": params["detectors"], "rows": params["rows"], "windows": params["windows"],
            "detector_errors": result.get("errors", {}), "seconds": result.get("seconds", {})}


def work(job_id: int, report) -> dict:
    """Run each detector in turn; store the scores of each as soon as it is done."""
    payload = analysis_jobs.payload(job_id)
    values = payload["values"]
    params = json.loads(analysis_jobs.get(job_id).params)
    result: dict[str, Any] = {"scores": {}, "errors": {}, "seconds": {}}
    for done, detector in enumerate(params["detectors"]):
        started = time.perf_counter()
        report(done, f"{detector}: running")
        try:
            if detector in OURS:
                options = {"seed": 0, "epochs": LSTM_EPOCHS}
                if detector == "lstm":
                    options["progress"] = lambda epoch, epochs, loss, done=done: report(
                        done + epoch / (epochs + 1), f"lstm: epoch {epoch}/{epochs}")
                scores = [round(score, 9) for score, _ in
                          score_series(values, detector, options, timestamps=payload["timestamps"])]
            else:
                scores = bundled.reference_scores(example(params["example"]), detector).tolist()
            result["scores"][detector] = scores
        except Exception as exc:  # one detector failing leaves the others' scores
            result["errors"][detector] = f"{type(exc).__name__}: {exc}"
        result["seconds"][detector] = time.perf_counter() - started
        analysis_jobs.update(job_id, result=result)
    return result


def series(job_id: int) -> Optional[dict]:
    """The series, its windows and the scores of the detectors done so far."""
    job = analysis_jobs.get(job_id, KIND)
    if job is None:
        return None
    params = json.loads(job.params)
    payload = analysis_jobs.payload(job_id)
    result = analysis_jobs.result(job_id) or {}
    return {"timestamps": payload["timestamps"], "values": payload["values"], "windows": params["windows"],
            "probationary_rows": int(probationary_length(params["rows"])), "scores": result.get("scores", {})}


def score(job_id: int, thresholds: Mapping[str, Any], windows: Any = None) -> Optional[dict]:
    """Every finished detector's NAB scores at the given thresholds (its default where none is given)."""
    job = analysis_jobs.get(job_id, KIND)
    if job is None:
        return None
    params = json.loads(job.params)
    payload = analysis_jobs.payload(job_id)
    timestamps = payload["timestamps"]
    spans = [tuple(w) for w in params["windows"]] if windows is None else \
        _windows(windows, timestamps, params["name"], "windows")
    scores = (analysis_jobs.result(job_id) or {}).get("scores", {})
    for detector, value in thresholds.items():
        if detector not in params["detectors"]:
            raise RunRefused("thresholds", f"{detector!r} is not one of this run's detectors")
        if value != "best" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                or not 0.0 <= value <= 1.0):
            raise RunRefused("thresholds", f"{detector}: a threshold is a number from 0 to 1, or \"best\"")
    out = {detector: score_one(timestamps, values, spans, thresholds.get(detector, default_threshold(detector)),
                               NAB_PROFILES) for detector, values in scores.items()}
    note = None if spans else "No label windows: draw or upload some to get NAB scores."
    return {"windows": [list(w) for w in spans], "probationary_rows": int(probationary_length(len(timestamps))),
            "detectors": out, "note": note}


def default_threshold(detector: str) -> float:
    """Ours: the threshold it uses live; a published one: its standard-profile best over the NAB dev corpus."""
    if detector in OURS:
        return OURS[detector]["default_threshold"]
    return bundled.reference_thresholds()[detector]["standard"]
