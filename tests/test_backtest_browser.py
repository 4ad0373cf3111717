"""The dashboard's Backtest panel in a real (headless) Chromium against the real app.

One live app for the module (sampler at 10 Hz per sensor, a 20-sample model),
with a spike injected on the first sensor before any test runs, so the stored
history holds a scenario to catch. Each test backtests that history through
the panel and checks what it shows against what the API returned.
"""
import re
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from playwright.sync_api import expect

from helpers.core.evaluation.scorecard import DEFAULT_GRACE_S
from tests.browser_support import api_get, as_shown, send_control, watch
from tests.conftest import sampling_server

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot-backtest.png"
ZSCORE_KEYS = ("z_threshold", "model_size", "relearn_after")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One live app for the module; its URL."""
    with sampling_server(tmp_path_factory.mktemp("backtest")) as server:
        yield server.url


@pytest.fixture(scope="module")
def sensor(server):
    """The first sensor: the one the dashboard selects at first."""
    return requests.get(f"{server}/api/sensors", timeout=5).json()["sensors"][0]["name"]


@pytest.fixture(scope="module")
def scenario(server, sensor):
    """A spike in the stored history, over (and past its grace period) before any backtest reads it."""
    deadline = time.time() + 15
    while not requests.get(f"{server}/api/sensors", timeout=5).json()["sensors"][0]["completeness"] >= 100:
        assert time.time() < deadline, "the live model never filled"
        time.sleep(0.2)
    response = requests.post(f"{server}/api/scenarios", json={"sensor": sensor, "kind": "spike", "duration_s": 2},
                             timeout=5)
    assert response.status_code == 201
    injected = response.json()["scenario"]
    time.sleep(max(0.0, injected["ends_at"] + DEFAULT_GRACE_S + 1.0 - time.time()))
    return injected


@pytest.fixture
def panel(page, server, scenario, problems):
    """The dashboard, its Backtest panel enabled and prefilled; console errors and outside requests recorded."""
    watch(page, problems)
    page.goto(f"{server}/")
    expect(page.locator("#backtest-run")).to_be_enabled()
    expect(page.locator("#backtest-z_threshold")).not_to_have_value("")
    return page


def get_control(base):
    return api_get(base, "/get_control")


def is_backtest_post(response):
    return response.request.method == "POST" and urlparse(response.url).path == "/api/backtest"


def run_backtest(page, server):
    """Presses Backtest; returns (the request's body, the finished job as GET /api/backtest/<id> gives it)."""
    with page.expect_response(is_backtest_post) as started:
        page.click("#backtest-run")
    assert started.value.status == 202, started.value.text()
    job = started.value.json()
    assert job["status"] in ("queued", "running", "done")
    # The panel follows the job by polling it, then shows its result.
    expect(page.locator("#backtest")).to_have_attribute("data-job-id", str(job["id"]), timeout=20_000)
    expect(page.locator("#backtest-results")).to_be_visible()
    expect(page.locator("#backtest-progress")).to_be_hidden()
    finished = requests.get(f"{server}/api/backtest/{job['id']}", timeout=5).json()
    assert finished["status"] == "done"
    return started.value.request.post_data_json, finished


def cell(page, stat, side):
    return page.locator(f'#backtest-summary tr[data-stat="{stat}"] td[data-side="{side}"]').text_content()


def chart_data(page):
    return page.evaluate("() => Chart.getChart('backtest-hourly-chart').data.datasets.map((d) => d.data)")


def test_panel_follows_the_selected_sensor_and_its_settings_in_use(panel, server, sensor):
    names = [s["name"] for s in requests.get(f"{server}/api/sensors", timeout=5).json()["sensors"]]
    other = names[1]
    assert panel.locator("#backtest-sensor").input_value() == panel.locator("#sensor-select").input_value() == sensor
    effective = get_control(server)["sensors"][sensor]["effective"]
    for key in ZSCORE_KEYS:
        assert float(panel.locator(f"#backtest-{key}").input_value()) == effective[key]
    try:
        send_control(server, {"sensor": other, "z_threshold": 4.2})
        panel.select_option("#sensor-select", other)
        expect(panel.locator("#backtest-sensor")).to_have_value(other)
        expect(panel.locator("#backtest-z_threshold")).to_have_value("4.2")
        # A box the user typed in keeps its text while the polls go on.
        panel.fill("#backtest-z_threshold", "2.2")
        panel.wait_for_timeout(1_500)
        expect(panel.locator("#backtest-z_threshold")).to_have_value("2.2")
        panel.click("#backtest-reset")
        expect(panel.locator("#backtest-z_threshold")).to_have_value("4.2")
    finally:
        send_control(server, {"sensor": other, "z_threshold": None})


def test_a_lower_threshold_flags_more_and_the_panel_shows_the_server_s_numbers(panel, server, sensor, scenario,
                                                                               problems):
    panel.fill("#backtest-z_threshold", "1.5")
    body, job = run_backtest(panel, server)
    assert body["sensor"] == sensor and body["detector"] == "zscore"
    assert body["settings"]["z_threshold"] == 1.5
    assert 3599 <= body["to"] - body["from"] <= 3601  # the "Last hour" preset
    result = job["result"]
    assert result["settings"]["proposed"]["z_threshold"] == 1.5
    assert result["proposed"]["anomalies"] >= result["current"]["anomalies"] > 0
    assert result["proposed"]["alerts"] >= 1

    expect(panel.locator("#backtest-headline")).to_contain_text(f"{result['readings']} readings over")
    expect(panel.locator('[data-settings="proposed"]')).to_contain_text("z-threshold 1.5")
    for side in ("current", "proposed"):
        totals, events = result[side], result[side]["scenarios"]
        assert cell(panel, "anomalies", side) == str(totals["anomalies"])
        assert cell(panel, "alerts", side) == str(totals["alerts"])
        # Formatted by the page's own rule (as_shown), never Python's: they round some halves apart.
        per_hour = as_shown(panel, "formatNumber", totals["anomalies_per_hour"], 1)
        assert cell(panel, "anomalies_per_hour", side) == per_hour
        assert cell(panel, "flag_rate", side) == as_shown(panel, "formatPercent", totals["flag_rate"])
        assert cell(panel, "caught", side).startswith(f"{events['caught']} of {events['events']}")
        assert cell(panel, "false_alarms", side) == str(events["false_alarms"])

    # Per hour: the chart holds the server's counts, anomalies or alerts.
    hourly = result["hourly"]
    assert chart_data(panel) == [[h["current_anomalies"] for h in hourly], [h["proposed_anomalies"] for h in hourly]]
    panel.click("label[for='backtest-metric-alerts']")
    assert chart_data(panel) == [[h["current_alerts"] for h in hourly], [h["proposed_alerts"] for h in hourly]]

    # Per shift: one row per shift that the result names, in its order.
    rows = panel.locator("#backtest-shifts tr")
    assert rows.evaluate_all("rs => rs.map((r) => r.dataset.shift)") == [s["name"] for s in result["shifts"]]
    for shift in result["shifts"]:
        row = panel.locator(f'#backtest-shifts tr[data-shift="{shift["name"]}"]')
        expect(row.locator("th")).to_contain_text(f"{shift['start']}–{shift['end']}")
        for key in ("readings", "current_anomalies", "proposed_anomalies", "current_alerts", "proposed_alerts"):
            assert row.locator(f'td[data-stat="{key}"]').text_content() == str(shift[key])

    # The injected spike: caught with either setting, as the server says.
    row = panel.locator(f'#backtest-scenarios tr[data-scenario="{scenario["id"]}"]')
    expect(row).to_contain_text("spike")
    for side in ("current", "proposed"):
        detail = next(d for d in result[side]["scenarios"]["details"] if d["scenario_id"] == scenario["id"])
        assert detail["status"] == "caught"
        expect(row.locator(f'td[data-side="{side}"]')).to_have_attribute("data-status", "caught")
        delay = as_shown(panel, "formatSeconds", detail["delay_s"])
        expect(row.locator(f'td[data-side="{side}"]')).to_contain_text(f"✓ caught after {delay}")

    # Chance in plain words, with the server's expected catch.
    for side in ("current", "proposed"):
        chance = result["chance"][side]
        events = chance["events"]
        expect(panel.locator(f'#backtest-chance [data-side="{side}"]')).to_contain_text(
            f"would catch {as_shown(panel, 'formatNumber', chance['expected_caught'], 1)} of {events} "
            f"scenario{'' if events == 1 else 's'}")
    expect(panel.locator("#backtest-rules")).to_contain_text(result["alert_rule"][1:])

    panel.click("label[for='backtest-metric-anomalies']")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    panel.locator("#backtest").screenshot(path=str(SCREENSHOT))
    assert problems["console"] == []
    assert problems["outside"] == []


def test_apply_sets_the_proposed_settings_on_the_sensor(panel, server, sensor, problems):
    # A custom stretch: the datetime-local boxes are read in the viewer's time zone.
    start = datetime.fromtimestamp(time.time() - 600).replace(microsecond=0)
    end = datetime.fromtimestamp(time.time()).replace(microsecond=0)
    panel.select_option("#backtest-range", "custom")
    panel.fill("#backtest-from", start.isoformat())
    panel.fill("#backtest-to", end.isoformat())
    panel.fill("#backtest-z_threshold", "2.4")
    panel.fill("#backtest-relearn_after", "40")
    try:
        body, job = run_backtest(panel, server)
        assert (body["from"], body["to"]) == (start.timestamp(), end.timestamp())
        proposed = job["result"]["settings"]["proposed"]
        assert proposed["z_threshold"] == 2.4 and proposed["relearn_after"] == 40

        with panel.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as sent:
            panel.click("#backtest-apply")
        assert sent.value.request.post_data_json == {"sensor": sensor, **proposed}
        expect(panel.locator("#backtest-apply-status")).to_contain_text("✓ Applied")
        expect(panel.locator("#backtest-apply")).to_be_disabled()
        effective = get_control(server)["sensors"][sensor]["effective"]
        assert {key: effective[key] for key in proposed} == proposed
        # The rest of the dashboard shows the new setting at once, and the panel now starts from it.
        expect(panel.locator("#z-threshold-override")).to_have_text("This sensor overrides it: 2.4")
        expect(panel.locator("#backtest-z_threshold")).to_have_value("2.4")
        expect(panel.locator("#backtest-relearn_after")).to_have_value("40")
    finally:
        send_control(server, {"sensor": sensor, **{key: None for key in ZSCORE_KEYS}})
    assert problems["console"] == []


def test_progress_is_shown_until_the_job_is_done(panel, server):
    # The real job is done within a second: its first polls are answered for it, as a running job.
    held = []

    def running(route):
        if len(held) < 3:
            held.append(route.request.url)
            route.fulfill(json={"id": 0, "status": "running", "done": 40, "total": 100, "progress": 0.4,
                                "step": "current settings: 40 of 100 readings", "error": None, "result": None})
        else:
            route.continue_()

    panel.route(re.compile(r".*/api/backtest/\d+$"), running)
    with panel.expect_response(is_backtest_post) as started:
        panel.click("#backtest-run")
    job_id = started.value.json()["id"]
    expect(panel.locator("#backtest-progress")).to_be_visible()
    expect(panel.locator("#backtest-progress-bar")).to_have_attribute("aria-valuenow", "40")
    expect(panel.locator("#backtest-progress")).to_contain_text("current settings: 40 of 100 readings")
    expect(panel.locator("#backtest-run")).to_be_disabled()
    expect(panel.locator("#backtest")).to_have_attribute("data-job-id", str(job_id), timeout=20_000)
    expect(panel.locator("#backtest-progress")).to_be_hidden()
    expect(panel.locator("#backtest-run")).to_be_enabled()
    assert held and all(url.endswith(f"/api/backtest/{job_id}") for url in held)


def refusal(server, body):
    """What the server answers to a backtest request that it refuses."""
    response = requests.post(f"{server}/api/backtest", json=body, timeout=5)
    assert 400 <= response.status_code < 500
    return response.json()


def press_and_refuse(page):
    """Presses Backtest and waits for the server's 4xx; returns the request's body and the answer."""
    with page.expect_response(is_backtest_post) as answer:
        page.click("#backtest-run")
    assert 400 <= answer.value.status < 500
    return answer.value.request.post_data_json, answer.value.json()


def test_refusals_are_shown_next_to_the_field_they_name(panel, server):
    panel.fill("#backtest-model_size", "1")
    body, answer = press_and_refuse(panel)
    assert answer["field"] == "model_size"
    assert answer == refusal(server, body)
    error = panel.locator('[data-error-for="model_size"]')
    expect(error).to_be_visible()
    expect(error).to_have_text(answer["message"])
    expect(panel.locator("#backtest-model_size")).to_have_attribute("aria-invalid", "true")
    expect(panel.locator("#backtest-results")).to_be_hidden()

    # A corrected value clears the error at the next try.
    panel.fill("#backtest-model_size", "20")
    panel.select_option("#backtest-range", "custom")
    later = datetime.fromtimestamp(time.time()).replace(microsecond=0)
    earlier = datetime.fromtimestamp(time.time() - 300).replace(microsecond=0)
    panel.fill("#backtest-from", later.isoformat())
    panel.fill("#backtest-to", earlier.isoformat())
    body, answer = press_and_refuse(panel)
    assert answer["field"] in ("from", "to")
    expect(error).to_be_hidden()
    expect(panel.locator(f'[data-error-for="{answer["field"]}"]')).to_have_text(answer["message"])

    # The LSTM of a sensor without a trained model: 409, shown at the detector.
    panel.select_option("#backtest-range", "3600")
    panel.select_option("#backtest-detector", "lstm")
    expect(panel.locator("#backtest-lstm_ratio")).to_be_visible()
    expect(panel.locator("#backtest-z_threshold")).to_be_hidden()
    body, answer = press_and_refuse(panel)
    assert body["detector"] == "lstm" and set(body["settings"]) == {"lstm_ratio", "lstm_percentile"}
    expect(panel.locator('[data-error-for="detector"]')).to_have_text(answer["message"])
