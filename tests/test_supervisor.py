"""The sampler's supervisor: a dead sampler thread is noticed, recorded, restarted with backoff; /healthz tells."""
from __future__ import annotations

import signal
import threading
import time

import pytest
from sqlalchemy import func, select

from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator
from helpers.runtime.sampler import Sampler
from helpers.runtime.supervisor import Backoff, Supervisor
from helpers.storage import lease, sampler_health
from helpers.storage.db import db
from helpers.storage.models import Reading
from tests.conftest import make_app


class Boom(BaseException):
    """Not an Exception: it escapes the sampler loop's per-step ``except Exception`` and ends the thread."""


def test_backoff_doubles_from_one_second_to_a_minute_and_resets_after_a_healthy_run():
    backoff = Backoff(base=1.0, cap=60.0, healthy_after=300.0)
    assert [backoff.after_crash(ran_s=0.5) for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff.after_crash(ran_s=299.0) == 60
    assert backoff.after_crash(ran_s=300.0) == 1  # it had run healthy: the next crash starts over
    assert backoff.after_crash(ran_s=1.0) == 2


def _readings(app) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(Reading))
        finally:
            db.session.remove()


def _wait_for(condition, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def fast_app(tmp_path):
    return make_app(tmp_path, SAMPLE_RATE_HZ=10.0, MODEL_SIZE=20, SAMPLER_FLUSH_SECONDS=0.1)


def test_a_sampler_thread_that_dies_is_restarted_with_backoff_and_healthz_shows_the_crash(fast_app):
    app, client = fast_app, fast_app.test_client()
    crashes_left = [3]
    owner = "test-host:1:supervised"

    def make_sampler():
        # A real sampler; its first three lives die in start() (the lease taken, then a bug).
        sampler = Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=1), owner=owner)
        if crashes_left[0] > 0:
            crashes_left[0] -= 1

            def broken_start():
                raise Boom("the model files vanished")
            sampler.start = broken_start
        return sampler

    seen_while_down = []

    def wait(stop, seconds):
        # Instead of sleeping the backoff: look at /healthz while the sampler is down, then restart at once.
        seen_while_down.append(client.get("/healthz"))
        return stop.is_set()

    stop = threading.Event()
    supervisor = Supervisor(app, make_sampler, stop, wait=wait)
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    try:
        assert _wait_for(lambda: _readings(app) >= 20), "readings did not resume after the restarts"
        assert supervisor.restarts == 3
        assert supervisor.delays == [1.0, 2.0, 4.0]
        assert supervisor.worker.is_alive()
        for n, down in enumerate(seen_while_down, 1):
            body = down.get_json()
            assert down.status_code == 503
            assert body["status"] == "degraded" and body["error"] == "sampler_restarting"
            assert body["sampler_restarts"] == n
            assert "Boom: the model files vanished" in body["last_crash"]["error"]
            assert body["last_crash"]["restarted_at"] is None
        ok = client.get("/healthz")
        body = ok.get_json()
        assert ok.status_code == 200 and body["status"] == "ok"
        assert body["sampler_restarts"] == 3
        assert body["last_crash"]["error"] == "Boom: the model files vanished"
        assert body["last_crash"]["restarted_at"] >= body["last_crash"]["at"]
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_sampler_loop_that_returns_unasked_counts_as_a_crash(fast_app):
    app = fast_app
    runs = []

    class Quitter:
        owner = "quitter"

        class sources:  # noqa: N801 - the attribute the supervisor cleans up
            @staticmethod
            def stop():
                runs.append("sources stopped")

        def run(self, stop):
            runs.append("ran")

    stop = threading.Event()
    delays = []

    def wait(stop_event, seconds):
        delays.append(seconds)
        if len(delays) == 4:
            stop_event.set()
        return stop_event.is_set()

    Supervisor(app, Quitter, stop, wait=wait, clock=lambda: 0.0).run()
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert runs.count("ran") == 4 and runs.count("sources stopped") == 4
    with app.app_context():
        health = sampler_health.summary(time.time(), 10.0)
    assert health["sampler_restarts"] == 4
    assert health["last_crash"]["error"] == "the sampler loop returned without being stopped"


def test_a_sampler_whose_every_step_fails_is_degraded_until_a_step_succeeds(fast_app):
    app, client = fast_app, fast_app.test_client()
    sampler = Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=1), owner="failing")
    broken = [True]
    real_step = sampler.step

    def step():
        if broken[0]:
            raise RuntimeError("database is locked")
        return real_step()
    sampler.step = step
    stop = threading.Event()
    thread = threading.Thread(target=sampler.run, args=(stop,), daemon=True)
    thread.start()
    try:
        # It still beats (the lease is fresh), yet stores nothing: that must not read as healthy.
        assert _wait_for(lambda: client.get("/healthz").get_json()["step_failures"] >= 3)
        failing = client.get("/healthz")
        body = failing.get_json()
        assert failing.status_code == 503 and body["status"] == "degraded"
        assert body["error"] == "sampler_failing" and "RuntimeError: database is locked" in body["message"]
        broken[0] = False
        assert _wait_for(lambda: client.get("/healthz").status_code == 200)
        assert client.get("/healthz").get_json()["step_failures"] == 0
    finally:
        stop.set()
        thread.join(10)


def test_a_new_lease_holder_does_not_inherit_the_last_ones_failed_steps(app):
    with app.app_context():
        now = time.time()
        assert lease.try_acquire("first", now, 10.0)
        sampler_health.step_failed("first", 5, RuntimeError("x"), now)
        assert sampler_health.summary(now, 10.0)["failing"]
        assert lease.try_acquire("first", now + 1, 10.0)  # renewing keeps them
        assert sampler_health.summary(now, 10.0)["step_failures"] == 5
        assert lease.try_acquire("second", now + 30, 10.0)  # a takeover clears them
        assert sampler_health.summary(now, 10.0)["step_failures"] == 0


def test_a_crash_whose_process_died_before_restarting_stops_counting_as_restarting(app, client):
    with app.app_context():
        now = time.time()
        sampler_health.record_crash("gone", now - 100, "Boom", 5.0)  # restart was due 95 s ago, never marked
        assert lease.try_acquire("other", now, 10.0)
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["sampler_restarts"] == 1
    with app.app_context():
        sampler_health.record_crash("here", time.time(), "Boom again", 30.0)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "degraded"


def test_the_foreground_flask_sampler_is_supervised_too(app, monkeypatch):
    """`flask sampler` (a sampler outside the web workers) restarts a dead sampler thread and records the crash."""
    runs = []

    def run(self, stop):
        runs.append(self.owner)
        if len(runs) == 1:
            raise Boom("a bug in the loop")  # the first sampler thread dies
        stop.set()  # the restarted one is asked to stop, as SIGTERM would

    monkeypatch.setattr(Sampler, "run", run)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        result = app.test_cli_runner().invoke(args=["sampler"])
    finally:
        signal.signal(signal.SIGTERM, previous)  # the command sets its own handler: pytest's comes back
    assert result.exit_code == 0, result.output
    assert len(runs) == 2 and runs[0] == runs[1]  # restarted after its backoff, under the same lease owner
    with app.app_context():
        health = sampler_health.summary(time.time(), 60.0)
    assert health["sampler_restarts"] == 1 and health["last_crash"]["error"] == "Boom: a bug in the loop"
    assert health["last_crash"]["restarted_at"] is not None
