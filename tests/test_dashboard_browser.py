"""The dashboard in a real (headless) Chromium against the real app.

Most tests share one server (module scope): the app on a temporary database
with the sampler at 10 Hz per sensor and a 20-sample model, so data flows
within seconds and each test need not wait for a fresh model. Tests that change
line-wide settings put them back. The offline test takes its own
`restartable_server` down and up again.
"""
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from playwright.sync_api import expect

from tests.browser_support import api_get, as_shown, send_control, watch
from tests.conftest import sampling_server

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"
EXPLANATION = re.compile(r"z = \(\S+ − \S+\) / \S+ = \S+ [<>] \S+")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One live app for the module; its URL."""
    with sampling_server(tmp_path_factory.mktemp("dashboard")) as server:
        yield server.url


def get_control(base):
    return api_get(base, "/get_control")


@pytest.fixture
def restore_control(server):
    """Tests that change line-wide settings must not leak them into other tests."""
    before = get_control(server)
    yield
    send_control(server, {key: before[key] for key in ("running", "z_threshold", "anomaly_level")})


@pytest.fixture
def dashboard(page, server, problems):
    """The page, loaded, with console errors and outside requests recorded."""
    watch(page, problems)
    page.goto(f"{server}/")
    return page


def number(page, selector):
    return float(page.locator(selector).text_content())


def wait_number(page, selector, op, value, timeout=10_000):
    """Waits until the number shown in `selector` compares `op` to `value`."""
    page.wait_for_function(
        f"([sel, v]) => Number(document.querySelector(sel).textContent) {op} v",
        arg=[selector, value], timeout=timeout)


def dataset(page, canvas, label):
    """The {x, y, …} points of one dataset of a chart, as the page holds them."""
    return page.evaluate(
        "([id, label]) => Chart.getChart(id).data.datasets.find((d) => d.label === label).data",
        [canvas, label])


def newest_x(page):
    return page.evaluate(
        "() => { const d = Chart.getChart('value-chart').data.datasets[1].data; return d.length ? d[d.length - 1].x : null; }")


def wait_newer(page, x, timeout=10_000):
    """Waits until the value chart holds a point newer than `x`."""
    page.wait_for_function(
        "(x) => { const d = Chart.getChart('value-chart').data.datasets[1].data; return d.length && d[d.length - 1].x > x; }",
        arg=x, timeout=timeout)


def set_slider(page, selector, value):
    """What a user's drag ends in: a new value and a change event."""
    page.eval_on_selector(
        selector, "(el, v) => { el.value = v; el.dispatchEvent(new Event('change', {bubbles: true})); }",
        str(value))


def slide_and_send(page, selector, value):
    """set_slider, returning once the page's POST has been answered."""
    with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url):
        set_slider(page, selector, value)


def belt_offset(page):
    return float(page.get_attribute("#line-canvas", "data-offset") or 0)


def test_page_loads_without_errors_and_stays_local(dashboard, problems, server):
    wait_number(dashboard, "#point-count", ">", 0)
    shown = number(dashboard, "#point-count")
    wait_number(dashboard, "#point-count", ">", shown)  # a few polls have run

    names = [s["name"] for s in requests.get(f"{server}/api/sensors", timeout=5).json()["sensors"]]
    options = dashboard.locator("#sensor-select option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == names
    # One station and one overview card per sensor, in line order.
    assert dashboard.locator("#stations button").evaluate_all("bs => bs.map((b) => b.dataset.station)") == names
    cards = dashboard.locator("#overview .sensor-card")
    assert cards.evaluate_all("cs => cs.map((c) => c.dataset.sensor)") == names
    for i in range(len(names)):
        card = cards.nth(i)
        expect(card.locator('[data-field="value"]')).to_have_text(re.compile(r"^−?\d+\.\d+$"))
        expect(card.locator('[data-field="unit"]')).not_to_be_empty()
        expect(card.locator('[data-field="ratio"]')).to_have_text(re.compile(r"^\d+\.\d\d %$"))
        expect(card.locator('[data-field="state"]')).to_have_text(re.compile(r"^(OK|▲ recent|⚠ anomaly)$"))
        expect(card.locator('[data-field="baseline"]')).to_have_text(
            re.compile(r"^(learning|tracking|excluding|relearning)$"))
    expect(cards.first).to_have_attribute("aria-pressed", "true")
    expect(dashboard.locator("#running-badge")).to_contain_text("Running")
    expect(dashboard.locator("#offline-banner")).to_be_hidden()
    expect(dashboard.locator("#server-error")).to_be_hidden()
    assert problems["console"] == []
    assert problems["outside"] == []


def test_points_stream_in_and_the_window_bounds_them(dashboard):
    dashboard.select_option("#window-select", "5000")
    wait_number(dashboard, "#point-count", ">", 0)
    before = number(dashboard, "#point-count")
    wait_number(dashboard, "#point-count", ">", before, timeout=5_000)

    dashboard.select_option("#window-select", "100")
    wait_number(dashboard, "#point-count", "==", 100, timeout=20_000)
    dashboard.wait_for_timeout(2_000)  # new points keep arriving, the count must not
    assert number(dashboard, "#point-count") == 100


def test_polls_ask_only_for_what_is_new(dashboard):
    wait_number(dashboard, "#point-count", ">", 0)
    with dashboard.expect_request(lambda r: "/api/tick" in r.url) as tick_request:
        pass
    asked = parse_qs(urlparse(tick_request.value.url).query)
    assert "since" in asked and "overview_since" in asked


def test_model_completeness_reaches_100(dashboard):
    expect(dashboard.locator("#completeness-bar")).to_have_attribute("aria-valuenow", "100", timeout=15_000)
    expect(dashboard.locator("#completeness-text")).to_have_text("100 %")
    expect(dashboard.locator("#baseline-state")).to_have_text(
        re.compile(r"^(learning|tracking|excluding|relearning)$"))
    expect(dashboard.locator("#anomaly-ratio")).to_have_text(re.compile(r"^\d+\.\d\d %$"))


def test_chance_ratio_is_drawn_and_explained(dashboard, server, restore_control):
    expect(dashboard.locator("#chance-ratio")).to_have_text("0.27 %")
    expect(dashboard.locator("#chance-explained")).to_contain_text("±3.0 std")
    line = """() => {
        const a = Chart.getChart('ratio-chart').options.plugins.annotation.annotations.chance;
        return a && {yMin: a.yMin, dashed: a.borderDash.length > 0, label: a.label.content};
    }"""
    dashboard.wait_for_function(line)
    assert dashboard.evaluate(line)["yMin"] == pytest.approx(0.27, abs=0.005)
    assert dashboard.evaluate(line)["dashed"]
    assert dashboard.evaluate(line)["label"] == "chance at z = 3.0: 0.27 %"

    send_control(server, {"z_threshold": 2.0})  # chance at z = 2: 4.55 %
    expect(dashboard.locator("#chance-ratio")).to_have_text("4.55 %", timeout=3_000)
    assert dashboard.evaluate(line)["yMin"] == pytest.approx(4.55, abs=0.005)


def test_sliders_reach_the_server_and_other_browsers(dashboard, browser, server, restore_control):
    other_context = browser.new_context()
    try:
        other = other_context.new_page()
        other.goto(f"{server}/")
        start = get_control(server)["z_threshold"]
        expect(other.locator("#z-threshold-value")).to_have_text(as_shown(other, "formatNumber", start, 1))

        set_slider(dashboard, "#z-threshold", 4.5)
        expect(dashboard.locator("#z-threshold-value")).to_have_text("4.5")
        assert get_control(server)["z_threshold"] == pytest.approx(4.5)
        expect(other.locator("#z-threshold")).to_have_value("4.5", timeout=2_000)
        expect(other.locator("#z-threshold-value")).to_have_text("4.5", timeout=2_000)

        set_slider(dashboard, "#anomaly-level", 40)
        expect(dashboard.locator("#anomaly-level-value")).to_have_text("40 %")
        assert get_control(server)["anomaly_level"] == pytest.approx(40)

        send_control(server, {"z_threshold": 6.2})  # e.g. from a script or a third screen
        expect(dashboard.locator("#z-threshold")).to_have_value("6.2", timeout=2_000)
    finally:
        other_context.close()


def band_widths(page, server):
    """Per chart point of the band: (its width, 2·threshold·std of that reading on the server)."""
    upper = dataset(page, "value-chart", "Mean ± threshold·std")
    lower = dataset(page, "value-chart", "Lower band")
    sensor = page.locator("#sensor-select").input_value()
    stored = requests.get(f"{server}/get_data", params={"sensor": sensor, "window": 1000}, timeout=5).json()
    by_t = {p["t"]: p for p in stored["points"]}
    return [(hi["y"] - lo["y"], 2 * by_t[hi["x"]]["threshold"] * by_t[hi["x"]]["std"], by_t[hi["x"]]["threshold"])
            for hi, lo in zip(upper, lower) if hi["y"] is not None and hi["x"] in by_t]


def test_threshold_slider_moves_the_band(dashboard, server, restore_control):
    expect(dashboard.locator("#completeness-bar")).to_have_attribute("aria-valuenow", "100", timeout=15_000)
    slide_and_send(dashboard, "#z-threshold", 3.0)
    dashboard.wait_for_timeout(1_500)
    slide_and_send(dashboard, "#z-threshold", 6.0)
    assert get_control(server)["z_threshold"] == pytest.approx(6.0)
    dashboard.wait_for_function(
        "() => Chart.getChart('value-chart').data.datasets[1].data.length > 0")
    dashboard.wait_for_timeout(2_000)  # readings judged at the new threshold reach the chart

    widths = band_widths(dashboard, server)
    assert widths, "the band has points"
    for width, expected, _ in widths:
        assert width == pytest.approx(expected, rel=1e-9)
    thresholds = {threshold for _, _, threshold in widths}
    assert 3.0 in thresholds and 6.0 in thresholds  # the band widened where the threshold changed
    assert widths[-1][2] == 6.0


def test_stop_halts_readings_and_the_line_animation(dashboard, server, restore_control):
    badge = dashboard.locator("#running-badge")
    button = dashboard.locator("#start-stop")
    expect(badge).to_contain_text("Running")
    wait_number(dashboard, "#point-count", ">", 0)
    first = belt_offset(dashboard)
    dashboard.wait_for_function(f"() => Number(document.querySelector('#line-canvas').dataset.offset) > {first}")

    button.click()
    expect(badge).to_contain_text("Stopped")
    expect(button).to_have_text("Start line")
    assert get_control(server)["running"] is False
    expect(dashboard.locator("#line-canvas")).to_have_attribute("data-running", "false")
    dashboard.wait_for_timeout(1_500)  # a flush and a poll already under way may still land
    stopped_at, x = belt_offset(dashboard), newest_x(dashboard)
    dashboard.wait_for_timeout(1_500)
    assert belt_offset(dashboard) == stopped_at
    assert newest_x(dashboard) == x

    button.click()
    expect(badge).to_contain_text("Running")
    expect(button).to_have_text("Stop line")
    assert get_control(server)["running"] is True
    wait_newer(dashboard, x)
    assert belt_offset(dashboard) > stopped_at


def test_rebaseline_targets_the_selected_sensor(dashboard):
    options = dashboard.locator("#sensor-select option")
    expect(options.first).to_be_attached()
    sensor = options.nth(options.count() - 1).get_attribute("value")
    dashboard.select_option("#sensor-select", sensor)

    with dashboard.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as info:
        dashboard.click("#rebaseline")
    assert info.value.ok
    assert info.value.request.post_data_json == {"rebaseline": sensor}
    expect(dashboard.locator("#server-error")).to_be_hidden()


def test_clicking_or_pressing_a_station_selects_its_sensor(dashboard):
    expect(dashboard.locator("#stations button")).to_have_count(4)
    canvas = dashboard.locator("#line-canvas").bounding_box()
    # The third station's box, clicked where the canvas draws it.
    dashboard.mouse.click(canvas["x"] + canvas["width"] * 2.5 / 4, canvas["y"] + 30)
    third = dashboard.locator("#stations button").nth(2).get_attribute("data-station")
    expect(dashboard.locator("#sensor-select")).to_have_value(third)
    expect(dashboard.locator(f'#stations [data-station="{third}"]')).to_have_attribute("aria-pressed", "true")
    expect(dashboard.locator(f'.sensor-card[data-sensor="{third}"]')).to_have_attribute("aria-pressed", "true")
    with dashboard.expect_request(lambda r: "/api/tick" in r.url and f"sensor={third}" in r.url):
        pass

    fourth = dashboard.locator("#stations button").nth(3)
    fourth.focus()
    dashboard.keyboard.press("Enter")
    expect(dashboard.locator("#sensor-select")).to_have_value(fourth.get_attribute("data-station"))
    expect(fourth).to_have_attribute("aria-label", re.compile(r": .+, (OK|▲ recent anomaly|⚠ ANOMALY)$"))


def test_keyboard_reaches_the_threshold_slider(dashboard, server, restore_control):
    send_control(server, {"z_threshold": 3.0})
    expect(dashboard.locator("#z-threshold-value")).to_have_text("3.0", timeout=3_000)
    for _ in range(60):
        dashboard.keyboard.press("Tab")
        if dashboard.evaluate("document.activeElement.id") == "z-threshold":
            break
    else:
        pytest.fail("Tab never reached the z-threshold slider")
    assert dashboard.evaluate("document.activeElement.labels[0].textContent.trim()").startswith("z-threshold")

    dashboard.keyboard.press("ArrowRight")
    dashboard.keyboard.press("ArrowRight")
    expect(dashboard.locator("#z-threshold-value")).to_have_text("3.2")
    for _ in range(20):  # each arrow key sent its own change; the last one may still be on its way
        if get_control(server)["z_threshold"] == pytest.approx(3.2):
            break
        dashboard.wait_for_timeout(100)
    assert get_control(server)["z_threshold"] == pytest.approx(3.2)


def test_dark_theme_toggles_is_remembered_and_follows_the_system(dashboard, browser, server):
    html = dashboard.locator("html")
    expect(html).to_have_attribute("data-bs-theme", "light")
    tick_colour = "() => Chart.getChart('value-chart').options.scales.x.ticks.color"
    dashboard.wait_for_function("() => Chart.getChart('value-chart') !== undefined")
    light = dashboard.evaluate(tick_colour)

    dashboard.click("#theme-toggle")
    expect(html).to_have_attribute("data-bs-theme", "dark")
    expect(dashboard.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    assert dashboard.evaluate(tick_colour) != light  # the charts follow the theme
    dashboard.reload()
    expect(html).to_have_attribute("data-bs-theme", "dark")
    dashboard.click("#theme-toggle")
    expect(html).to_have_attribute("data-bs-theme", "light")

    dark_system = browser.new_context(color_scheme="dark")
    try:
        page = dark_system.new_page()
        page.goto(f"{server}/")
        expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    finally:
        dark_system.close()


def test_pause_holds_the_view_while_polling_goes_on(dashboard):
    wait_number(dashboard, "#point-count", ">", 10)
    dashboard.click("#pause-view")
    expect(dashboard.locator("#pause-view")).to_have_attribute("aria-pressed", "true")
    x = newest_x(dashboard)
    dashboard.wait_for_function(
        "() => /Paused · [1-9]\\d* new points waiting/.test(document.querySelector('#view-state').textContent)")
    assert newest_x(dashboard) == x  # data came in, the chart did not move

    dashboard.click("#pause-view")  # resume: jumps to live
    expect(dashboard.locator("#view-state")).to_be_hidden()
    wait_newer(dashboard, x, timeout=3_000)

    # Dragging across the chart zooms in, which pauses the view; Reset zoom shows the whole window.
    box = dashboard.locator("#value-chart").bounding_box()
    full = dashboard.evaluate("() => { const s = Chart.getChart('value-chart').scales.x; return s.max - s.min; }")
    dashboard.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    dashboard.mouse.down()
    dashboard.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=5)
    dashboard.mouse.up()
    expect(dashboard.locator("#pause-view")).to_have_attribute("aria-pressed", "true")
    spans = dashboard.evaluate(
        "() => ['value-chart', 'ratio-chart'].map((id) => { const s = Chart.getChart(id).scales.x; return [s.min, s.max]; })")
    assert spans[0] == pytest.approx(spans[1])  # both charts show the same span
    assert spans[0][1] - spans[0][0] < full / 2
    dashboard.click("#reset-zoom")
    dashboard.wait_for_function(
        f"() => {{ const s = Chart.getChart('value-chart').scales.x; return s.max - s.min > {full / 2}; }}")
    dashboard.click("#pause-view")
    expect(dashboard.locator("#pause-view")).to_have_attribute("aria-pressed", "false")


def test_last_hour_loads_downsampled_data_then_polls_since(dashboard):
    wait_number(dashboard, "#point-count", ">", 0)
    with dashboard.expect_request(lambda r: "/api/tick" in r.url and "seconds=3600" in r.url) as first:
        dashboard.select_option("#window-select", "hour")
    assert not re.search(r"[?&]since=", first.value.url)
    wait_number(dashboard, "#point-count", ">", 100)
    with dashboard.expect_request(lambda r: "/api/tick" in r.url and re.search(r"[?&]since=", r.url)):
        pass
    count = number(dashboard, "#point-count")
    wait_number(dashboard, "#point-count", ">", count)


HOURS_OF_READINGS = """async () => {
    // The page's own modules, imported next to its entry point (url_for decides where that is).
    const base = document.querySelector('script[type="module"]').src;
    const { createValueChart } = await import(new URL('../charts/value.js', base));
    const { createRatioChart } = await import(new URL('../charts/ratio.js', base));
    const { createView } = await import(new URL('./view.js', base));
    const { palette } = await import(new URL('../lib/theme.js', base));
    const box = document.createElement('div');
    box.style.cssText = 'width: 800px; height: 300px';
    const canvases = [document.createElement('canvas'), document.createElement('canvas')];
    box.append(...canvases);
    document.body.append(box);
    const valueChart = createValueChart(canvases[0], palette());
    const ratioChart = createRatioChart(canvases[1], palette());
    const view = createView(valueChart, ratioChart, { onPauseChange: () => {} });
    view.setMode('hour');
    // Two hours at 10 readings/s, in polls of a minute each; every 997th reading an anomaly.
    let id = 0;
    for (let minute = 0; minute < 120; minute += 1) {
        const poll = [];
        for (let i = 0; i < 600; i += 1) {
            id += 1;
            poll.push({ id, t: id / 10, value: 1, mean: 1, std: 0.1, z: 0, threshold: 3,
                        anomaly: id % 997 === 0, anomaly_ratio: 0, scenario_id: null });
        }
        view.append(poll);
    }
    const values = valueChart.data.datasets[1].data;
    const newest = values[values.length - 1].x;
    const result = {
        count: values.length, ratioCount: ratioChart.data.datasets[0].data.length,
        oldest: values[0].x, newest, anomalies: valueChart.data.datasets[0].data.map((p) => p.x),
        lastMinute: values.filter((p) => p.x > newest - 60).length,
    };
    valueChart.destroy();
    ratioChart.destroy();
    box.remove();
    return result;
}"""


def test_last_hour_keeps_an_hour_in_bounded_memory(dashboard):
    """Live data in last-hour mode thins its older part instead of growing (4000 points at most)."""
    kept = dashboard.evaluate(HOURS_OF_READINGS)
    assert kept["newest"] == 7200.0
    assert kept["count"] <= 4000 and kept["ratioCount"] == kept["count"]
    assert 7200 - 3600 <= kept["oldest"] < 7200 - 3598  # the whole hour, and no more
    assert kept["anomalies"] == [i / 10 for i in range(997, 72001, 997) if i / 10 >= 3600]
    assert kept["lastMinute"] == 600  # recent data at full detail


def test_export_csv_follows_the_selected_sensor(dashboard, server):
    link = dashboard.locator("#export-readings")
    expect(link).to_have_attribute("href", "/api/readings.csv?sensor=vibration")
    dashboard.locator("#sensor-select").select_option("pressure")
    expect(link).to_have_attribute("href", "/api/readings.csv?sensor=pressure")
    expect(dashboard.locator('.sensor-card[data-sensor="pressure"] [data-field="value"]')).not_to_have_text("–")
    with dashboard.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "linewatch-readings-pressure.csv"
    with open(download.value.path()) as f:
        header, first = f.readline(), f.readline()
    assert header.startswith("sensor,timestamp,t,value,") and first.startswith("pressure,")


def test_recent_anomaly_selects_its_sensor(dashboard):
    item = dashboard.locator(".anomaly-item").first
    expect(item).to_be_visible(timeout=15_000)
    expect(item).to_contain_text(EXPLANATION)
    sensor = item.get_attribute("data-sensor")
    other = next(v for v in dashboard.locator("#sensor-select option").evaluate_all("os => os.map((o) => o.value)")
                 if v != sensor)
    dashboard.select_option("#sensor-select", other)
    dashboard.locator(f'.anomaly-item[data-sensor="{sensor}"]').first.click()
    expect(dashboard.locator("#sensor-select")).to_have_value(sensor)


def test_injected_spike_is_marked_shaded_scored_and_explained(browser, server, problems):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, color_scheme="light")
    try:
        page = context.new_page()
        watch(page, problems)
        page.goto(f"{server}/")
        expect(page.locator("#completeness-bar")).to_have_attribute("aria-valuenow", "100", timeout=15_000)
        wait_number(page, "#point-count", ">", 30)

        page.select_option("#scenario-kind", "spike")
        page.fill("#scenario-duration", "4")
        with page.expect_response(lambda r: r.request.method == "POST" and "scenarios" in r.url) as info:
            page.click("#inject")
        assert info.value.status == 201
        sensor = page.locator("#sensor-select").input_value()
        assert info.value.request.post_data_json == {"sensor": sensor, "kind": "spike", "duration_s": 4}
        scenario = info.value.json()["scenario"]
        expect(page.locator("#scenario-status")).to_contain_text("spike")

        # The spike's first reading is always flagged: an anomaly mark, and a caught event.
        row = page.locator(f'#scorecard tr[data-scenario="{scenario["id"]}"]')
        expect(row).to_contain_text("✓ caught", timeout=15_000)
        expect(row).to_contain_text("spike")
        assert int(page.locator('[data-detector="zscore"] [data-stat="caught"]').text_content()) >= 1
        page.wait_for_function("""([t0, t1]) => Chart.getChart('value-chart').data.datasets
            .find((d) => d.label === 'Anomaly').data.some((p) => p.x >= t0 && p.x <= t1)""",
                               arg=[scenario["starts_at"], scenario["ends_at"]], timeout=5_000)

        # The scenario is shaded over its time span, labelled with its kind.
        box = page.wait_for_function(f"""() => {{
            const a = Chart.getChart('value-chart').options.plugins.annotation.annotations['scenario-{scenario['id']}'];
            return a && {{xMin: a.xMin, xMax: a.xMax, label: a.label.content}};
        }}""", timeout=5_000).json_value()
        assert (box["xMin"], box["xMax"]) == (scenario["starts_at"], scenario["ends_at"])
        assert box["label"] == "injected: spike"

        # Hovering an anomaly explains it with its numbers.
        page.wait_for_timeout(1_500)  # a few normal points after the spike, for the picture
        page.click("#pause-view")
        point = page.evaluate("""(t0) => {
            const chart = Chart.getChart('value-chart');
            const meta = chart.getDatasetMeta(0);
            const i = chart.data.datasets[0].data.findIndex((p) => p.x >= t0);
            return {x: meta.data[i].x, y: meta.data[i].y};
        }""", scenario["starts_at"])
        # Clicking pause may have scrolled the page (the panels around it grow as alarms arrive): a pointer
        # moved to where the chart is not on screen sends the chart no event.
        page.locator("#value-chart").scroll_into_view_if_needed()
        canvas = page.locator("#value-chart").bounding_box()
        page.mouse.move(canvas["x"] + point["x"], canvas["y"] + point["y"])
        # Chart.js handles pointer events on the next animation frame: wait for the tooltip it builds then.
        page.wait_for_function("() => Chart.getChart('value-chart').tooltip.body?.length > 0", timeout=5_000)
        lines = page.evaluate("() => Chart.getChart('value-chart').tooltip.body.flatMap((b) => b.lines)")
        assert any(EXPLANATION.search(line) for line in lines), lines

        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        assert problems["console"] == []
        assert problems["outside"] == []
    finally:
        context.close()


def test_new_session_export_and_replay(dashboard, server, tmp_path):
    before = requests.get(f"{server}/api/session", timeout=5).json()
    expect(dashboard.locator("#session-id")).to_have_text(f"#{before['id']}", timeout=10_000)

    dashboard.fill("#session-seed-input", "42")
    with dashboard.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/session")) as info:
        dashboard.click("#new-session")
    assert info.value.status == 201
    assert info.value.request.post_data_json == {"seed": 42}
    started = info.value.json()
    expect(dashboard.locator("#session-seed")).to_have_text("42")
    expect(dashboard.locator("#session-id")).to_have_text(f"#{started['id']}")
    assert started["id"] != before["id"]

    requests.post(f"{server}/api/scenarios", json={"sensor": "vibration", "kind": "spike", "duration_s": 1},
                  timeout=5).raise_for_status()
    with dashboard.expect_download() as download:
        dashboard.click("#export-session")
    exported = tmp_path / "session.csv"
    download.value.save_as(exported)
    assert exported.stat().st_size > 0

    dashboard.set_input_files("#replay-file", str(exported))
    with dashboard.expect_response(lambda r: r.request.method == "POST" and "replay" in r.url) as info:
        dashboard.click("#replay")
    assert info.value.status == 201
    expect(dashboard.locator("#session-status")).to_contain_text("seed 42, replaying 1 scenario")
    expect(dashboard.locator("#session-id")).to_have_text(f"#{info.value.json()['session']['id']}")

    # A bad file is refused with the server's message, and nothing else changes.
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,session\n")
    dashboard.set_input_files("#replay-file", str(bad))
    dashboard.click("#replay")
    expect(dashboard.locator("#server-error")).to_be_visible()


def test_server_errors_are_shown_and_clear(dashboard):
    wait_number(dashboard, "#point-count", ">", 0)
    dashboard.route("**/api/tick?*", lambda route: route.fulfill(
        status=404, json={"error": "unknown_sensor", "message": "No such sensor: pump", "field": "sensor"}))
    error = dashboard.locator("#server-error")
    expect(error).to_contain_text("No such sensor: pump")
    expect(dashboard.locator("#offline-banner")).to_be_hidden()  # the server answered: not offline

    dashboard.unroute("**/api/tick?*")
    expect(error).to_be_hidden(timeout=8_000)  # after the error backoff


def set_hidden(page, hidden):
    """Simulates switching tabs, which headless Chromium never does by itself."""
    page.evaluate("""(hidden) => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => hidden});
        document.dispatchEvent(new Event('visibilitychange'));
    }""", hidden)


def test_hidden_tab_does_not_poll(dashboard):
    wait_number(dashboard, "#point-count", ">", 0)
    set_hidden(dashboard, True)
    dashboard.wait_for_timeout(2_000)  # a tick already under way may still finish
    polls = []
    dashboard.on("request", lambda r: "/api/tick" in r.url and polls.append(r.url))
    dashboard.wait_for_timeout(3_000)
    assert polls == []

    with dashboard.expect_request(lambda r: "/api/tick" in r.url, timeout=2_000):
        set_hidden(dashboard, False)


def test_offline_notice_then_recovery(page, restartable_server):
    page.goto(f"{restartable_server.url}/")
    wait_number(page, "#point-count", ">", 0)
    banner = page.locator("#offline-banner")
    expect(banner).to_be_hidden()

    restartable_server.stop()
    expect(banner).to_be_visible(timeout=5_000)
    expect(banner).to_contain_text("Offline")
    x = newest_x(page)

    restartable_server.start()
    expect(banner).to_be_hidden(timeout=10_000)  # the poller's backoff is at most 5 s
    wait_newer(page, x)
    expect(page.locator("#server-error")).to_be_hidden()


def test_the_sensor_settings_wait_for_the_sensor_they_change(page, server):
    """A value typed before the page knows the selected sensor's settings would land line-wide: the boxes wait."""
    page.route("**/api/tick?*", lambda route: route.fulfill(status=503, json={"error": "unavailable",
                                                                             "message": "not yet", "field": None}))
    page.goto(f"{server}/")
    page.wait_for_timeout(1_500)  # the page has loaded and polled (and been refused)
    for box in ("#lstm-time-steps", "#lstm-percentile", "#verdict-source"):
        expect(page.locator(box)).to_be_disabled()
    page.unroute("**/api/tick?*")
    expect(page.locator("#lstm-time-steps")).to_be_enabled(timeout=10_000)  # after the poller's backoff
    expect(page.locator("#lstm-time-steps")).to_have_value(str(get_control(server)["sensors"]["vibration"]
                                                                ["effective"]["time_steps"]))
