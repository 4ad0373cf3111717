"""Source routes: each pull source's settings and health, a connection test, and the replay's file upload.

Which source feeds the line is the ``source`` setting (``POST /send_control``).
"""
from __future__ import annotations

import threading
import time

from flask import current_app, request

from helpers.core.formats import series_csv
from helpers.runtime.sources import KINDS
from helpers.runtime.sources.base import ConfigError
from helpers.storage import ingest_queue
from helpers.storage import settings as settings_store
from helpers.storage import source_configs as configs
from helpers.web.api import bp
from helpers.web.errors import ApiError, error_response
from helpers.web.params import json_object

TEST_TIMEOUT_S = 15.0


def _kind(kind: str):
    cls = KINDS.get(kind)
    if cls is None:
        raise ApiError(404, f"no pull source {kind!r}; one of {', '.join(KINDS)}", "kind")
    return cls


def _entry(cls) -> dict:
    return {"kind": cls.kind, "label": cls.label,
            "fields": {name: {"type": kind.__name__, "default": default, "help": help_,
                              "secret": name in cls.secrets}
                       for name, (kind, default, help_) in cls.fields.items()},
            "config": cls.public(configs.config(cls.kind) or cls.validate({}, {})),
            "status": configs.status(cls.kind),
            **({"file": configs.payload_info(cls.kind)} if cls.needs_payload else {})}


@bp.get("/api/sources", endpoint="sources")
def sources():
    line, _ = settings_store.load_settings()
    backlog, oldest = ingest_queue.backlog()
    return {"active": line["source"], "pull": [_entry(cls) for cls in KINDS.values()],
            "queue": {"readings": backlog, "oldest_at": oldest}}


@bp.put("/api/sources/<kind>", endpoint="configure_source")
def configure_source(kind: str):
    cls = _kind(kind)
    try:
        values = cls.validate(json_object(), configs.config(kind))
    except ConfigError as exc:
        raise ApiError(400, str(exc), exc.field) from None
    configs.save_config(kind, values)
    return _entry(cls)


@bp.post("/api/sources/<kind>/test", endpoint="test_source")
def test_source(kind: str):
    """Try the source once with the saved settings (or those in the body), without storing anything."""
    cls = _kind(kind)
    body = request.get_json(silent=True) if request.content_length else None
    try:
        config = cls.validate(body, configs.config(kind)) if body else (configs.config(kind) or cls.validate({}, {}))
    except ConfigError as exc:
        raise ApiError(400, str(exc), exc.field) from None
    source = cls(config, time.time, configs.payload(kind) if cls.needs_payload else None)
    outcome: dict = {}

    def attempt():
        try:
            outcome["message"] = source.test()
        except Exception as exc:  # shown to the person who pressed the button
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            source.close()

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(TEST_TIMEOUT_S)
    if worker.is_alive():
        return error_response(504, "source_timeout", f"no answer within {TEST_TIMEOUT_S:g} s")
    if "error" in outcome:
        return error_response(502, "source_error", outcome["error"])
    return {"ok": True, "message": outcome["message"]}


@bp.post("/api/sources/csv_replay/file", endpoint="replay_file")
def replay_file():
    limit = current_app.config["REPLAY_MAX_UPLOAD_BYTES"]
    request.max_content_length = limit + 64 * 1024
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "choose a CSV file (timestamp,value or timestamp and one column per sensor)", "file")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"the file is over the {limit:,}-byte limit", "file")
    try:
        times, columns = series_csv.read_columns(data.decode("utf-8-sig"), upload.filename)
    except UnicodeDecodeError:
        raise ApiError(400, f"{upload.filename} is not UTF-8 text", "file") from None
    except series_csv.SeriesError as exc:
        raise ApiError(400, str(exc), "file") from None
    info = {"name": upload.filename, "rows": len(times), "columns": list(columns), "span_s": times[-1] - times[0]}
    configs.save_payload("csv_replay", {"name": upload.filename, "times": times, "columns": columns},
                         {**info, "uploaded_at": time.time()})
    return info, 201
