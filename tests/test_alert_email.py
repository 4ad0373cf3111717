"""Alerts end to end: the sampler's verdicts → state/alarm → outbox → a real SMTP server on 127.0.0.1."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from helpers.runtime.alerting.mailer import MailSender
from helpers.runtime.sampler import Sampler
from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator
from helpers.storage import line as line_store
from helpers.storage import scenarios as scenario_store
from helpers.storage import sessions as session_store
from helpers.storage.db import db
from helpers.storage.models import Alarm, Reading
from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler
from tests.smtp_server import Recording, Refusing, SmtpServer, text_of

T0 = 1_800_000_000.0


def alert_app(tmp_path, port, **overrides):
    config = {"SAMPLE_RATE_HZ": 1.0, "MODEL_SIZE": 20, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
              "ALERT_RECIPIENTS": "ops@example.com", "MAIL_TIMEOUT_S": 5.0}
    return make_app(tmp_path, **{**config, **overrides})


def inject(app, clock, sensor="vibration", seconds=12.0, magnitude=8.0):
    with app.app_context():
        started = session_store.current_session().started_at
        scenario_store.create_scenario(line_store.sensor_by_name(sensor), "level_shift", magnitude,
                                clock.now + 1 - started, seconds, clock.now)


def configure(client, **line):
    """Line-wide values, and vibration's own state thresholds; the line itself never leaves normal.

    The z-score's excursion alerts are off unless a test turns them on: each test here counts one rule's messages.
    """
    assert client.post("/send_control", json={"anomaly_list_size": 20, "high_usage_enter": 1.0,
                                              "high_usage_exit": 0.5, "alert_on_excursion": False,
                                              **line}).status_code == 200
    assert client.post("/send_control", json={"sensor": "vibration", "high_usage_enter": 0.10,
                                              "high_usage_exit": 0.05}).status_code == 200


@pytest.fixture
def smtp():
    server = SmtpServer(Recording()).start()
    yield server
    server.stop()


def test_a_state_change_sends_exactly_one_message_with_the_subject_and_numbers(tmp_path, smtp):
    app = alert_app(tmp_path, smtp.port)
    client = app.test_client()
    configure(client, alert_on_burst=False, high_usage_hold_s=5)
    clock = FakeClock(T0)
    sampler = started_sampler(app, clock)
    sender = MailSender(app, clock=clock)
    drive(app, sampler, clock, 30.0, tick=0.5)
    inject(app, clock)
    drive(app, sampler, clock, 14.0, tick=0.5)
    assert sender.step() == 1
    assert sender.step() == 0 and len(smtp.messages) == 1
    message = smtp.messages[0]
    with app.app_context():
        alarm = db.session.scalar(select(Alarm).where(Alarm.rule == "state"))
        entered = alarm.raised_at
    hhmm = time.strftime("%H:%M", time.localtime(entered))
    assert message["Subject"] == f"Linewatch: vibration entered HIGH USAGE at {hhmm}"
    body = text_of(message)
    assert "rose above 10.0%" in body and "ops@example.com" in message["To"]
    ratio = client.get("/api/alarms").get_json()["alarms"][0]["details"]["ratio"]
    assert f"{ratio:.1%}".replace("%", "") in body.replace(" %", "%").replace("%", "")
    assert f"/?sensor=vibration&at={entered:.0f}" in body or f"at={int(entered)}" in body
    # The fault ends; after the hold the closing message goes out, and nothing else.
    drive(app, sampler, clock, 60.0, tick=0.5)
    assert sender.step() == 1
    assert [m["Subject"].split(" at ")[0] for m in smtp.messages] == [
        "Linewatch: vibration entered HIGH USAGE", "Linewatch: vibration back to normal"]


def test_a_burst_inside_the_cooldown_sends_one_message(tmp_path, smtp):
    app = alert_app(tmp_path, smtp.port)
    client = app.test_client()
    # Bursts on vibration only: a chance burst on another sensor would be a message of its own.
    configure(client, alert_on_state=False, alert_on_burst=False, burst_count=3, burst_readings=10,
              alert_cooldown_s=600)
    # z > 5: the 8-std shifts stand out, while chance triples of |z| > 3 (a 20-reading model has heavy
    # tails) would be bursts of their own.
    client.post("/send_control", json={"sensor": "vibration", "alert_on_burst": True, "z_threshold": 5.0})
    clock = FakeClock(T0)
    sampler = started_sampler(app, clock)
    sender = MailSender(app, clock=clock)
    drive(app, sampler, clock, 30.0, tick=0.5)
    for _ in range(2):  # two incidents a minute apart
        inject(app, clock, seconds=6.0)
        drive(app, sampler, clock, 60.0, tick=0.5)
        sender.step()
    with app.app_context():
        alarms = db.session.scalars(select(Alarm).where(Alarm.sensor_id == line_store.sensor_by_name("vibration").id,
                                                        Alarm.rule == "burst").order_by(Alarm.id)).all()
        assert len(alarms) == 2 and [a.notify for a in alarms] == [True, False]
        assert "cooldown" in alarms[1].suppressed
    raises = [m for m in smtp.messages if "burst of" in m["Subject"]]
    assert len(raises) == 1 and "on vibration" in raises[0]["Subject"]
    assert len(smtp.messages) == 2  # the one incident's raise and its closing message


def test_an_excursion_sends_one_message_with_why_it_alarmed_and_one_when_it_ends(tmp_path, smtp):
    app = alert_app(tmp_path, smtp.port)
    client = app.test_client()
    # Vibration's excursions only, |z| > 5: a chance |z| > 3 on a 20-reading model would be an excursion of its own.
    configure(client, alert_on_state=False, alert_on_burst=False)
    client.post("/send_control", json={"sensor": "vibration", "alert_on_excursion": True, "z_threshold": 5.0})
    clock = FakeClock(T0)
    sampler = started_sampler(app, clock)
    sender = MailSender(app, clock=clock)
    drive(app, sampler, clock, 30.0, tick=0.5)
    inject(app, clock, seconds=12.0)
    drive(app, sampler, clock, 6.0, tick=0.5)
    assert sender.step() == 1
    message = smtp.messages[0]
    assert message["Subject"].startswith("Linewatch: z-score alarm on vibration at ")
    body = text_of(message)
    # An 8-std shift goes beyond anything the sensor has shown: a new extreme, even while the alarm learns it.
    assert "|z| " in body and "beyond 5: a new extreme" in body
    # Twelve readings out of band are one excursion: no second message until it ends, then one.
    drive(app, sampler, clock, 5.0, tick=0.5)
    assert sender.step() == 0
    drive(app, sampler, clock, 10.0, tick=0.5)
    assert sender.step() == 1
    assert smtp.messages[1]["Subject"].startswith("Linewatch: excursion on vibration ended at ")
    with app.app_context():
        raised = db.session.scalars(select(Alarm).where(Alarm.rule == "excursion")).all()
        first_alarm = db.session.scalar(select(func.min(Reading.t)).where(Reading.z_alarm.is_(True),
                                                                         Reading.sensor_id == raised[0].sensor_id))
    assert len(raised) == 1 and raised[0].raised_at == first_alarm and raised[0].status == "cleared"
    assert len(smtp.messages) == 2


def test_the_server_down_at_first_still_gets_the_message_when_it_is_back(tmp_path):
    server = SmtpServer(Recording())  # port reserved, not listening yet
    app = alert_app(tmp_path, server.port)
    configure(app.test_client(), alert_on_burst=False, high_usage_hold_s=5)
    clock = FakeClock(T0)
    sampler = started_sampler(app, clock)
    sender = MailSender(app, clock=clock)
    drive(app, sampler, clock, 30.0, tick=0.5)
    inject(app, clock)
    drive(app, sampler, clock, 14.0, tick=0.5)
    assert sender.step() == 0
    status = app.test_client().get("/api/mail").get_json()["outbox"]
    assert status["queued"] == 1 and status["last_error"]
    server.start()
    try:
        clock.advance(3600)
        assert sender.step() == 1 and sender.step() == 0
        assert len(server.messages) == 1 and "entered HIGH USAGE" in server.messages[0]["Subject"]
    finally:
        server.stop()


class SlowRefusing(Refusing):
    """Refuses, slowly: a sender that blocked the sampler would cost it seconds of readings."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio
        await asyncio.sleep(1.0)
        return self.REPLY


def test_a_refusing_server_shows_its_error_and_the_sampler_keeps_its_rate(tmp_path):
    server = SmtpServer(SlowRefusing()).start()
    try:
        app = alert_app(tmp_path, server.port, SAMPLE_RATE_HZ=20.0, MAIL_RETRY_BASE_S=0.5)
        client = app.test_client()
        configure(client, burst_count=1, burst_readings=1, burst_clear_count=0, alert_cooldown_s=0,
                  model_size=5, z_threshold=0.5)  # nearly every reading raises or clears an alarm
        sampler = Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=1))
        sender = MailSender(app, poll_s=0.1)
        stop = threading.Event()
        threads = [threading.Thread(target=sampler.run, args=(stop,), daemon=True),
                   threading.Thread(target=sender.run, args=(stop,), daemon=True)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)  # the sampler takes the lease and learns
        with app.app_context():
            before = db.session.scalar(select(func.count()).select_from(Reading))
        started = time.monotonic()
        time.sleep(5.0)
        with app.app_context():
            after = db.session.scalar(select(func.count()).select_from(Reading))
        elapsed = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        expected = 4 * 20.0 * elapsed
        # Within the flush interval of the full rate: sending (each refusal takes a second) never held it up.
        assert after - before >= 0.85 * expected, (after - before, expected)
        mail = client.get("/api/mail").get_json()
        assert "550" in (mail["outbox"]["last_error"] or "") and mail["outbox"]["sent"] == 0
        assert mail["outbox"]["queued"] + mail["outbox"]["failed"] > 0
    finally:
        server.stop()
