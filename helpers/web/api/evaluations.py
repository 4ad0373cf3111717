"""Evaluate-page routes: the bundled examples, start a run (example or upload), follow it, score it."""
from __future__ import annotations

import json

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from helpers.runtime.jobs import evaluation_runs as runs
from helpers.runtime.jobs import runner as jobs
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import json_object

# Room for the labels file and the form's own bytes on top of the CSV's limit.
FORM_OVERHEAD_BYTES = 256 * 1024


def _limits() -> runs.Limits:
    config = current_app.config
    return runs.Limits(config["EVALUATE_MAX_UPLOAD_BYTES"], config["EVALUATE_MAX_ROWS"], config["EVALUATE_MIN_ROWS"])


def _refused(exc: runs.RunRefused) -> ApiError:
    return ApiError(400, str(exc), exc.field)


@bp.get("/api/evaluate/examples", endpoint="evaluate_examples")
def evaluate_examples():
    return runs.catalogue(_limits())


@bp.get("/api/evaluate/examples/<example_id>", endpoint="evaluate_example")
def evaluate_example(example_id: str):
    try:
        return runs.example_series(example_id)
    except runs.RunRefused as exc:
        raise ApiError(404, str(exc), exc.field) from None


@bp.post("/api/evaluations", endpoint="start_evaluation")
def start_evaluation():
    limits = _limits()
    try:
        if request.mimetype == "multipart/form-data":
            started = _from_upload(limits)
        elif request.mimetype == "application/json":
            body = json_object()
            started = runs.request_example(body.get("example"), body.get("detectors"), body.get("windows"))
        else:
            raise ApiError(415, "send JSON (a bundled example) or multipart/form-data (an upload)", "body")
    except runs.RunRefused as exc:
        raise _refused(exc) from None
    jobs.start(current_app._get_current_object(), started["id"], runs.work)
    return started, 202, {"Location": f"/api/evaluations/{started['id']}"}


def _from_upload(limits: runs.Limits) -> dict:
    request.max_content_length = limits.max_upload_bytes + FORM_OVERHEAD_BYTES  # 413 before reading more
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        raise ApiError(413, f"the upload is over the {limits.max_upload_bytes / 2**20:g} MiB limit", "file") from None
    if upload is None or not upload.filename:
        raise ApiError(400, "choose a CSV file (timestamp,value) to upload", "file")
    labels = request.files.get("labels")
    windows = request.form.get("windows")
    if windows:
        try:
            windows = json.loads(windows)
        except ValueError as exc:
            raise ApiError(400, f"windows is not JSON: {exc}", "windows") from None
    detectors = [d for raw in request.form.getlist("detectors") for d in raw.split(",") if d.strip()]
    return runs.request_upload(upload.read(limits.max_upload_bytes + 1), upload.filename,
                               labels.read() if labels and labels.filename else None, windows or None,
                               [d.strip() for d in detectors], limits)


@bp.get("/api/evaluations/<int:run_id>", endpoint="evaluation")
def evaluation(run_id: int):
    return _found(runs.status(run_id), run_id)


@bp.get("/api/evaluations/<int:run_id>/series", endpoint="evaluation_series")
def evaluation_series(run_id: int):
    return _found(runs.series(run_id), run_id)


@bp.post("/api/evaluations/<int:run_id>/score", endpoint="evaluation_score")
def evaluation_score(run_id: int):
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", "body")
    thresholds = body.get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise ApiError(400, "thresholds must map detector names to numbers or \"best\"", "thresholds")
    try:
        return _found(runs.score(run_id, thresholds, body.get("windows")), run_id)
    except runs.RunRefused as exc:
        raise _refused(exc) from None


def _found(body, run_id: int):
    if body is None:
        raise ApiError(404, f"no evaluation run {run_id}", "id")
    return body
