"""The dashboard's LSTM panels in a real (headless) Chromium against the real app.

One server for the module: the sampler at 10 Hz per sensor, a 20-sample z-score
model and short trainings. Before it starts, a minute of readings is stored
by driving a sampler on a fake clock (training needs 320 normal readings of a
sensor at time_steps 15), so the first training need not wait for them. Tests
that need a trained model make sure one exists through the API, so each can
also run alone.
"""
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from playwright.sync_api import expect

from helpers.runtime.service import SamplerThread
from helpers.storage import sessions as session_store
from tests.conftest import RestartableServer, make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler
from tests.browser_support import watch
from tests.test_dashboard_browser import get_control, send_control

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot-lstm.png"
SENSOR = "vibration"
# About 2 s of training here: long enough for the page (which asks every second) to see epochs go by.
EPOCHS = 100
LSTM_WHY = re.compile(r"^LSTM: error \d+\.\d+ > threshold \d+\.\d+ \(99th percentile × 0\.5\)$")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One live app for the module, with a minute of readings already stored: its URL and the app."""
    tmp = tmp_path_factory.mktemp("dashboard-lstm")
    app = make_app(tmp, SAMPLE_RATE_HZ=10.0, MODEL_SIZE=20, SAMPLER_FLUSH_SECONDS=0.1, TRAINING_EPOCHS=EPOCHS,
                   MODELS_DIR=str(tmp / "models"))
    with app.app_context():  # a session that began 70 s ago, so the fake clock's readings belong to it
        started = session_store.start_session(1, time.time() - 70).started_at
    clock = FakeClock(started)
    drive(app, started_sampler(app, clock), clock, 65.0, tick=0.5)
    sampler = SamplerThread(app).start()  # goes on from the newest stored reading, in real time
    http = RestartableServer(app)
    try:
        yield SimpleNamespace(url=http.url, app=app)
    finally:
        http.stop()
        sampler.stop()


@pytest.fixture
def server(live):
    return live.url


@pytest.fixture
def lstm_page(page, server, problems):
    """The dashboard with the first sensor selected; console errors and outside requests recorded."""
    watch(page, problems)
    page.goto(f"{server}/")
    expect(page.locator("#sensor-select")).to_have_value(SENSOR)
    expect(page.locator("#sensor-lstm-sensor")).to_have_text("Vibration")
    return page


def models(base, **target):
    response = requests.get(f"{base}/api/models", params=target or {"sensor": SENSOR}, timeout=5)
    response.raise_for_status()
    return response.json()


def statuses(base, **target):
    return {m["version"]: m["status"] for m in models(base, **target)["models"]}


def ensure_model(base):
    """At least one version of the sensor's model, trained through the API if need be."""
    if statuses(base):
        return
    job = requests.post(f"{base}/api/models/train", json={"sensor": SENSOR}, timeout=5).json()["job"]
    deadline = time.time() + 60
    while requests.get(f"{base}/api/training/{job['id']}", timeout=5).json()["job"]["status"] not in ("done", "failed"):
        assert time.time() < deadline, "training did not finish"
        time.sleep(0.3)


def unexpected(problems, *refused):
    """Console errors and outside requests, less Chromium's note on each refusal (HTTP status) the test provoked."""
    expected = {f"Failed to load resource: the server responded with a status of {status} (BAD REQUEST)"
                for status in refused}
    return [m for m in problems["console"] if m not in expected] + problems["outside"]


def effective(base, key):
    return get_control(base)["sensors"][SENSOR]["effective"][key]


def enter(page, selector, value):
    """Types a value and presses Enter, as a user does; returns the page's POST once it was answered."""
    with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as info:
        page.fill(selector, str(value))
        page.press(selector, "Enter")
    return info.value


def chart_points(page, canvas, label):
    return page.evaluate(
        "([id, label]) => Chart.getChart(id).data.datasets.find((d) => d.label === label).data",
        [canvas, label])


def newest_threshold(page):
    return page.evaluate("""() => {
        const d = Chart.getChart('lstm-chart').data.datasets.find((s) => s.label === 'Threshold').data;
        const known = d.filter((p) => p.y !== null);
        return known.length ? known[known.length - 1].y : null;
    }""")


def test_train_refused_then_progress_and_a_loss_curve(lstm_page, server, problems):
    page = lstm_page
    # A window of 500 needs thousands of readings: the server refuses, and says how many.
    assert enter(page, "#lstm-time-steps", 500).ok
    assert effective(server, "time_steps") == 500
    with page.expect_response(lambda r: r.url.endswith("/api/models/train")) as refused:
        page.click("#sensor-lstm-train")
    assert refused.value.status == 400
    status = page.locator("#sensor-lstm-status")
    expect(status).to_contain_text("training needs at least")
    expect(status).to_contain_text("time_steps=500")
    expect(status).to_have_class(re.compile("is-error"))

    assert enter(page, "#lstm-time-steps", 15).ok
    assert effective(server, "time_steps") == 15
    before = set(statuses(server))
    # Every text the progress line shows, as it changes.
    page.evaluate("""() => {
        window.seenProgress = [];
        const text = document.querySelector('#sensor-lstm-progress-text');
        new MutationObserver(() => window.seenProgress.push(text.textContent))
            .observe(text, {childList: true, characterData: true, subtree: true});
    }""")
    with page.expect_response(lambda r: r.url.endswith("/api/models/train")) as accepted:
        page.click("#sensor-lstm-train")
    assert accepted.value.status == 202
    expect(page.locator("#sensor-lstm-progress")).to_be_visible()
    expect(page.locator("#sensor-lstm-train")).to_be_disabled()

    expect(status).to_contain_text(f"✓ Trained: {EPOCHS} epochs, final loss", timeout=30_000)
    expect(page.locator("#sensor-lstm-progress")).to_be_hidden()
    expect(page.locator("#sensor-lstm-loss-box")).to_be_visible()
    assert [p["x"] for p in chart_points(page, "sensor-lstm-loss-chart", "Loss")] == list(range(1, EPOCHS + 1))
    seen = page.evaluate("window.seenProgress")
    assert any(re.fullmatch(rf"Epoch [1-9]\d*/{EPOCHS}", text) for text in seen), seen

    new = max(set(statuses(server)) - before)
    assert statuses(server)[new] == "active"
    row = page.locator(f'#sensor-lstm-versions tr[data-version="{new}"]')
    expect(row).to_contain_text("active", timeout=6_000)
    expect(row.locator(".version-activate")).to_have_count(0)  # the active version has nothing to activate
    assert unexpected(problems, 400) == []


def test_the_line_model_trains_and_its_chart_fills(lstm_page, server, problems):
    page = lstm_page
    # Early in the module: the line learns from readings that no detector flagged on any sensor, and the
    # tests after this one let the LSTM flag many.
    # The line learns only from instants at which every sensor was judged normal; on a loaded machine the
    # sampler may not have stored enough of them yet. The server then refuses saying so, and a later click works.
    for attempt in range(4):
        with page.expect_response(lambda r: r.url.endswith("/api/models/train")) as accepted:
            page.click("#line-lstm-train")
        assert accepted.value.request.post_data_json == {"line": True}
        if accepted.value.status != 400 or attempt == 3:
            break
        assert "training needs at least" in accepted.value.json()["message"], accepted.value.text()
        page.wait_for_timeout(5_000)
    assert accepted.value.status == 202, accepted.value.text()
    expect(page.locator("#line-lstm-status")).to_contain_text("✓ Trained", timeout=30_000)
    assert 1 in statuses(server, line=1)
    expect(page.locator("#line-lstm-versions tr[data-status='active']")).to_have_count(1, timeout=6_000)

    switch = page.get_by_label("Score the line with its LSTM")
    switch.focus()
    with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as info:
        page.keyboard.press("Space")  # a switch is a checkbox: the keyboard turns it on
    expect(switch).to_be_checked()
    assert info.value.request.post_data_json == {"line_lstm_enabled": True}
    assert get_control(server)["line_lstm_enabled"] is True
    page.wait_for_function("""() => Chart.getChart('line-score-chart').data.datasets
        .find((d) => d.label === 'Reconstruction error').data.length >= 10""", timeout=15_000)
    assert all(p["y"] is not None for p in chart_points(page, "line-score-chart", "Threshold"))
    with page.expect_request(lambda r: "/api/line_scores" in r.url and "since=" in r.url):
        pass
    expect(page.locator("#line-scores-hint")).to_contain_text("The newest")
    assert unexpected(problems, 400) == []


def test_lstm_scores_fill_their_chart_and_the_ratio_moves_the_threshold(lstm_page, server, problems):
    page = lstm_page
    ensure_model(server)
    send_control(server, {"sensor": SENSOR, "lstm_enabled": False, "lstm_ratio": 1.0})
    expect(page.locator("#lstm-off-hint")).to_be_visible()
    expect(page.locator("#lstm-chart-area")).to_be_hidden()

    with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as info:
        page.get_by_label("Score with LSTM").check()
    assert info.value.request.post_data_json == {"sensor": SENSOR, "lstm_enabled": True}
    assert effective(server, "lstm_enabled") is True
    expect(page.locator("#lstm-chart-area")).to_be_visible()
    expect(page.locator("#lstm-off-hint")).to_be_hidden()
    expect(page.locator("#agreement")).to_be_visible()
    page.wait_for_function("""() => Chart.getChart('lstm-chart').data.datasets
        .find((d) => d.label === 'Reconstruction error').data.filter((p) => p.y !== null).length >= 20""",
                           timeout=15_000)
    active = next(m for m in models(server)["models"] if m["status"] == "active")
    assert newest_threshold(page) == pytest.approx(active["threshold"])
    # The value chart now tells the detectors' flags apart, in its legend too.
    legend = page.evaluate("() => Chart.getChart('value-chart').legend.legendItems.map((i) => i.text)")
    assert legend[:3] == ["z-score only", "LSTM only", "both"]

    # The threshold follows the ratio at the next reading, without retraining.
    assert enter(page, "#lstm-ratio", 0.5).ok
    assert effective(server, "lstm_ratio") == 0.5
    page.wait_for_function(f"""() => {{
        const d = Chart.getChart('lstm-chart').data.datasets.find((s) => s.label === 'Threshold').data;
        return d.length && Math.abs(d[d.length - 1].y - {active['threshold'] / 2}) < 1e-9;
    }}""", timeout=5_000)
    # Half the threshold flags readings; hovering one says why, with the rule in force.
    page.wait_for_function("() => Chart.getChart('lstm-chart').data.datasets[0].data.at(-1)?.rule?.ratio === 0.5",
                           timeout=10_000)
    page.click("#pause-view")
    page.locator("#lstm-chart").scroll_into_view_if_needed()
    point = page.evaluate("""() => {
        const chart = Chart.getChart('lstm-chart');
        const element = chart.getDatasetMeta(0).data.at(-1);
        return {x: element.x, y: element.y};
    }""")
    box = page.locator("#lstm-chart").bounding_box()
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    lines = page.evaluate("() => Chart.getChart('lstm-chart').tooltip.body.flatMap((b) => b.lines)")
    assert any(LSTM_WHY.match(line) for line in lines), lines
    counts = [int(page.locator(f"#agree-{k}").text_content()) for k in ("both", "z", "lstm")]
    assert sum(counts) >= 1  # at least the flag just hovered, unless it fell on a z-score flag too
    page.click("#pause-view")

    # A value the server refuses: its message, and nothing changed.
    enter(page, "#lstm-ratio", 0)
    expect(page.locator("#lstm-settings-status")).to_contain_text("lstm_ratio: must be at least 0.01")
    assert effective(server, "lstm_ratio") == 0.5

    page.select_option("#verdict-source", "either")
    expect(page.locator("#verdict-meaning")).to_contain_text("either detector")
    for _ in range(20):
        if effective(server, "verdict_source") == "either":
            break
        page.wait_for_timeout(100)
    assert effective(server, "verdict_source") == "either"
    assert unexpected(problems, 400) == []


def test_a_second_version_then_rolling_back_and_its_card(lstm_page, server, problems):
    page = lstm_page
    ensure_model(server)
    send_control(server, {"sensor": SENSOR, "lstm_ratio": 1.0})  # the new threshold: the 99th percentile itself
    before = statuses(server)
    with page.expect_response(lambda r: r.url.endswith("/api/models/train")) as accepted:
        page.click("#sensor-lstm-train")
    assert accepted.value.status == 202
    expect(page.locator("#sensor-lstm-status")).to_contain_text("✓ Trained", timeout=30_000)
    old, new = max(before), max(before) + 1
    assert statuses(server)[new] == "active" and statuses(server)[old] == "retired"
    old_row = page.locator(f'#sensor-lstm-versions tr[data-version="{old}"]')
    expect(old_row).to_contain_text("retired", timeout=6_000)

    old_row.get_by_role("button", name=f"Activate Vibration v{old}").click()
    expect(page.locator("#sensor-lstm-versions-status")).to_contain_text(f"v{old} is now the active model")
    assert statuses(server)[old] == "active" and statuses(server)[new] == "retired"
    expect(old_row).to_contain_text("active")
    expect(page.locator(f'#sensor-lstm-versions tr[data-version="{new}"]')).to_contain_text("retired")

    # The newer version's card: loss curve, histogram with its threshold, and the version before it.
    page.get_by_role("button", name=f"Card of Vibration v{new}").click()
    card = page.locator("#sensor-lstm-card")
    expect(card).to_be_visible()
    expect(page.locator("#sensor-lstm-card-title")).to_have_text(f"Card of v{new}")
    expect(card).to_contain_text("99th percentile of the held-out errors")
    expect(card.locator("table.compare")).to_contain_text(f"v{old} (before)")
    page.wait_for_function(
        "() => Chart.getChart('sensor-lstm-card-histogram').data.datasets[0].data.length === 30")
    bars = chart_points(page, "sensor-lstm-card-histogram", "Validation windows")
    assert sum(b["y"] for b in bars) > 0
    threshold = page.evaluate(
        "() => Chart.getChart('sensor-lstm-card-histogram').options.plugins.annotation.annotations.threshold.xMin")
    card_json = requests.get(f"{server}/api/models/{models(server)['models'][0]['id']}", timeout=5).json()
    assert card_json["version"] == new and threshold == pytest.approx(card_json["threshold"])
    assert len(chart_points(page, "sensor-lstm-card-loss-chart", "Loss")) == EPOCHS
    page.click("#sensor-lstm-card-close")
    expect(card).to_be_hidden()

    # Another sensor: its own (empty) list; back again, the versions return.
    page.select_option("#sensor-select", "pressure")
    expect(page.locator("#sensor-lstm-sensor")).to_have_text("Hydraulic pressure")
    expect(page.locator("#sensor-lstm-no-versions")).to_be_visible()
    expect(page.locator("#sensor-lstm-versions tr")).to_have_count(0)
    page.select_option("#sensor-select", SENSOR)
    expect(page.locator(f'#sensor-lstm-versions tr[data-version="{new}"]')).to_be_visible()
    assert unexpected(problems) == []


def test_a_failed_training_says_why_and_keeps_the_active_model(lstm_page, live, tmp_path, problems):
    page = lstm_page
    ensure_model(live.url)
    before = statuses(live.url)
    expect(page.locator("#sensor-lstm-versions tr").first).to_be_visible()
    # A file where the models' folder should be: the training runs, then cannot save its model.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("in the way")
    models_dir, live.app.config["MODELS_DIR"] = live.app.config["MODELS_DIR"], str(blocker)
    try:
        page.click("#sensor-lstm-train")
        status = page.locator("#sensor-lstm-status")
        expect(status).to_contain_text("✗ Training failed: ", timeout=30_000)
        expect(status).to_contain_text("The previous model stays active.")
    finally:
        live.app.config["MODELS_DIR"] = models_dir
    expect(page.locator("#sensor-lstm-loss-box")).to_be_hidden()
    expect(page.locator("#sensor-lstm-train")).to_be_enabled()
    assert statuses(live.url) == before
    assert unexpected(problems) == []


def test_settings_export_and_import(lstm_page, server, tmp_path, problems):
    page = lstm_page
    with page.expect_download() as download:
        page.click("#export-time_steps")
    exported = tmp_path / "time_steps.json"
    download.value.save_as(exported)
    names = [s["name"] for s in requests.get(f"{server}/api/sensors", timeout=5).json()["sensors"]]
    values = json.loads(exported.read_text())
    assert sorted(values) == sorted(names) and values[SENSOR] == effective(server, "time_steps")

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({SENSOR: 1}))
    with page.expect_response(lambda r: r.request.method == "POST" and "time_steps.json" in r.url) as info:
        page.set_input_files("#import-time_steps", str(bad))
    assert info.value.status == 400
    expect(page.locator("#settings-file-status")).to_contain_text("bad.json: vibration: time_steps: must be at least 2")
    assert effective(server, "time_steps") == values[SENSOR]  # nothing of a refused file is applied

    good = tmp_path / "ratios.json"
    good.write_text(json.dumps({SENSOR: 1.5}))
    page.set_input_files("#import-lstm_ratio", str(good))
    expect(page.locator("#settings-file-status")).to_contain_text("Imported lstm_ratio for 1 sensor")
    expect(page.locator("#lstm-ratio")).to_have_value("1.5")
    assert effective(server, "lstm_ratio") == 1.5
    assert unexpected(problems, 400) == []


def test_screenshot_of_both_detectors_side_by_side(browser, server, problems):
    """docs/screenshot-lstm.png (1920×1080, light): the LSTM's scores around a spike, the scorecard, the panel."""
    ensure_model(server)
    send_control(server, {"sensor": SENSOR, "lstm_enabled": True, "lstm_ratio": 1.5, "verdict_source": "either"})
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, color_scheme="light")
    try:
        page = context.new_page()
        watch(page, problems)
        page.goto(f"{server}/")
        page.click("#sensor-lstm-train")
        expect(page.locator("#sensor-lstm-status")).to_contain_text("✓ Trained", timeout=30_000)
        # A new version scores once it holds a window of readings: that gap leaves the 10 s on screen.
        page.wait_for_timeout(6_000)
        injected = requests.post(f"{server}/api/scenarios", json={"sensor": SENSOR, "kind": "spike", "duration_s": 3},
                                 timeout=5)
        injected.raise_for_status()
        spike = injected.json()["scenario"]
        expect(page.locator('[data-detector="lstm"] h3')).to_have_text("LSTM autoencoder", timeout=10_000)
        page.wait_for_timeout(4_500)  # the spike and the readings whose window still holds it
        page.click("#pause-view")
        # Instantly: Bootstrap makes scrolling smooth, and the picture must not catch it half way.
        page.locator("#lstm-score-card").evaluate("(el) => el.scrollIntoView({behavior: 'instant'})")
        # The spike's first LSTM flag: its explanation opens to the right, over the spike's end.
        point = page.evaluate("""(t0) => {
            const chart = Chart.getChart('lstm-chart');
            const i = chart.data.datasets[0].data.findIndex((p) => p.x >= t0);
            const element = chart.getDatasetMeta(0).data[i];
            return element && {x: element.x, y: element.y};
        }""", spike["starts_at"])
        if point:
            box = page.locator("#lstm-chart").bounding_box()
            page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        assert unexpected(problems) == []
    finally:
        context.close()
