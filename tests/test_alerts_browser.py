"""The dashboard's Alarms panel in a real (headless) Chromium against the real app.

One live app for the module (sampler at 10 Hz per sensor, a 20-reading model)
with quick alert rules, so a level shift raises alarms within a second and the
state returns to normal seconds after it. Tests run in file order and share the
alarms they raise: the first follows one alarm from its toast through
acknowledgement and classification; later ones wait until the line is quiet
again before they raise their own.
"""
import re
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from helpers.runtime.service import SamplerThread
from tests.browser_support import api_get as get, send_control, watch
from tests.conftest import RestartableServer, make_app
from tests.smtp_server import Recording, SmtpServer

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot-alerts.png"
RECIPIENT = "ops@example.com"
# The state and burst rules, quick; the z-score's excursion alarms (tests/test_zscore_alarm_browser.py) would
# add one more alarm per injected fault to the flood count this module reads.
QUICK_RULES = {"anomaly_list_size": 20, "burst_count": 3, "burst_readings": 10, "high_usage_hold_s": 2,
               "alert_cooldown_s": 0, "alert_on_excursion": False}
SENSOR = "vibration"


@pytest.fixture(scope="module")
def smtp():
    """A real SMTP server on 127.0.0.1 that records what it gets."""
    server = SmtpServer(Recording()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp):
    """One live app for the module, its alert rules quick and its models full; its URL.

    Alarm e-mails stay in the outbox (no sender thread): only the panel's test e-mail reaches `smtp`.
    """
    app = make_app(tmp_path_factory.mktemp("alerts"), SAMPLE_RATE_HZ=10.0, MODEL_SIZE=20,
                   SAMPLER_FLUSH_SECONDS=0.1, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
                   MAIL_PASSWORD="s3cret", ALERT_RECIPIENTS=RECIPIENT, MAIL_AUTOSTART=False, MAIL_TIMEOUT_S=5.0)
    sampler = SamplerThread(app).start()
    live = RestartableServer(app)
    try:
        send_control(live.url, QUICK_RULES)
        deadline = time.time() + 15
        while not all(s["completeness"] >= 100 for s in get(live.url, "/api/sensors")["sensors"]):
            assert time.time() < deadline, "the live models never filled"
            time.sleep(0.2)
        yield live.url
    finally:
        live.stop()
        sampler.stop()


def inject(base, duration_s, sensor=SENSOR):
    response = requests.post(f"{base}/api/scenarios", json={
        "sensor": sensor, "kind": "level_shift", "duration_s": duration_s, "magnitude": 8}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["scenario"]


def alarm(base, alarm_id):
    return next(a for a in get(base, "/api/alarms", limit=1000)["alarms"] if a["id"] == alarm_id)


def newest_alarm_id(base):
    alarms = get(base, "/api/alarms", limit=1)["alarms"]
    return alarms[0]["id"] if alarms else 0


def wait_quiet(base, sensor=SENSOR, timeout=30):
    """Until the sensor is back to normal with no active alarm: a new scenario then raises new ones."""
    deadline = time.time() + timeout
    while True:
        states = get(base, "/api/states")
        active = [a for a in get(base, "/api/alarms", active=1)["alarms"]
                  if a["sensor"] == sensor and a["status"] == "active"]
        if states["sensors"][sensor]["state"] == "normal" and not active:
            return
        assert time.time() < deadline, f"{sensor} never calmed down: {states['sensors'][sensor]}, {active}"
        time.sleep(0.3)


@pytest.fixture
def panel(page, server, problems):
    """The dashboard, its Alarms panel polling; console errors and outside requests recorded."""
    watch(page, problems)
    page.goto(f"{server}/")
    expect(page.locator("#line-state-badge")).to_be_visible(timeout=10_000)
    return page


def sign_in(page, name="Ada"):
    page.fill("#alerts-operator", name)
    page.locator("#alerts-operator").dispatch_event("change")


def test_a_new_alarm_toasts_then_is_acknowledged_and_classified(panel, server, problems):
    page = panel
    before = newest_alarm_id(server)
    scenario = inject(server, duration_s=8)

    toast = page.locator(f'#alerts-toasts .alarm-toast[data-sensor="{SENSOR}"]').first
    expect(toast).to_be_visible(timeout=10_000)
    expect(toast).to_contain_text("Vibration")
    expect(toast).to_contain_text("New alarm")
    card_badge = page.locator(f'.sensor-card[data-sensor="{SENSOR}"] [data-usage-state]')
    expect(card_badge).to_have_text("▲ HIGH USAGE", timeout=5_000)
    expect(card_badge).to_have_attribute("title", re.compile(r"rises above 10\.0 %.*below 5\.0 % for 2 s\. High usage since"))
    expect(page.locator(f'#alerts-states [data-target="{SENSOR}"] .usage-badge')).to_have_text("▲ HIGH USAGE")
    expect(page.locator(f'#alerts-timeline [data-target="{SENSOR}"]').first).to_contain_text("normal → ▲ HIGH USAGE")

    raised = [a for a in get(server, "/api/alarms")["alarms"] if a["id"] > before and a["sensor"] == SENSOR]
    state_alarm = next(a for a in raised if a["rule"] == "state")
    item = page.locator(f'#alerts-list [data-alarm-id="{state_alarm["id"]}"]')
    expect(item).to_have_attribute("data-lifecycle", "unacknowledged", timeout=5_000)
    expect(item.locator(".lifecycle-badge")).to_have_text("⚠ UNACKNOWLEDGED")
    expect(item).to_contain_text("rose above 10.0%")
    expect(page.locator("#unacked-badge")).to_be_visible()

    # Everything from here must outlast the alarm's clearing: the Open view drops cleared, acknowledged ones.
    page.click('label[for="alerts-filter-all"]')
    item.locator('[data-action="open-ack"]').click()
    item.locator(".alarm-ack-form input").fill("checked the bearing: loose bolt")
    item.locator('[data-action="ack"]').click()
    expect(page.locator("#alerts-operator-error")).to_contain_text("Enter your name")
    sign_in(page)
    item.locator('[data-action="ack"]').click()
    expect(item).to_contain_text("Acknowledged by Ada at")
    expect(item).to_contain_text("“checked the bearing: loose bolt”")
    acked = alarm(server, state_alarm["id"])
    assert (acked["acked_by"], acked["ack_note"]) == ("Ada", "checked the bearing: loose bolt")
    assert acked["lifecycle"] in ("acknowledged", "cleared")
    assert page.evaluate("() => localStorage.getItem('linewatch-operator')") == "Ada"

    item.locator('[data-action="real_fault"]').click()
    expect(item).to_contain_text("Marked real fault by Ada")
    assert alarm(server, state_alarm["id"])["classification"] == "real_fault"
    page.locator("#alerts").scroll_into_view_if_needed()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    item.locator('[data-action="unclassify"]').click()
    expect(item.locator('[data-action="false_alarm"]')).to_be_visible()
    assert alarm(server, state_alarm["id"])["classification"] is None
    item.locator('[data-action="real_fault"]').click()
    expect(item).to_contain_text("Marked real fault by Ada")

    # Back to normal once the shift is over and the ratio has stayed low for the hold time.
    expect(card_badge).to_have_text("normal", timeout=20_000)
    expect(page.locator("#line-state-badge")).to_have_text(re.compile(r"^Line: "))
    page.wait_for_timeout(max(0, int((scenario["ends_at"] - time.time()) * 1000)))
    expect(card_badge).to_have_text("normal", timeout=20_000)
    assert problems["console"] == []
    assert problems["outside"] == []


def test_a_shelved_sensor_alarms_quietly_and_can_be_unshelved(panel, server, problems):
    page = panel
    sign_in(page)
    page.select_option("#alerts-shelve-sensor", SENSOR)
    page.fill("#alerts-shelve-minutes", "30")
    page.fill("#alerts-shelve-reason", "sensor swap")
    page.click("#alerts-shelve")
    shelf = page.locator(f'#alerts-shelves [data-sensor="{SENSOR}"]')
    expect(shelf).to_contain_text("shelved until")
    expect(shelf).to_contain_text("by Ada — sensor swap")
    shelves = get(server, "/api/alarms")["shelves"]
    assert [(s["sensor"], s["by"], s["reason"]) for s in shelves] == [(SENSOR, "Ada", "sensor swap")]

    wait_quiet(server)
    inject(server, duration_s=3)
    toast = page.locator(f'#alerts-toasts .toast-suppressed[data-sensor="{SENSOR}"]').first
    expect(toast).to_be_visible(timeout=10_000)
    expect(toast).to_contain_text("Suppressed")
    expect(toast).to_contain_text("shelved by Ada until")
    expect(toast).not_to_contain_text("until 17")  # the instant as a time, not epoch seconds

    shelf.get_by_role("button", name="Unshelve").click()
    expect(page.locator("#alerts-no-shelves")).to_be_visible()
    assert get(server, "/api/alarms")["shelves"] == []
    assert problems["console"] == []


def test_maintenance_windows_are_added_refused_and_deleted(panel, server):
    page = panel
    sign_in(page)
    page.select_option("#alerts-maintenance-sensor", "")
    page.fill("#alerts-maintenance-note", "bearing change")
    page.click("#alerts-add-maintenance")
    planned = page.locator("#alerts-maintenance [data-window-id]")
    expect(planned).to_have_count(1)
    expect(planned).to_contain_text("Whole line")
    expect(planned).to_contain_text("bearing change")
    expect(planned).to_contain_text("in progress")
    windows = get(server, "/api/alarms")["maintenance"]
    assert [(w["sensor"], w["note"], w["by"], w["active"]) for w in windows] == [(None, "bearing change", "Ada", True)]

    # The end before the start: the server's words beside the field.
    page.fill("#alerts-maintenance-to", page.input_value("#alerts-maintenance-from"))
    page.click("#alerts-add-maintenance")
    expect(page.locator("#alerts-maintenance-to-error")).to_have_text("ends_at must be after starts_at")
    expect(page.locator("#alerts-maintenance-to")).to_have_attribute("aria-invalid", "true")

    planned.get_by_role("button", name="Delete").click()
    expect(planned).to_have_count(0)
    assert get(server, "/api/alarms")["maintenance"] == []


def test_alert_rules_save_refuse_and_override(panel, server):
    page = panel
    field = page.locator("#alert-rule-burst_count")
    expect(field).to_have_value("3")
    try:
        field.fill("4")
        page.click("#alert-rules-save")
        expect(page.locator("#alert-rules-status")).to_contain_text("Saved for the whole line: burst_count")
        assert get(server, "/get_control")["burst_count"] == 4

        field.fill("0")
        page.click("#alert-rules-save")
        expect(page.locator("#alert-rule-burst_count-error")).to_have_text("burst_count: must be at least 1")
        expect(field).to_have_attribute("aria-invalid", "true")
        assert get(server, "/get_control")["burst_count"] == 4

        # One sensor's override, and back to the line's value.
        page.click("#alert-rules-reset")
        page.select_option("#alert-rules-scope", SENSOR)
        page.fill("#alert-rule-high_usage_hold_s", "5")
        page.click("#alert-rules-save")
        expect(page.locator('[data-override-for="high_usage_hold_s"]')).to_be_visible()
        assert get(server, "/get_control")["sensors"][SENSOR]["overrides"] == {"high_usage_hold_s": 5}
        page.click("#alert-rules-clear")
        expect(page.locator('[data-override-for="high_usage_hold_s"]')).to_be_hidden()
        assert get(server, "/get_control")["sensors"][SENSOR]["overrides"] == {}
    finally:
        send_control(server, QUICK_RULES)


def test_mail_panel_shows_settings_not_the_password_and_sends_a_test(panel, smtp):
    page = panel
    config = page.locator("#alerts-mail-config")
    expect(config.locator('[data-mail="password_set"]')).to_have_text("yes", timeout=5_000)
    expect(config.locator('[data-mail="server"]')).to_have_text(f"127.0.0.1:{smtp.port}")
    expect(config.locator('[data-mail="recipients"]')).to_have_text(RECIPIENT)
    expect(page.locator('#alerts-mail-outbox [data-mail="queued"]')).to_have_text(re.compile(r"^[1-9]\d*"))
    assert "s3cret" not in page.content()

    status = page.locator("#alerts-mail-status")
    page.click("#alerts-mail-test")
    expect(status).to_have_text(f"✓ Test e-mail sent to {RECIPIENT}.", timeout=10_000)
    assert [m["To"] for m in smtp.messages] == [RECIPIENT]
    expect(page.locator('#alerts-mail-outbox [data-mail="last_sent_at"]')).not_to_have_text("never")

    smtp.stop()  # the SMTP error, as the server reports it
    page.click("#alerts-mail-test")
    expect(status).to_contain_text("✗ Not sent: ", timeout=10_000)
    expect(page.locator('#alerts-mail-outbox [data-mail="last_error"]')).not_to_have_text("none")


def test_mail_panel_without_mail_routes_says_so(page, server):
    page.route(re.compile(r".*/api/mail$"), lambda route: route.fulfill(
        status=404, json={"error": "not_found", "message": "The requested URL was not found on the server."}))
    page.goto(f"{server}/")
    expect(page.locator("#alerts-mail-unavailable")).to_be_visible(timeout=10_000)
    expect(page.locator("#alerts-mail-body")).to_be_hidden()
    expect(page.locator("#alerts-status")).to_be_empty()


def test_the_backlog_is_listed_not_toasted_and_a_flood_shows(panel, server):
    page = panel
    newest = newest_alarm_id(server)
    assert newest > 0, "earlier tests raised alarms"
    expect(page.locator("#alerts-list .alarm-item").first).to_be_visible(timeout=5_000)
    page.wait_for_timeout(4_500)  # two polls at least
    toasted = page.locator("#alerts-toasts .alarm-toast").evaluate_all("ts => ts.map((t) => Number(t.dataset.alarmId))")
    assert [i for i in toasted if i <= newest] == []
    expect(page.locator("#alerts-flood")).to_have_text(re.compile(r"^\d+ of 10 alarms / 10 min$"))

    def flooded(route):
        response = route.fetch()
        body = response.json()
        body["flood"] = {"last_10_min": 14, "limit": 10, "flood": True}
        route.fulfill(response=response, json=body)

    page.route(re.compile(r".*/api/alarms\?.*"), flooded)
    expect(page.locator("#alerts-flood")).to_have_text("⚠ FLOOD: 14 alarms in 10 min (limit 10)", timeout=5_000)
    expect(page.locator("#alerts-flood")).to_have_class(re.compile(r"flood-on"))
