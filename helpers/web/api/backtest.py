"""Backtest routes: start a re-run of a sensor's detector with other settings over its history; follow it."""
from __future__ import annotations

from flask import current_app

from helpers.runtime.jobs import backtest, runner as jobs
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import json_object


@bp.post("/api/backtest", endpoint="start_backtest")
def start_backtest():
    app = current_app._get_current_object()
    try:
        started = backtest.request_backtest(app, json_object())
    except backtest.BacktestRefused as exc:
        raise ApiError(exc.status, str(exc), exc.field) from None
    jobs.start(app, started["id"], backtest.work_for(app))
    return started, 202, {"Location": f"/api/backtest/{started['id']}"}


@bp.get("/api/backtest/<int:job_id>", endpoint="backtest_job")
def backtest_job(job_id: int):
    found = backtest.status(job_id)
    if found is None:
        raise ApiError(404, f"no backtest {job_id}", "id")
    return found
