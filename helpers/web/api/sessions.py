"""Session routes: the classroom session, its scorecard, export as CSV and replay."""
from __future__ import annotations

import io
import time

from flask import Response, request, stream_with_context

from helpers.core.evaluation.scorecard import DEFAULT_GRACE_S, Event, score
from helpers.core.formats.session_file import SessionFileError, parse_replay, to_csv_lines
from helpers.storage import alarms
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import sessions as session_store
from helpers.storage import settings as settings_store
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import int_arg, json_object

MAX_REPLAY_BYTES = 200 * 1024 * 1024


def _session_from_args():
    session_id = int_arg("session", None, 1, 2**31 - 1)
    session = session_store.current_session() if session_id is None else session_store.session_by_id(session_id)
    if session is None:
        raise ApiError(404, f"unknown session {session_id}", "session")
    return session


@bp.get("/api/session", endpoint="session")
def get_session():
    return session_store.session_dict(session_store.current_session())


@bp.post("/api/session", endpoint="new_session")
def new_session():
    body = json_object()
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31):
        raise ApiError(400, "seed must be a whole number from 0 to 2147483647, or null for a random one", "seed")
    return session_store.session_dict(session_store.start_session(seed, time.time())), 201


@bp.get("/api/scorecard", endpoint="scorecard")
def scorecard():
    session = _session_from_args()
    end = session_store.session_end(session)
    names = {s.id: s.name for s in line_store.all_sensors()}
    events = [Event(s.id, name, s.kind, s.starts_at, s.ends_at) for s, name in session_store.session_scenarios(session.id)]
    now = time.time() if end is None else end + DEFAULT_GRACE_S
    line, overrides = settings_store.load_settings()
    lstm_on = any(settings_store.effective(line, overrides, name)["lstm_enabled"] for name in names.values())
    detectors = {}
    for detector in ("zscore", "lstm"):
        flags = {names[sid]: times for sid, times
                 in reading_store.session_anomaly_times(session.started_at, end, detector).items()}
        # The LSTM gets a card while it is on for some sensor, or once it has flagged something.
        if detector == "zscore" or flags or lstm_on:
            detectors[detector] = score(events, flags, now, DEFAULT_GRACE_S)
    # Operators' marks on the session's alarms: the ground truth a real line has (no injected scenarios there).
    return {"session": session_store.session_dict(session), "grace_s": DEFAULT_GRACE_S, "detectors": detectors,
            "operator_marks": alarms.operator_marks(session.started_at, end)}


@bp.get("/api/session/export.csv", endpoint="export_session")
def export_session():
    session = _session_from_args()
    lines = to_csv_lines(session_store.export_rows(session))
    return Response(stream_with_context(lines), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="linewatch-session-{session.id}.csv"'})


@bp.post("/api/session/replay", endpoint="replay_session")
def replay_session():
    upload = request.files.get("file")
    if upload is None:
        if request.mimetype != "text/csv":
            raise ApiError(400, "send the exported CSV as a form field 'file' or as a text/csv body", "file")
        raw = request.get_data()
    else:
        raw = upload.read(MAX_REPLAY_BYTES + 1)
    if len(raw) > MAX_REPLAY_BYTES:
        raise ApiError(413, "the session file is larger than 200 MiB", "file")
    try:
        plan = parse_replay(io.StringIO(raw.decode("utf-8-sig")))
        session, count = session_store.replay(plan, time.time())
    except UnicodeDecodeError:
        raise ApiError(400, "the file is not UTF-8 text", "file") from None
    except SessionFileError as exc:
        raise ApiError(400, str(exc), "file") from None
    return {"session": session_store.session_dict(session), "scenarios": count}, 201
