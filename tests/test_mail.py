"""E-mail alerts against a real SMTP server on 127.0.0.1: composing, the outbox, the sender, the routes."""
from __future__ import annotations

import socket
import threading
import time
from datetime import timezone

import os

import pytest

from helpers.core.alerts.message import compose, parse_addresses, thin
from helpers.runtime.alerting import compose as alert_mail
from helpers.runtime import service
from helpers.runtime.alerting.mailer import MailSender
from helpers.storage import outbox
from helpers.storage.db import db
from helpers.storage.models import Alarm, OutboxMessage
from tests.conftest import make_app
from tests.smtp_server import Recording, Refusing, SmtpServer, text_of

T0 = 1_800_000_000.0
RECIPIENTS = "ops@example.com, shift@example.com"


def mail_app(tmp_path, port, **overrides):
    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "ALERT_RECIPIENTS": RECIPIENTS,
              "MAIL_AUTOSTART": False, "MAIL_TIMEOUT_S": 5.0}
    config.update(overrides)
    return make_app(tmp_path, **config)


def event(**changes):
    base = {"alarm_id": None, "kind": "raise", "rule": "state", "target": "vibration", "label": "Vibration",
            "unit": "mm/s", "t": T0, "reason": "anomaly ratio 12.0 % rose above 10.0 %",
            "numbers": {"value": 4.1, "z": 5.2, "ratio": 0.12, "threshold": 0.1, "count": 6,
                        "window": "20 readings"}}
    base.update(changes)
    return base


def recent(n=300, anomalies=(150, 299)):
    return [{"t": T0 - n + 1 + i, "value": 2.0 + i / 100, "z": 5.0 if i in anomalies else 0.5,
             "anomaly": i in anomalies} for i in range(n)]


def queue(app, now=T0, **changes):
    """An alarm and its e-mail, committed together as the sampler does; the outbox id (None: nothing queued)."""
    with app.app_context():
        alarm = Alarm(rule=changes.get("rule", "state"), status="active", raised_at=now, reason="test",
                      details="{}")
        db.session.add(alarm)
        db.session.flush()
        message = alert_mail.enqueue_alarm(app.config, event(alarm_id=alarm.id, **changes), recent(), now)
        db.session.commit()
        return None if message is None else message.id


def row(app, message_id):
    with app.app_context():
        m = db.session.get(OutboxMessage, message_id)
        return {c: getattr(m, c) for c in ("status", "attempts", "next_attempt_at", "last_error", "last_error_at",
                                           "sent_at", "claimed_by", "claimed_until", "created_at")}


def local_hhmm(t):
    return time.strftime("%H:%M", time.localtime(t))


@pytest.fixture
def smtp():
    server = SmtpServer(Recording()).start()
    try:
        yield server
    finally:
        server.stop()


# --- composing (pure) ------------------------------------------------------

@pytest.mark.parametrize("kind, rule, subject", [
    ("raise", "state", "Linewatch: vibration entered HIGH USAGE at 14:03"),
    ("clear", "state", "Linewatch: vibration back to normal at 14:03"),
    ("raise", "burst", "Linewatch: burst of 6 anomalies on vibration at 14:03"),
    ("clear", "burst", "Linewatch: burst on vibration cleared at 14:03"),
])
def test_subjects_say_what_happened_and_when(kind, rule, subject):
    t = 1_767_276_180.0  # 2026-01-01 14:03:00 UTC
    assert compose(event(kind=kind, rule=rule, t=t), [], "http://x", timezone.utc).subject == subject


def test_the_line_is_called_the_line():
    message = compose(event(target="line", label="the line", unit=""), [], "http://x", timezone.utc)
    assert message.subject.startswith("Linewatch: the line entered HIGH USAGE at ")
    assert message.body.startswith("The line entered HIGH USAGE at ")
    assert "http://x/?sensor=line&at=1800000000" in message.body


def test_the_table_is_thinned_to_fifteen_rows_keeping_every_anomaly():
    rows = recent(300, anomalies=(10, 150, 200, 298))
    shown = thin(rows)
    assert len(shown) == 15
    assert [r["t"] for r in shown] == sorted(r["t"] for r in shown)
    assert {r["t"] for r in rows if r["anomaly"]} <= {r["t"] for r in shown}
    assert shown[-1] is rows[-1]
    many = recent(300, anomalies=range(0, 300, 3))
    assert len(thin(many)) == 15 and all(r["anomaly"] for r in thin(many))


def test_a_message_that_cannot_be_formatted_still_composes_with_what_it_has():
    message = compose({"kind": "raise", "rule": "state", "target": "vibration", "t": T0,
                       "numbers": {"value": "n/a", "z": None}}, [{"t": T0, "value": None}], "http://x")
    assert "vibration" in message.subject and "n/a" in message.body


def test_addresses_are_checked():
    assert parse_addresses("a@b, c@d.example ,a@b") == ["a@b", "c@d.example"]
    for bad in ("a", "a@", "@b", "a b@c", "a@b@c", ["a@b", 3]):
        with pytest.raises(ValueError):
            parse_addresses(bad)


def test_a_malformed_recipient_stops_the_start(tmp_path):
    with pytest.raises(SystemExit, match="ALERT_RECIPIENTS"):
        make_app(tmp_path, ALERT_RECIPIENTS="ops@example.com, not an address")


# --- the outbox --------------------------------------------------------------

def test_enqueue_without_recipients_queues_nothing(tmp_path):
    app = make_app(tmp_path, MAIL_AUTOSTART=False)
    assert queue(app) is None
    with app.app_context():
        assert outbox.counts() == {"queued": 0, "sent": 0, "failed": 0}
    body = app.test_client().get("/api/mail").get_json()
    assert body["configured"] is False and body["recipients"] == []
    assert body["outbox"]["queued"] == 0


def test_enqueue_only_adds_to_the_callers_transaction(tmp_path):
    app = mail_app(tmp_path, 25)
    with app.app_context():
        message = alert_mail.enqueue_alarm(app.config, event(), recent(), T0)
        assert message is not None and message.status == "queued"
        db.session.rollback()  # the sampler's step failed: neither alarm nor e-mail is stored
        assert outbox.counts()["queued"] == 0


def test_a_queued_alarm_message_is_delivered_with_subject_numbers_table_and_link(tmp_path, smtp):
    app = mail_app(tmp_path, smtp.port)
    message_id = queue(app)
    assert MailSender(app).step(T0) == 1

    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received["Subject"] == f"Linewatch: vibration entered HIGH USAGE at {local_hhmm(T0)}"
    assert sorted(smtp.handler.envelopes[0][1]) == ["ops@example.com", "shift@example.com"]
    assert smtp.handler.envelopes[0][0] == "linewatch@localhost"
    text = text_of(received)
    for expected in ("Why: anomaly ratio 12.0 % rose above 10.0 %", "4.10 mm/s", "z-score        5.20",
                     "anomaly ratio  12.0 %", "threshold      0.1", "anomalies      6", "20 readings",
                     "15 of the last 300 readings", "anomaly",
                     "http://127.0.0.1:5000/?sensor=vibration&at=1800000000"):
        assert expected in text, expected
    table = [line for line in text.splitlines() if line.startswith("  ") and line.strip()[:2].isdigit()]
    assert len(table) == 15 and sum(line.endswith("anomaly") for line in table) == 2
    assert received.get_body(preferencelist=("html",)) is not None

    stored = row(app, message_id)
    assert stored["status"] == "sent" and stored["sent_at"] == T0 and stored["attempts"] == 1
    assert stored["claimed_by"] is None
    assert MailSender(app).step(T0 + 60) == 0 and len(smtp.messages) == 1


def test_server_down_at_first_then_back_delivers_exactly_once(tmp_path):
    server = SmtpServer(Recording())  # not listening yet: connection refused
    app = mail_app(tmp_path, server.port, MAIL_RETRY_BASE_S=30.0)
    message_id = queue(app)
    sender = MailSender(app)
    try:
        assert sender.step(T0) == 0
        stored = row(app, message_id)
        assert stored["status"] == "queued" and stored["attempts"] == 1
        assert "Connection refused" in stored["last_error"] and stored["last_error_at"] == T0
        assert stored["next_attempt_at"] == T0 + 30
        status = app.test_client().get("/api/mail").get_json()["outbox"]
        assert status["queued"] == 1 and status["oldest_queued_at"] == T0 and "refused" in status["last_error"]

        server.start()
        assert sender.step(T0 + 10) == 0 and server.messages == []  # not due yet
        assert sender.step(T0 + 30) == 1
        assert sender.step(T0 + 31) == 0 and sender.step(T0 + 3600) == 0
        assert len(server.messages) == 1
        stored = row(app, message_id)
        assert stored["status"] == "sent" and stored["attempts"] == 2 and stored["sent_at"] == T0 + 30
        status = app.test_client().get("/api/mail").get_json()["outbox"]
        assert status["queued"] == 0 and status["sent"] == 1 and status["last_sent_at"] == T0 + 30
    finally:
        server.stop()


def test_a_refusing_server_is_retried_with_backoff_then_given_up(tmp_path):
    server = SmtpServer(Refusing()).start()
    app = mail_app(tmp_path, server.port, MAIL_RETRY_BASE_S=30.0, MAIL_RETRY_MAX_S=900.0, MAIL_GIVE_UP_HOURS=24.0)
    message_id = queue(app)
    sender = MailSender(app)
    try:
        now, delays = T0, []
        for attempt in range(1, 9):
            assert sender.step(now) == 0
            stored = row(app, message_id)
            assert stored["status"] == "queued" and stored["attempts"] == attempt
            assert stored["last_error"].startswith("550 5.1.1 mailbox unavailable")
            delays.append(stored["next_attempt_at"] - now)
            assert sender.step(stored["next_attempt_at"] - 1) == 0  # nothing before it is due
            assert row(app, message_id)["attempts"] == attempt
            now = stored["next_attempt_at"]
        assert delays == [30, 60, 120, 240, 480, 900, 900, 900]

        body = app.test_client().get("/api/mail").get_json()["outbox"]
        assert body["last_error"].startswith("550 5.1.1") and body["last_error_at"] == now - 900
        assert body["queued"] == 1 and body["failed"] == 0

        deadline = T0 + 24 * 3600
        sender.step(deadline - 1)
        sender.step(deadline)
        stored = row(app, message_id)
        assert stored["status"] == "failed" and stored["last_error"].startswith("550")
        attempts = stored["attempts"]
        assert sender.step(deadline + 3600) == 0 and row(app, message_id)["attempts"] == attempts
        body = app.test_client().get("/api/mail").get_json()["outbox"]
        assert body["failed"] == 1 and body["queued"] == 0 and body["oldest_queued_at"] is None
        assert server.messages == []
    finally:
        server.stop()


def test_a_message_never_tried_within_the_give_up_time_is_failed_unsent(tmp_path, smtp):
    app = mail_app(tmp_path, smtp.port, MAIL_GIVE_UP_HOURS=1.0)
    message_id = queue(app)
    assert MailSender(app).step(T0 + 3600) == 0  # e.g. the app was down all that time
    stored = row(app, message_id)
    assert stored["status"] == "failed" and stored["last_error"] == "not sent within 1 h"
    assert smtp.messages == []


def test_a_silent_server_times_out_instead_of_hanging(tmp_path):
    with socket.socket() as listener:  # accepts the connection, never says hello
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        app = mail_app(tmp_path, listener.getsockname()[1], MAIL_TIMEOUT_S=0.5)
        message_id = queue(app)
        started = time.monotonic()
        assert MailSender(app).step(T0) == 0
        assert time.monotonic() - started < 5
    stored = row(app, message_id)
    assert stored["status"] == "queued" and "timed out" in stored["last_error"]


def _two_senders_deliver_each_message_once(tmp_path, **overrides):
    server = SmtpServer(Recording(delay=0.01)).start()
    app = mail_app(tmp_path, server.port, **overrides)
    ids = [queue(app, t=T0 + i) for i in range(25)]
    senders = [MailSender(app, owner="worker-a"), MailSender(app, owner="worker-b")]
    barrier = threading.Barrier(2)
    counts = [0, 0]

    def work(i):
        barrier.wait()
        for k in range(3):
            counts[i] += senders[i].step(T0 + k)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sum(counts) == 25, counts
        message_ids = [m["Message-ID"] for m in server.messages]
        assert len(message_ids) == 25 and len(set(message_ids)) == 25
        assert all(row(app, i)["status"] == "sent" and row(app, i)["attempts"] == 1 for i in ids)
    finally:
        server.stop()


def test_two_senders_stepping_at_once_deliver_each_message_once(tmp_path):
    _two_senders_deliver_each_message_once(tmp_path)


def test_two_senders_on_postgresql_deliver_each_message_once(tmp_path, postgres_url):
    _two_senders_deliver_each_message_once(tmp_path, DATABASE_URL=postgres_url)


def test_a_claim_held_by_a_live_sender_is_left_alone_and_a_dead_ones_expires(tmp_path, smtp):
    app = mail_app(tmp_path, smtp.port)
    message_id = queue(app)
    with app.app_context():
        claimed = outbox.claim_due("crashed-worker", T0, hold_s=60.0, limit=10)
    assert [m.id for m in claimed] == [message_id]
    sender = MailSender(app, owner="worker-b")
    assert sender.step(T0 + 30) == 0 and smtp.messages == []
    assert sender.step(T0 + 61) == 1 and len(smtp.messages) == 1


# --- the routes ----------------------------------------------------------------

def test_get_mail_shows_the_settings_but_never_the_password(tmp_path):
    app = mail_app(tmp_path, 2525, MAIL_USERNAME="linewatch", MAIL_PASSWORD="hunter2-very-secret",
                   MAIL_USE_TLS=True, MAIL_DEFAULT_SENDER="alerts@plant.example")
    response = app.test_client().get("/api/mail")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "hunter2" not in response.get_data(as_text=True)
    body = response.get_json()
    assert body == {"configured": True, "server": "127.0.0.1", "port": 2525, "use_tls": True, "use_ssl": False,
                    "username": "linewatch", "sender": "alerts@plant.example",
                    "recipients": ["ops@example.com", "shift@example.com"], "password_set": True,
                    "outbox": {"queued": 0, "sent": 0, "failed": 0, "last_sent_at": None, "last_error": None,
                               "last_error_at": None, "oldest_queued_at": None}}
    (tmp_path / "other").mkdir()
    assert make_app(tmp_path / "other", MAIL_AUTOSTART=False).test_client().get(
        "/api/mail").get_json()["password_set"] is False


def test_the_test_email_goes_out_right_away(tmp_path, smtp):
    app = mail_app(tmp_path, smtp.port)
    client = app.test_client()
    response = client.post("/api/mail/test", json={"to": "someone@example.com"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"ok": True, "to": ["someone@example.com"]}
    assert len(smtp.messages) == 1 and smtp.messages[0]["Subject"].startswith("Linewatch: test e-mail at ")
    assert smtp.handler.envelopes[0][1] == ["someone@example.com"]

    response = client.post("/api/mail/test")  # no body: the configured recipients
    assert response.status_code == 200
    assert response.get_json()["to"] == ["ops@example.com", "shift@example.com"]
    assert len(smtp.messages) == 2
    status = client.get("/api/mail").get_json()["outbox"]
    assert status["last_sent_at"] is not None
    assert status["sent"] == 0 and status["queued"] == 0  # test e-mails are not alerts: not counted


def test_the_test_email_answers_502_with_the_smtp_error(tmp_path):
    down = SmtpServer(Recording())  # never started
    app = mail_app(tmp_path, down.port)
    client = app.test_client()
    response = client.post("/api/mail/test", json={})
    assert response.status_code == 502
    body = response.get_json()
    assert body["error"] == "smtp_error" and "Connection refused" in body["message"]
    status = client.get("/api/mail").get_json()["outbox"]
    assert "Connection refused" in status["last_error"] and status["last_error_at"] is not None
    assert status["queued"] == 0 and status["failed"] == 0  # a test e-mail is never retried, nor counted

    refusing = SmtpServer(Refusing()).start()
    try:
        (tmp_path / "refusing").mkdir()
        app2 = mail_app(tmp_path / "refusing", refusing.port)
        response = app2.test_client().post("/api/mail/test", json={"to": ["x@example.com"]})
        assert response.status_code == 502
        assert response.get_json()["message"] == "550 5.1.1 mailbox unavailable (x@example.com)"
    finally:
        refusing.stop()


@pytest.mark.parametrize("payload, status, field", [
    ({"to": "not-an-address"}, 400, "to"),
    ({"to": ["ok@example.com", "bad address@x"]}, 400, "to"),
    ({"to": 42}, 400, "to"),
    ({"to": ""}, 400, "to"),
    (["to"], 400, "body"),
])
def test_the_test_email_rejects_bad_input(tmp_path, payload, status, field):
    app = mail_app(tmp_path, 25)
    response = app.test_client().post("/api/mail/test", json=payload)
    assert response.status_code == status
    body = response.get_json()
    assert body["field"] == field and body["message"]


def test_the_test_email_needs_someone_to_send_to(tmp_path):
    app = make_app(tmp_path, MAIL_AUTOSTART=False)
    response = app.test_client().post("/api/mail/test", json={})
    assert response.status_code == 409 and response.get_json()["error"] == "conflict"


def test_counts_for_metrics(tmp_path, smtp):
    app = mail_app(tmp_path, smtp.port)
    queue(app)
    queue(app)
    with app.app_context():
        assert outbox.counts() == {"queued": 2, "sent": 0, "failed": 0}
    MailSender(app).step(T0)
    with app.app_context():
        assert outbox.counts() == {"queued": 0, "sent": 2, "failed": 0}


# --- the sender thread -----------------------------------------------------------

def test_an_app_with_recipients_starts_its_sender_with_the_first_request(tmp_path, smtp):
    app = mail_app(tmp_path, smtp.port, MAIL_AUTOSTART=True)
    try:
        queue(app, now=time.time())
        app.test_client().get("/api/mail")
        deadline = time.time() + 10
        while not smtp.messages and time.time() < deadline:
            time.sleep(0.05)
        assert len(smtp.messages) == 1
    finally:
        service.stop_running()
    assert os.getpid() not in service._mail_running


def test_no_sender_runs_where_there_is_no_one_to_send_to(tmp_path):
    app = make_app(tmp_path, MAIL_AUTOSTART=True)
    app.test_client().get("/api/mail")
    assert os.getpid() not in service._mail_running
