"""Links into the dashboard, and sensors that arrive while it is open, in a real (headless) Chromium.

An alert e-mail links to `/?sensor=<name>&at=<epoch seconds>`: the page opens on
that sensor around that moment, paused, the moment marked, until "Back to live".
A sensor that a source registers later appears without a reload. One live app
for the module, like tests/test_dashboard_browser.py.
"""
import re
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from playwright.sync_api import expect

from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage.db import db
from helpers.storage.models import Sensor
from tests.browser_support import watch
from tests.conftest import sampling_server

# Older than the live view's 100 points (10 s at 10 Hz): only the moment's own request can show it.
MOMENT_AGE_S = 20


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One live app for the module: (the app, its URL)."""
    with sampling_server(tmp_path_factory.mktemp("links")) as server:
        yield server.app, server.url


@pytest.fixture
def server(live):
    return live[1]


@pytest.fixture(autouse=True)
def watched(page, problems):
    """Console errors and outside requests recorded from the first request on."""
    watch(page, problems)


def sensor_names(base):
    return [s["name"] for s in requests.get(f"{base}/api/sensors", timeout=5).json()["sensors"]]


def get_data(base, **params):
    response = requests.get(f"{base}/get_data", params=params, timeout=5)
    response.raise_for_status()
    return response.json()


def value_xs(page):
    return page.evaluate(
        "() => Chart.getChart('value-chart').data.datasets.find((d) => d.label === 'Value').data.map((p) => p.x)")


def moment_line(page, canvas="value-chart"):
    return page.evaluate(
        "(id) => { const a = Chart.getChart(id).options.plugins.annotation.annotations.moment;"
        " return a ? {xMin: a.xMin, xMax: a.xMax, type: a.type} : null; }", canvas)


def stored_moment(base, age_s):
    """The time of a stored pressure reading about `age_s` old, in whole seconds as an e-mail's link has it."""
    deadline = time.time() + age_s + 15
    while time.time() < deadline:
        points = get_data(base, sensor="pressure", window=10_000)["points"]
        old = [p["t"] for p in points if p["t"] <= time.time() - age_s]
        if old and old[-1] - points[0]["t"] > 2:  # readings on both sides of it
            return int(old[-1])
        time.sleep(0.5)
    pytest.fail("the sampler stored no pressure readings old enough")


def test_a_sensor_alone_selects_it(page, server, problems):
    page.goto(f"{server}/?sensor=pressure")
    expect(page.locator("#sensor-select")).to_have_value("pressure")
    expect(page.locator('.sensor-card[data-sensor="pressure"]')).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => Number(document.querySelector('#point-count').textContent) > 0")
    expect(page.locator("#pause-view")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#moment-banner")).to_be_hidden()
    expect(page.locator("#link-error")).to_be_hidden()
    assert problems == {"console": [], "outside": []}


def test_an_unknown_sensor_is_reported_and_the_default_shown(page, server, problems):
    page.goto(f"{server}/?sensor=nope&at=1700000000")
    error = page.locator("#link-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("“nope”")
    default = sensor_names(server)[0]
    expect(page.locator("#sensor-select")).to_have_value(default)
    page.wait_for_function("() => Number(document.querySelector('#point-count').textContent) > 0")
    expect(page.locator("#moment-banner")).to_be_hidden()
    expect(page.locator("#pause-view")).to_have_attribute("aria-pressed", "false")
    assert urlparse(page.url).query == ""  # a reload does not repeat the error

    page.select_option("#sensor-select", "pressure")  # the user moved on: the notice goes
    expect(error).to_be_hidden()
    assert problems == {"console": [], "outside": []}


def test_an_alert_link_shows_its_moment_paused_until_back_to_live(page, server, problems):
    at = stored_moment(server, MOMENT_AGE_S)
    with page.expect_request(lambda r: "/api/tick" in r.url and "around=" in r.url) as first:
        page.goto(f"{server}/?sensor=pressure&at={at}")
    asked = parse_qs(urlparse(first.value.url).query)
    assert asked["sensor"] == ["pressure"] and asked["around"] == [str(at)] and asked["seconds"] == ["900"]

    expect(page.locator("#sensor-select")).to_have_value("pressure")
    banner = page.locator("#moment-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("the moment of the alert")
    expect(banner.locator("button")).to_have_text("Back to live")
    moment = page.locator("#moment-time")
    iso = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    expect(moment).to_have_attribute("datetime", iso)
    expect(moment).to_contain_text(time.strftime("%H:%M:%S", time.localtime(at)))
    expect(page.locator("#pause-view")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#view-state")).to_be_hidden()  # the banner says what is shown

    # The chart holds the readings around the moment, as /get_data?around= has them (the server's
    # answer now may have more at its end: readings stored since).
    page.wait_for_function("() => Number(document.querySelector('#point-count').textContent) > 0")
    shown = value_xs(page)
    around = [p["t"] for p in get_data(server, sensor="pressure", around=at, seconds=900)["points"]]
    assert shown == around[:len(shown)]
    assert shown[0] <= at <= shown[-1]
    assert shown[-1] - shown[0] > MOMENT_AGE_S  # more than the live window of 100 points would hold
    for canvas in ("value-chart", "ratio-chart"):
        assert moment_line(page, canvas) == {"xMin": at, "xMax": at, "type": "line"}

    # Paused: polling goes on, the chart does not move.
    with page.expect_request(lambda r: "/api/tick" in r.url and re.search(r"[?&]since=", r.url)):
        pass
    page.wait_for_timeout(1_000)
    assert value_xs(page) == shown

    page.click("#back-to-live")
    expect(banner).to_be_hidden()
    expect(page.locator("#pause-view")).to_have_attribute("aria-pressed", "false")
    assert parse_qs(urlparse(page.url).query) == {"sensor": ["pressure"]}
    page.wait_for_function("() => Number(document.querySelector('#point-count').textContent) === 100")
    page.wait_for_function(
        "(x) => { const d = Chart.getChart('value-chart').data.datasets[1].data; return d.length && d[d.length - 1].x > x; }",
        arg=shown[-1])
    assert moment_line(page) is None
    assert problems == {"console": [], "outside": []}


def test_resume_live_also_leaves_the_moment(page, server):
    at = stored_moment(server, MOMENT_AGE_S)
    page.goto(f"{server}/?sensor=pressure&at={at}")
    expect(page.locator("#moment-banner")).to_be_visible()
    expect(page.locator("#pause-view")).to_have_text("Resume live")
    page.click("#pause-view")
    expect(page.locator("#moment-banner")).to_be_hidden()
    assert "at" not in parse_qs(urlparse(page.url).query)
    page.wait_for_function("() => Number(document.querySelector('#point-count').textContent) === 100")


def test_a_moment_without_readings_says_so(page, server):
    page.goto(f"{server}/?sensor=pressure&at=1000000000")  # 2001: long before this database
    expect(page.locator("#moment-banner")).to_be_visible()
    expect(page.locator("#moment-empty")).to_be_visible()
    expect(page.locator("#moment-empty")).to_contain_text("no readings are stored around it")
    expect(page.locator("#point-count")).to_have_text("0")
    page.click("#back-to-live")
    expect(page.locator("#moment-empty")).to_be_hidden()
    page.wait_for_function("() => Number(document.querySelector('#point-count').textContent) > 0")


def add_sensor(app, name, label, unit, values):
    """What a source's auto-registration leaves behind: a new sensor with a few judged readings."""
    with app.app_context():
        line_id = line_store.all_sensors()[0].line_id
        sensor = Sensor(line_id=line_id, name=name, label=label, unit=unit)
        db.session.add(sensor)
        db.session.commit()
        now = time.time()
        reading_store.insert_readings([{
            "sensor_id": sensor.id, "t": now - (len(values) - i) * 0.1, "value": value, "mean": None,
            "std": None, "z": None, "threshold": 3.0, "anomaly": False, "zscore_anomaly": False,
            "lstm_score": None, "lstm_threshold": None, "lstm_anomaly": None, "anomaly_ratio": 0.0,
            "baseline_state": "learning", "completeness": 0.0, "scenario_id": None,
        } for i, value in enumerate(values)])
        db.session.commit()


def test_a_new_sensor_appears_without_a_reload(page, live, problems):
    app, server = live
    lists = []
    page.on("request", lambda r: "/api/sensors" in r.url and lists.append(r.url))
    page.goto(f"{server}/")
    page.wait_for_function("() => Number(document.querySelector('#point-count').textContent) > 0")
    assert len(lists) == 1
    before = sensor_names(server)

    add_sensor(app, "press_force", "Press force", "kN", [11.5, 12.0, 12.25])

    card = page.locator('.sensor-card[data-sensor="press_force"]')
    expect(card).to_be_visible(timeout=10_000)
    expect(card.locator('[data-field="label"]')).to_have_text("Press force")
    expect(card.locator('[data-field="unit"]')).to_have_text("kN")
    expect(card.locator('[data-field="value"]')).to_have_text("12.25")
    names = before + ["press_force"]
    assert page.locator("#overview .sensor-card").evaluate_all("cs => cs.map((c) => c.dataset.sensor)") == names
    assert page.locator("#stations button").evaluate_all("bs => bs.map((b) => b.dataset.station)") == names
    assert page.locator("#sensor-select option").evaluate_all("os => os.map((o) => o.value)") == names
    # The selection stands.
    expect(page.locator(f'.sensor-card[data-sensor="{before[0]}"]')).to_have_attribute("aria-pressed", "true")

    page.wait_for_timeout(3_000)  # several polls later: the list was reloaded once, not at every poll
    assert len(lists) == 2
    page.select_option("#sensor-select", "press_force")
    page.wait_for_function("() => Number(document.querySelector('#point-count').textContent) === 3")
    assert problems == {"console": [], "outside": []}
