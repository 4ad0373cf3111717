"""The z-score's excursion alarm on the dashboard, in a real Chromium against the real app.

One live app for the module (the sampler at 10 Hz per sensor, a 20-reading
model). The first test injects a real level shift into the simulated line and
follows the alarm the real detector raises: its ▼ pin on the value chart, its
explanation, its entry in the alarm list. The others store chosen verdicts for
sensors of their own (the simulator does not sample them), so every reason and
every "out of band, no alarm" case is there on cue; they reach the page the
way live readings do, through the server's polled API. The last test flips
the "Alert on excursions" switch and puts it back.
"""
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage.db import db
from helpers.storage.models import Sensor
from tests.browser_support import api_get as get, click_reading, send_control, watch
from tests.conftest import sampling_server

SENSOR = "vibration"  # the first sensor: the one the page selects
MEAN, STD, THRESHOLD = 12.0, 0.25, 3.0
CALM_Z = (0.4, -0.7, 0.1, 1.2, -0.3, 0.8, -1.1, 0.2, -0.5, 0.6)
ALARM_WORDS = {
    "unusual": re.compile(r"^▼ z-score alarm: unusual for this sensor \(likelihood 0\.9{4,}\d*\)\.$"),
    "extreme": re.compile(r"^▼ z-score alarm: a new extreme \(beyond the range seen so far\)\.$"),
}
ALREADY_ALARMED = "z-score out of band, no alarm: this excursion already alarmed."
STILL_LEARNING = ("z-score out of band, no alarm: not a new extreme (the alarm learns this sensor's usual z-scores "
                  "during its first 300 verdicts; until then only a new extreme alarms).")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One live app for the module: (the app, its URL)."""
    with sampling_server(tmp_path_factory.mktemp("zscore_alarm")) as server:
        yield server.app, server.url


@pytest.fixture
def server(live):
    return live[1]


# --- stored verdicts: a sensor of the test's own, and readings judged as the test says ----------------

def add_sensor(app, name, label):
    """A sensor the simulator does not sample (as a source registers one): only the test's readings reach it."""
    with app.app_context():
        sensor = Sensor(line_id=line_store.all_sensors()[0].line_id, name=name, label=label, unit="kN")
        db.session.add(sensor)
        db.session.commit()
        return sensor.id


def verdict(z, alarm=False, reason=None, likelihood=0.3):
    """A judged reading: z the z-score, and the excursion alarm's word on it (likelihood None: still learning)."""
    out = abs(z) > THRESHOLD
    return {"value": MEAN + z * STD, "mean": MEAN, "std": STD, "z": z, "threshold": THRESHOLD, "anomaly": out,
            "zscore_anomaly": out, "lstm_score": None, "lstm_threshold": None, "lstm_anomaly": None,
            "anomaly_ratio": 0.01, "baseline_state": "excluding" if out else "tracking", "completeness": 100.0,
            "scenario_id": None, "z_alarm": alarm, "z_alarm_reason": reason, "z_likelihood": likelihood}


def calm(count, likelihood=0.3):
    return [verdict(CALM_Z[i % len(CALM_Z)], likelihood=likelihood) for i in range(count)]


def store(app, sensor_id, verdicts):
    """Stores the verdicts as readings 0.1 s apart, the newest now (or just after the sensor's newest); their times."""
    with app.app_context():
        newest = reading_store.last_reading_times().get(sensor_id, float("-inf"))
        start = max(time.time() - (len(verdicts) - 1) * 0.1, newest + 0.1)  # a chart appends newer readings only
        times = [start + i * 0.1 for i in range(len(verdicts))]
        reading_store.insert_readings([{**v, "sensor_id": sensor_id, "t": t} for v, t in zip(verdicts, times)])
        db.session.commit()
    return times


# --- the page -------------------------------------------------------------------------------------------

def open_sensor(page, base, problems, sensor):
    """The dashboard on `sensor`, its value chart drawing."""
    watch(page, problems)
    page.goto(f"{base}/?sensor={sensor}")
    page.wait_for_function("() => Chart.getChart('value-chart')?.data.datasets[1].data.length > 0", timeout=15_000)


def alarm_pins(page):
    """The value chart's z-score alarm series: its times, whether its mark is an image, its legend entry."""
    return page.evaluate("""() => {
        const chart = Chart.getChart('value-chart');
        const pins = chart.data.datasets.find((d) => d.label === 'z-score alarm');
        return pins && {
            ts: pins.data.map((p) => p.x), ys: pins.data.map((p) => p.y),
            image: pins.pointStyle instanceof HTMLCanvasElement,
            legend: chart.legend.legendItems.map((i) => i.text),
        };
    }""")


def flagged_times(page):
    """The times the z-score's ▲ marks (its out-of-band readings)."""
    return page.evaluate("() => Chart.getChart('value-chart').data.datasets[0].data.map((p) => p.x)")


def click_reading_at(page, t):
    """Clicks the reading at time `t` on the value chart (waiting until the page shows it)."""
    click_reading(page, f"(p) => p.x === {t!r}")
    expect(page.locator("#verdicts")).to_be_visible()


def toggle_pause(page):
    """Pause view / Resume live, without Playwright scrolling the page: a pile of alarm toasts may cover the button."""
    page.locator("#pause-view").dispatch_event("click")


def explained(page, t):
    """What the verdict panel says about the z-score's alarm on the reading at `t` (None: it says nothing)."""
    click_reading_at(page, t)
    line = page.locator("#verdicts-alarm")
    return None if line.is_hidden() else line.text_content()


def z_row_name(page):
    return page.locator('#verdicts-rows tr[data-detector="zscore"] th').text_content()


def listed(page, label):
    """The recent-anomalies list's entries for the sensor labelled `label`: their badges' reasons (None: no badge)."""
    return page.evaluate("""(label) => [...document.querySelectorAll('#anomaly-list .anomaly-item')]
        .filter((b) => b.textContent.includes(label))
        .map((b) => b.querySelector('.z-alarm-badge')?.dataset.zAlarm ?? null)""", label)


# --- the tests ------------------------------------------------------------------------------------------

def test_a_real_level_shift_raises_one_alarm_pinned_explained_and_listed(page, server, problems):
    """Readings the real detector judged: one excursion, one alarm, the one the chart pins and the panels name."""
    open_sensor(page, server, problems, SENSOR)
    page.wait_for_function("() => Chart.getChart('value-chart').data.datasets[1].data.some((p) => p.src.z !== null)",
                           timeout=15_000)
    # 2 s at 10 Hz: about 20 readings far out of band, fewer than the 30 that make the model relearn.
    response = requests.post(f"{server}/api/scenarios", json={
        "sensor": SENSOR, "kind": "level_shift", "duration_s": 2, "magnitude": 10}, timeout=5)
    assert response.status_code == 201, response.text
    scenario = response.json()["scenario"]
    page.wait_for_function(f"""() => Chart.getChart('value-chart').data.datasets[1].data.at(-1).x
        > {scenario["ends_at"] + 1}""", timeout=15_000)

    pins = alarm_pins(page)
    assert pins["image"] and "z-score alarm" in pins["legend"]
    during = [t for t in pins["ts"] if scenario["starts_at"] <= t <= scenario["ends_at"]]
    flagged = [t for t in flagged_times(page) if scenario["starts_at"] <= t <= scenario["ends_at"]]
    assert len(flagged) >= 10 and len(during) == 1  # one alarm for the excursion, not one per reading out of band
    assert during[0] in flagged  # the ▲ stays: the pin is in addition to it
    stored = {p["t"]: p for p in get(server, "/get_data", sensor=SENSOR, window=1000)["points"]}
    alarmed = stored[during[0]]
    assert alarmed["z_alarm"] is True and alarmed["zscore_anomaly"] is True
    assert alarmed["scenario_id"] == scenario["id"]
    assert pins["ys"][pins["ts"].index(during[0])] == alarmed["value"]

    toggle_pause(page)
    assert re.match(ALARM_WORDS[alarmed["z_alarm_reason"]], explained(page, alarmed["t"]))
    assert "▼ alarm" in z_row_name(page)
    toggle_pause(page)

    # The alert system's alarm of rule "excursion", raised at that reading, named in words in the list and toasts.
    deadline = time.time() + 10
    while not (raised := [a for a in get(server, "/api/alarms", limit=200)["alarms"] if a["rule"] == "excursion"
                          and a["sensor"] == SENSOR and a["raised_at"] == alarmed["t"]]):
        assert time.time() < deadline, "the level shift raised no excursion alarm"
        time.sleep(0.3)
    item = page.locator(f'#alerts-list [data-alarm-id="{raised[0]["id"]}"]')
    expect(item.locator(".alarm-title")).to_contain_text("Vibration · z-score excursion", timeout=5_000)
    # Toasts name the rule the same way. Only the newest few alarms get one (this one may be pushed out by
    # the burst and high-usage alarms of the same shift, or by chance excursions elsewhere): any will do.
    expect(page.locator("#alerts-toasts .alarm-toast", has_text=" · z-score excursion").first).to_be_visible()
    assert problems == {"console": [], "outside": []}


def test_alarms_are_pinned_and_explained_with_their_reason(page, live, problems):
    app, server = live
    sensor_id = add_sensor(app, "press_a", "Press A")
    store(app, sensor_id, calm(10, likelihood=None))
    open_sensor(page, server, problems, "press_a")

    # While the likelihood learns, only a new extreme alarms; later also a run unusual for the sensor.
    times = store(app, sensor_id, [
        *calm(5, likelihood=None),
        verdict(4.6, alarm=True, reason="extreme", likelihood=None),
        verdict(4.2, likelihood=None),                   # the same excursion
        *calm(8),
        verdict(6.5, alarm=True, reason="unusual", likelihood=0.999998),
        verdict(5.8, likelihood=0.999),                   # held: the likelihood's red-once rule
        *calm(8),
        verdict(-9.0, alarm=True, reason="extreme", likelihood=0.42),
        *calm(5),
    ])
    early, unusual, extreme = times[5], times[15], times[25]
    page.wait_for_function("""() => Chart.getChart('value-chart').data.datasets
        .find((d) => d.label === 'z-score alarm')?.data.length === 3""", timeout=10_000)
    pins = alarm_pins(page)
    assert pins["ts"] == [early, unusual, extreme]  # the alarms only, not every reading out of band
    assert pins["image"] and "z-score alarm" in pins["legend"]
    assert {times[6], times[16]} <= set(flagged_times(page))  # out of band, ▲ but no pin

    toggle_pause(page)
    for t, reason in ((early, "extreme"), (unusual, "unusual"), (extreme, "extreme")):
        assert re.match(ALARM_WORDS[reason], explained(page, t) or ""), reason
        assert "▼ alarm" in z_row_name(page)
    assert explained(page, unusual) == "▼ z-score alarm: unusual for this sensor (likelihood 0.999998)."
    toggle_pause(page)

    # The recent-anomalies list badges the readings that alarmed, and only them.
    expect(page.locator("#anomaly-list .z-alarm-badge").first).to_be_visible(timeout=5_000)
    badges = listed(page, "Press A")
    assert sorted(b for b in badges if b) == ["extreme", "extreme", "unusual"]
    assert badges.count(None) == 2
    assert problems == {"console": [], "outside": []}


def test_out_of_band_readings_that_did_not_alarm_say_why(page, live, problems):
    app, server = live
    sensor_id = add_sensor(app, "press_b", "Press B")
    store(app, sensor_id, calm(10, likelihood=None))
    open_sensor(page, server, problems, "press_b")
    times = store(app, sensor_id, [
        *calm(5, likelihood=None),
        verdict(-4.4, alarm=True, reason="extreme", likelihood=None),
        verdict(-4.0, likelihood=None),                  # still learning, and not a new extreme
        *calm(8),
        verdict(3.4, likelihood=0.87),                    # out of band, routine for this sensor
        *calm(4),
        verdict(7.0, alarm=True, reason="unusual", likelihood=0.9999991),
        verdict(6.1, likelihood=0.999),                   # held
        *calm(5),
    ])
    routine, continued, held, in_band = times[15], times[6], times[21], times[17]
    page.wait_for_function(f"""() => Chart.getChart('value-chart').data.datasets[1].data
        .some((p) => p.x === {times[-1]})""", timeout=10_000)
    assert {routine, continued, held} <= set(flagged_times(page))
    assert not {routine, continued, held} & set(alarm_pins(page)["ts"])

    toggle_pause(page)
    assert explained(page, routine) == "z-score out of band, no alarm: routine for this sensor (likelihood 0.87)."
    assert "alarm" not in z_row_name(page)
    assert explained(page, held) == ALREADY_ALARMED
    assert explained(page, continued) == STILL_LEARNING
    assert explained(page, in_band) is None  # within the band there is nothing to say
    toggle_pause(page)

    expect(page.locator("#anomaly-list .anomaly-item", has_text="Press B").first).to_be_visible(timeout=5_000)
    assert sorted(map(str, listed(page, "Press B"))) == ["None", "None", "None", "extreme", "unusual"]
    assert problems == {"console": [], "outside": []}


def test_the_alert_on_excursions_switch_saves_the_setting(page, server, problems):
    watch(page, problems)
    page.goto(f"{server}/")
    switch = page.locator("#alert-rule-alert_on_excursion")
    expect(switch).to_be_checked(timeout=10_000)  # on by default, as the settings say
    expect(page.get_by_label("Alert on excursions")).to_be_visible()
    try:
        switch.uncheck()
        with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as info:
            page.click("#alert-rules-save")
        assert info.value.request.post_data_json == {"alert_on_excursion": False}
        expect(page.locator("#alert-rules-status")).to_contain_text("Saved for the whole line: alert_on_excursion")
        control = get(server, "/get_control")
        assert control["alert_on_excursion"] is False
        assert control["sensors"][SENSOR]["effective"]["alert_on_excursion"] is False

        # A sensor's own override, shown as such, and the switch shows the stored value after a reload.
        page.select_option("#alert-rules-scope", SENSOR)
        expect(switch).not_to_be_checked()
        switch.check()
        page.click("#alert-rules-save")
        expect(page.locator('[data-override-for="alert_on_excursion"]')).to_be_visible()
        assert get(server, "/get_control")["sensors"][SENSOR]["overrides"] == {"alert_on_excursion": True}
        page.reload()
        expect(switch).not_to_be_checked(timeout=10_000)
    finally:
        send_control(server, {"alert_on_excursion": True})
        send_control(server, {"sensor": SENSOR, "alert_on_excursion": None})
    assert get(server, "/get_control")["alert_on_excursion"] is True
    assert problems == {"console": [], "outside": []}
