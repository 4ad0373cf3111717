"""The Evaluate page in a real (headless) Chromium against the real app.

One live app for the module (no sampler: the page does not need it), with a
small upload limit so that a 413 needs only a few hundred kB. Runs use the
z-score and the published detectors on the 4032-row art_daily_jumpsup
example: each takes well under a second.
"""
import json
import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.browser_support import watch
from tests.conftest import RestartableServer, make_app

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot-evaluate.png"
EXAMPLE = "art_daily_jumpsup"
UPLOAD_LIMIT = 50_000
# Every number cell of a table row, as the page's data-field names them (the API's names).
FIELDS = ("threshold", "standard", "reward_low_FP_rate", "reward_low_FN_rate", "precision", "recall", "f1",
          "windows_detected", "false_positives", "mean_delay_s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One live app for the module; its URL."""
    app = make_app(tmp_path_factory.mktemp("evaluate"), EVALUATE_MAX_UPLOAD_BYTES=UPLOAD_LIMIT)
    live = RestartableServer(app)
    try:
        yield live.url
    finally:
        live.stop()


@pytest.fixture
def evaluate(page, server, problems):
    """The Evaluate page, loaded with its first example's preview, console errors and outside requests recorded."""
    watch(page, problems)
    page.goto(f"{server}/evaluate")
    expect(page.locator("#row-count")).not_to_have_text("0")
    return page


def api_score(base, run_id, body):
    response = requests.post(f"{base}/api/evaluations/{run_id}/score", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def run_example(page, example, detectors):
    """Chooses `example` and exactly `detectors`, presses Evaluate, waits for the table; the run's id."""
    with page.expect_response(lambda r: r.url.endswith(f"/api/evaluate/examples/{example}")):
        page.select_option("#example-select", example)
    for box in page.locator("input[name=detectors]").all():
        box.set_checked(box.get_attribute("value") in detectors)
    with page.expect_response(lambda r: r.url.endswith("/api/evaluations") and r.request.method == "POST") as started:
        page.click("#evaluate-button")
    run_id = started.value.json()["id"]
    expect(page.locator("#score-rows tr")).to_have_count(len(detectors), timeout=20_000)
    expect(page.locator("#progress-step")).to_have_text("Done")
    return run_id


def table(page):
    """{detector: {field: number or None}} from the cells' data-value (what the page got from the server)."""
    return page.evaluate("""(fields) => Object.fromEntries([...document.querySelectorAll('#score-rows tr')].map((tr) => [
        tr.dataset.detector,
        Object.fromEntries(fields.map((f) => {
            const v = tr.querySelector(`[data-field="${f}"]`).dataset.value;
            return [f, v === '' ? null : Number(v)];
        })),
    ]))""", list(FIELDS))


def cell(page, detector, field):
    return page.locator(f'#score-rows tr[data-detector="{detector}"] [data-field="{field}"]')


def api_row(result):
    """One detector's score answer in the table's shape."""
    return {"threshold": result["threshold"], **result["scores"],
            **{f: result[f] for f in ("precision", "recall", "f1", "windows_detected", "false_positives",
                                      "mean_delay_s")}}


def assert_rows_match(shown, answer):
    for detector, result in answer["detectors"].items():
        expected = api_row(result)
        for field in FIELDS:
            if expected[field] is None:
                assert shown[detector][field] is None, (detector, field)
            else:
                assert shown[detector][field] == pytest.approx(expected[field], rel=1e-9, abs=1e-9), (detector, field)


def marks(page, canvas):
    """{detector: [row, …]} of the detection marks a chart holds."""
    return page.evaluate("""(id) => Object.fromEntries(Chart.getChart(id).data.datasets
        .filter((d) => d.detector && (id === 'series-chart' || d.mark))
        .map((d) => [d.detector, d.data.map((p) => p.x)]))""", canvas)


def boxes(page):
    """The series chart's annotation boxes: {name: [xMin, xMax]}."""
    return page.evaluate("""() => Object.fromEntries(Object.entries(
        Chart.getChart('series-chart').options.plugins.annotation.annotations)
        .filter(([, a]) => a.type === 'box').map(([k, a]) => [k, [a.xMin, a.xMax]]))""")


def drag_slider(page, selector, values):
    """What dragging a slider does: a new value and an input event per step, in quick succession."""
    page.eval_on_selector(selector, """(el, values) => {
        for (const v of values) { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }
    }""", [str(v) for v in values])


def is_score_post(response):
    return response.request.method == "POST" and response.url.endswith("/score")


def drag_rows(page, first, last):
    """Drags across the series chart from row `first` to row `last`, mid-height."""
    at = page.evaluate("""([a, b]) => {
        const chart = Chart.getChart('series-chart');
        const box = chart.canvas.getBoundingClientRect();
        const y = box.top + (chart.chartArea.top + chart.chartArea.bottom) / 2;
        return {a: box.left + chart.scales.x.getPixelForValue(a), b: box.left + chart.scales.x.getPixelForValue(b), y};
    }""", [first, last])
    page.mouse.move(at["a"], at["y"])
    page.mouse.down()
    page.mouse.move((at["a"] + at["b"]) / 2, at["y"], steps=3)
    page.mouse.move(at["b"], at["y"], steps=3)
    page.mouse.up()


def click_row(page, row):
    x = page.evaluate("""(r) => {
        const chart = Chart.getChart('series-chart');
        const box = chart.canvas.getBoundingClientRect();
        return {x: box.left + chart.scales.x.getPixelForValue(r), y: box.top + (chart.chartArea.top + chart.chartArea.bottom) / 2};
    }""", row)
    page.mouse.click(x["x"], x["y"])


def test_example_run_shows_series_detections_and_the_apis_scores(evaluate, server, problems):
    page = evaluate
    expect(page).to_have_title("Linewatch — Evaluate")
    assert page.get_attribute("#back-to-dashboard", "href") == "/"
    run_id = run_example(page, EXAMPLE, ["zscore", "numenta"])

    # Two rows, in the order the detectors were run, with the numbers the API gives at the shown thresholds.
    assert [tr.get_attribute("data-detector") for tr in page.locator("#score-rows tr").all()] == ["zscore", "numenta"]
    shown = table(page)
    answer = api_score(server, run_id, {"thresholds": {d: shown[d]["threshold"] for d in shown}})
    assert_rows_match(shown, answer)
    # The defaults: the z-score's live threshold (|z| = 3) and numenta's published one.
    assert shown["zscore"]["threshold"] == pytest.approx(0.9973, abs=1e-4)
    assert float(page.get_attribute("#threshold-zscore-z", "data-value")) == pytest.approx(3.0, abs=1e-4)
    expect(page.locator("#threshold-zscore-z")).to_have_text("= |z| ≥ 3.00")
    expect(cell(page, "numenta", "windows_detected")).to_have_text("1 of 1")

    # Every detection is marked, in the series and in the detector's lane; the windows and probationary period shaded.
    expected = {d: r["detections"] for d, r in answer["detectors"].items()}
    assert marks(page, "series-chart") == expected
    assert marks(page, "lane-chart") == expected
    series = requests.get(f"{server}/api/evaluations/{run_id}/series", timeout=10).json()
    shaded = boxes(page)
    assert shaded["probationary"][1] == pytest.approx(series["probationary_rows"] - 0.5)
    start, end = series["windows"][0]
    rows = [t[:19] for t in series["timestamps"]]
    assert shaded["window-0"] == [rows.index(start[:19]) - 0.5, rows.index(end[:19]) + 0.5]
    expect(page.locator("#window-count")).to_have_text("1")
    expect(page.locator("#row-count")).to_have_text(str(len(series["timestamps"])))

    # Zooming one chart zooms the other; Reset zoom shows every row again.
    page.evaluate("() => Chart.getChart('series-chart').zoomScale('x', {min: 1000, max: 1200}, 'none')")
    page.evaluate("() => Chart.getChart('series-chart').options.plugins.zoom.zoom.onZoomComplete({chart: Chart.getChart('series-chart')})")
    assert page.evaluate("() => Chart.getChart('lane-chart').scales.x.min") == pytest.approx(1000)
    page.click("#reset-zoom")
    assert page.evaluate("() => [Chart.getChart('series-chart').scales.x.min, Chart.getChart('lane-chart').scales.x.max]") \
        == [0, len(series["timestamps"]) - 1]

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The dark theme restyles the charts in place.
    light = page.evaluate("() => Chart.getChart('series-chart').options.scales.x.ticks.color")
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("() => Chart.getChart('lane-chart').options.scales.x.ticks.color") != light
    assert marks(page, "series-chart") == expected
    page.click("#theme-toggle")

    # A long example (22,695 rows) is thinned to what the canvas can show; a new series clears the results.
    page.select_option("#example-select", "machine_temperature_system_failure")
    expect(page.locator("#row-count")).to_have_text("22695")
    expect(page.locator("#window-count")).to_have_text("4")
    expect(page.locator("#results")).to_be_hidden()
    drawn = page.evaluate("() => Chart.getChart('series-chart').getDatasetMeta(0).data.length")
    assert 0 < drawn < 22695 / 4
    assert problems["console"] == []
    assert problems["outside"] == []


def test_threshold_slider_rescores_once_for_a_burst_and_best_is_the_apis(evaluate, server, problems):
    page = evaluate
    run_id = run_example(page, EXAMPLE, ["zscore", "numenta"])
    before = table(page)
    posts = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/score") and posts.append(r.post_data_json))

    # A quick burst of slider steps (a drag) asks the server once, for the last value.
    with page.expect_response(is_score_post):
        drag_slider(page, "#threshold-zscore", [0.99, 0.98, 0.97, 0.96, 0.95])
    expect(cell(page, "zscore", "threshold")).to_have_attribute("data-value", "0.95")
    page.wait_for_timeout(300)
    assert len(posts) == 1 and posts[0]["thresholds"]["zscore"] == 0.95
    expect(page.locator("#threshold-zscore-z")).to_have_text("= |z| ≥ 1.96")

    # A lower threshold flags more rows outside the window: the false positives shown go up, as the API says.
    after = table(page)
    assert after["zscore"]["false_positives"] > before["zscore"]["false_positives"]
    answer = api_score(server, run_id, {"thresholds": {"zscore": 0.95, "numenta": before["numenta"]["threshold"]}})
    assert_rows_match(after, answer)
    assert len(marks(page, "series-chart")["zscore"]) == len(answer["detectors"]["zscore"]["detections"])
    assert after["numenta"] == before["numenta"]

    # "Best for this series": the threshold the API finds best, and a standard score at least the default's.
    with page.expect_response(is_score_post):
        page.click("#best-zscore")
    best = api_score(server, run_id, {"thresholds": {"zscore": "best"}})["detectors"]["zscore"]
    expect(cell(page, "zscore", "threshold")).to_have_attribute("data-value", str(best["threshold"]))
    assert table(page)["zscore"]["standard"] == pytest.approx(best["scores"]["standard"])
    assert best["scores"]["standard"] >= before["zscore"]["standard"]
    assert float(page.input_value("#threshold-zscore-number")) == pytest.approx(best["threshold"], rel=1e-5)
    assert problems["console"] == []


def test_drawn_windows_rescore_without_rerunning(evaluate, server, problems):
    page = evaluate
    run_id = run_example(page, EXAMPLE, ["zscore", "numenta"])
    before = table(page)
    started = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/api/evaluations") and started.append(r))

    page.click("#draw-toggle")
    expect(page.locator("#draw-toggle")).to_have_attribute("aria-pressed", "true")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/score")) as sent:
        drag_rows(page, 1500, 1700)
    windows = sent.value.post_data_json["windows"]
    series = requests.get(f"{server}/api/evaluations/{run_id}/series", timeout=10).json()
    assert len(windows) == 2
    assert windows[0] == [series["timestamps"][1500], series["timestamps"][1700]]  # snapped to rows
    expect(page.locator("#window-count")).to_have_text("2")
    assert boxes(page)["window-0"] == [1499.5, 1700.5]
    # While drawing, a drag draws: it does not zoom.
    assert page.evaluate("() => [Chart.getChart('series-chart').scales.x.min, Chart.getChart('series-chart').scales.x.max]") \
        == [0, len(series["timestamps"]) - 1]
    expect(cell(page, "numenta", "windows_detected")).to_contain_text("of 2")
    drawn = table(page)
    assert_rows_match(drawn, api_score(server, run_id, {
        "thresholds": {d: drawn[d]["threshold"] for d in drawn}, "windows": windows}))
    assert drawn["zscore"]["standard"] != before["zscore"]["standard"]

    # A click on a window removes it: back to the labels' scores.
    with page.expect_response(is_score_post):
        click_row(page, 1600)
    expect(page.locator("#window-count")).to_have_text("1")
    expect(cell(page, "numenta", "windows_detected")).to_have_text("1 of 1")
    assert table(page)["zscore"]["standard"] == pytest.approx(before["zscore"]["standard"])

    # No windows: nothing to score against, and the page says why.
    with page.expect_response(is_score_post):
        page.click("#clear-windows")
    expect(page.locator("#score-note")).to_be_visible()
    expect(page.locator("#score-note")).to_contain_text("No label windows")
    expect(cell(page, "zscore", "standard")).to_have_text("–")
    assert not any(k.startswith("window-") for k in boxes(page))
    assert started == []  # re-scored only: the detectors did not run again

    # A new run (other detectors) uses the drawn windows, not the example's labels.
    with page.expect_response(is_score_post):
        drag_rows(page, 2000, 2100)
    page.uncheck("#detector-numenta")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/evaluations")) as rerun:
        page.click("#evaluate-button")
    assert rerun.value.post_data_json["windows"] == [[series["timestamps"][2000], series["timestamps"][2100]]]
    expect(page.locator("#score-rows tr")).to_have_count(1, timeout=20_000)
    expect(cell(page, "zscore", "windows_detected")).to_contain_text("of 1")
    assert boxes(page)["window-0"] == [1999.5, 2100.5]
    assert problems["console"] == []


def upload_csv(page, name, text, labels=None):
    page.check("#source-upload")
    page.set_input_files("#csv-file", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}])
    if labels is not None:
        page.set_input_files("#labels-file", files=[{
            "name": "labels.json", "mimeType": "application/json", "buffer": json.dumps(labels).encode()}])
    for box in page.locator("input[name=detectors]").all():
        if box.is_enabled():
            box.set_checked(box.get_attribute("value") == "zscore")


def csv_text(rows):
    return "timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in rows)


def spiky_rows(n=300, spike_at=220):
    rows = [(f"2024-01-01 {i // 60:02d}:{i % 60:02d}:00", 10.0 + (i % 7) * 0.1) for i in range(n)]
    rows[spike_at] = (rows[spike_at][0], 60.0)
    return rows


def test_upload_errors_show_the_servers_message_by_the_field_then_a_good_upload_runs(evaluate, server, problems):
    page = evaluate
    rows = spiky_rows()
    bad = [*rows[:40], (rows[40][0], "n/a"), *rows[41:]]
    upload_csv(page, "bad.csv", csv_text(bad))
    # The published detectors have no scores for an upload: they cannot be chosen.
    expect(page.locator("#detector-numenta")).to_be_disabled()
    page.click("#evaluate-button")
    expected = requests.post(f"{server}/api/evaluations", files={"file": ("bad.csv", csv_text(bad))},
                             data={"detectors": "zscore"}, timeout=10).json()
    assert expected["field"] == "file" and "line 42" in expected["message"]
    expect(page.locator("#file-error")).to_have_text(expected["message"])
    expect(page.locator("#csv-file")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#labels-error")).to_be_hidden()

    # Over the size limit: the server refuses before reading it (413), and the page shows its message there too.
    big = csv_text((f"2024-01-01 00:00:{i % 60:02d}", i) for i in range(30_000))
    assert len(big) > UPLOAD_LIMIT + 256 * 1024
    upload_csv(page, "big.csv", big)
    expect(page.locator("#file-error")).to_be_hidden()  # a new file clears the old message
    with page.expect_response(lambda r: r.url.endswith("/api/evaluations")) as refused:
        page.click("#evaluate-button")
    assert refused.value.status == 413
    expect(page.locator("#file-error")).to_have_text(refused.value.json()["message"])

    # Labels that are not JSON are named as such.
    upload_csv(page, "good.csv", csv_text(rows))
    page.set_input_files("#labels-file", files=[{"name": "labels.json", "mimeType": "application/json",
                                                  "buffer": b"not json"}])
    page.click("#evaluate-button")
    expect(page.locator("#labels-error")).to_contain_text("not JSON")
    expect(page.locator("#file-error")).to_be_hidden()

    # A good upload with its labels: previewed with its window before the run, then scored.
    window = [rows[215][0], rows[240][0]]
    upload_csv(page, "good.csv", csv_text(rows), labels=[window])
    expect(page.locator("#window-count")).to_have_text("1")
    expect(page.locator("#row-count")).to_have_text(str(len(rows)))
    with page.expect_response(lambda r: r.url.endswith("/api/evaluations")) as started:
        page.click("#evaluate-button")
    assert started.value.status == 202
    expect(page.locator("#score-rows tr")).to_have_count(1, timeout=20_000)
    expect(cell(page, "zscore", "windows_detected")).to_have_text("1 of 1")
    expect(page.locator("#series-title")).to_have_text("good.csv")
    assert 220 in marks(page, "series-chart")["zscore"]
    unexpected = [m for m in problems["console"] if "Failed to load resource" not in m]
    assert unexpected == []
    assert problems["outside"] == []
