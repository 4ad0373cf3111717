"""The Detectors panel, a reading's verdicts, disagreement marks and the forecast band, in a real Chromium.

One live app for the module (the sampler at 10 Hz per sensor, a 20-reading
model). Each test sets the detectors it needs through the API or the panel, and
puts the line-wide settings it changes back.
"""
import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.browser_support import click_reading, send_control, watch
from tests.conftest import sampling_server

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot-detectors.png"
SENSOR = "vibration"  # the first sensor: the one the page selects
Z_WHY = re.compile(r"^z = \(\S+ − \S+\) / \S+ = \S+(, within ±| [<>] )\S+$")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One live app for the module; its URL."""
    with sampling_server(tmp_path_factory.mktemp("detectors")) as server:
        yield server.url


def chosen(base, sensor=SENSOR):
    return requests.get(f"{base}/api/detectors", timeout=5).json()["sensors"][sensor]


def catalogue(base):
    return [d["name"] for d in requests.get(f"{base}/api/detectors", timeout=5).json()["detectors"]]


@pytest.fixture
def reset(server):
    """Every test starts and ends with the z-score alone on a calm line."""
    settings = {"sensor": SENSOR, "detectors": "", "verdict_source": "zscore"}
    send_control(server, settings)
    yield
    send_control(server, settings)
    send_control(server, {"anomaly_level": 0.0})


@pytest.fixture
def dashboard(page, server, problems, reset):
    """The page, loaded and drawing readings, with console errors and outside requests recorded."""
    watch(page, problems)
    page.goto(f"{server}/")
    page.wait_for_function("() => Chart.getChart('value-chart')?.data.datasets[1].data.length > 0", timeout=15_000)
    return page


def legend(page):
    return page.evaluate("() => Chart.getChart('value-chart').legend.legendItems.map((i) => i.text)")


def series(page, label):
    return page.evaluate(
        "(label) => Chart.getChart('value-chart').data.datasets.find((d) => d.label.startsWith(label))", label)


def click_point_where(page, test):
    """Clicks the newest reading whose API point passes `test` (JS, given the point); its time."""
    return click_reading(page, f"(p) => ({test})(p.src)")


def verdict_rows(page):
    """The verdict table as {detector: {verdict, why, counts}}."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#verdicts-rows tr')].map((tr) => [
        tr.dataset.detector,
        {verdict: tr.cells[1].textContent, score: tr.cells[2].textContent, why: tr.cells[3].textContent,
         counts: tr.dataset.counts === 'true'},
    ]))""")


def test_detectors_are_chosen_in_the_panel_stored_and_offered_as_the_verdict(dashboard, server, problems):
    page = dashboard
    names = catalogue(server)
    page.click("#detectors-choose summary")
    boxes = page.locator("#detectors-choices input[type=checkbox]")
    expect(boxes).to_have_count(len(names))
    assert boxes.evaluate_all("bs => bs.map((b) => b.value)") == names
    expect(page.locator("#detectors-choices")).to_contain_text("distance from the median")
    expect(page.locator("#detectors-on")).to_have_text("none")

    page.get_by_label("robust_zscore", exact=True).check()
    page.get_by_label("knn", exact=True).check()
    with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as info:
        page.click("#detectors-save")
    assert info.value.request.post_data_json == {"sensor": SENSOR, "detectors": "robust_zscore,knn"}
    expect(page.locator("#detectors-status")).to_contain_text("runs robust_zscore, knn")
    assert chosen(server)["detectors"] == ["robust_zscore", "knn"]
    assert chosen(server, "motor_temperature")["detectors"] == []
    expect(page.locator("#detectors-on")).to_have_text("robust_zscore, knn")

    # The verdict source offers the chosen detectors, and one of them can be the verdict that counts.
    options = page.locator("#verdict-source option")
    expect(options).to_have_count(6)
    assert options.evaluate_all("os => os.map((o) => o.value)")[4:] == ["robust_zscore", "knn"]
    page.select_option("#verdict-source", "robust_zscore")
    expect(page.locator("#verdict-meaning")).to_contain_text("robust_zscore alone")
    for _ in range(30):
        if chosen(server)["verdict_source"] == "robust_zscore":
            break
        page.wait_for_timeout(100)
    assert chosen(server)["verdict_source"] == "robust_zscore"

    # Too many: the server's refusal is shown beside the panel, and nothing is stored.
    for name in names[:7]:
        page.locator(f"#detectors-choices input[value='{name}']").check()
    page.click("#detectors-save")
    expect(page.locator("#detectors-status")).to_contain_text("at most 6 detectors per sensor")
    assert chosen(server)["detectors"] == ["robust_zscore", "knn"]
    assert [p for p in problems["console"] if "400" not in p] == []
    assert problems["outside"] == []


def test_a_readings_verdict_table_lists_every_detector_and_why(dashboard, server, problems):
    page = dashboard
    send_control(server, {"sensor": SENSOR, "detectors": "robust_zscore,knn"})
    expect(page.locator("#detectors-on")).to_have_text("robust_zscore, knn")
    # Chosen mid-session, the detectors learn from the stored readings first: scores come at once.
    page.wait_for_function("""() => Chart.getChart('value-chart').data.datasets[1].data
        .some((p) => p.src.detectors?.robust_zscore?.score != null && p.src.z !== null)""", timeout=15_000)
    page.click("#pause-view")
    expect(page.locator("#verdicts")).to_be_hidden()
    t = click_point_where(page, "(p) => p.detectors?.robust_zscore?.score != null && p.z !== null")

    expect(page.locator("#verdicts")).to_be_visible()
    rows = verdict_rows(page)
    assert list(rows) == ["zscore", "robust_zscore", "knn"]
    assert Z_WHY.match(rows["zscore"]["why"]), rows["zscore"]
    assert rows["robust_zscore"]["why"].startswith("median ") and "score" in rows["robust_zscore"]["why"]
    assert rows["knn"]["why"]  # its why, or that it is still warming up
    for row in rows.values():
        assert row["verdict"] in ("⚠ flagged", "✓ normal", "… warming up")
    # The z-score's verdict counts (the default source), and says so in words.
    assert [k for k, r in rows.items() if r["counts"]] == ["zscore"]
    expect(page.locator("#verdicts-rows tr[data-counts=true] th")).to_contain_text("★ counts")
    assert page.evaluate("() => Chart.getChart('value-chart').options.plugins.annotation.annotations.selected.xMin") == t
    # Choosing another verdict source later does not rewrite history: this reading was judged by the z-score.
    send_control(server, {"sensor": SENSOR, "verdict_source": "robust_zscore"})
    expect(page.locator("#verdict-source")).to_have_value("robust_zscore")  # the page has the new setting
    page.wait_for_timeout(1_200)  # and has rendered with it (the next tick)
    assert [k for k, r in verdict_rows(page).items() if r["counts"]] == ["zscore"]
    send_control(server, {"sensor": SENSOR, "verdict_source": "zscore"})

    # The keyboard picks readings too: ← the one before, Escape none.
    caption = page.locator("#verdicts-caption").text_content()
    page.focus("#value-chart")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#verdicts-caption")).not_to_have_text(caption)
    page.keyboard.press("End")
    expect(page.locator("#verdicts-rows tr")).to_have_count(3)
    page.keyboard.press("Escape")
    expect(page.locator("#verdicts")).to_be_hidden()
    page.click("#pause-view")
    assert problems["console"] == []
    assert problems["outside"] == []


def test_readings_where_the_detectors_split_are_ringed_and_explained(dashboard, server, problems):
    page = dashboard
    send_control(server, {"sensor": SENSOR, "detectors": "robust_zscore"})
    send_control(server, {"anomaly_level": 60.0})
    # The mean/std z-score and the median/MAD one do not always agree on a disturbed line.
    page.wait_for_function("""() => Chart.getChart('value-chart').data.datasets
        .find((d) => d.label === 'detectors disagree').data.length >= 1""", timeout=30_000)
    ring = series(page, "detectors disagree")
    assert ring["pointStyle"] == "circle" and ring["backgroundColor"] == "transparent"
    assert "detectors disagree" in legend(page)

    page.click("#pause-view")
    click_point_where(page, "(p) => p.disagree")
    expect(page.locator("#verdicts-split")).to_be_visible()
    expect(page.locator("#verdicts-split")).to_have_text(re.compile(r"^Detectors disagree: flagged by .+; not by .+\.$"))
    verdicts = [row["verdict"] for row in verdict_rows(page).values()]
    assert "⚠ flagged" in verdicts and "✓ normal" in verdicts
    page.click("#pause-view")
    assert problems["console"] == []
    assert problems["outside"] == []


def test_the_forecast_is_drawn_ahead_of_the_live_line_with_its_band(browser, server, problems, reset):
    if "forecast" not in catalogue(server):
        pytest.skip("no forecasting detector registered")
    send_control(server, {"anomaly_level": 30.0})
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, color_scheme="light")
    try:
        page = context.new_page()
        watch(page, problems)
        page.goto(f"{server}/")
        page.click("#detectors-choose summary")
        page.get_by_label("robust_zscore", exact=True).check()
        page.get_by_label("forecast", exact=True).check()
        page.click("#detectors-save")
        expect(page.locator("#detectors-status")).to_contain_text("runs robust_zscore, forecast")
        assert chosen(server)["detectors"] == ["robust_zscore", "forecast"]

        page.wait_for_function("""() => Chart.getChart('value-chart').data.datasets
            .find((d) => d.label.startsWith('Forecast ('))?.data.length > 0""", timeout=60_000)
        drawn = page.evaluate("""() => {
            const chart = Chart.getChart('value-chart');
            const find = (start) => chart.data.datasets.find((d) => d.label.startsWith(start));
            const mean = find('Forecast ('), high = find('Forecast band'), low = find('Forecast low');
            const value = chart.data.datasets[1].data;
            return {
                mean: mean.data, high: high.data, low: low.data, dash: mean.borderDash, fill: high.fill,
                newest: value.at(-1).x, axisMax: chart.scales.x.max,
                legend: chart.legend.legendItems.map((i) => i.text),
            };
        }""")
        assert drawn["dash"] and drawn["fill"] == "+1"
        assert len(drawn["mean"]) == len(drawn["high"]) == len(drawn["low"])
        assert all(lo["y"] <= m["y"] <= hi["y"] for lo, m, hi in zip(drawn["low"], drawn["mean"], drawn["high"]))
        assert drawn["mean"][-1]["x"] > drawn["newest"]  # ahead of the live line
        assert drawn["axisMax"] >= drawn["mean"][-1]["x"]  # and the axis makes room for it
        assert "Forecast (forecast)" in drawn["legend"]
        assert "Forecast band (forecast, low–high)" in drawn["legend"]
        # The other live charts keep the same time axis.
        assert page.evaluate("() => Chart.getChart('ratio-chart').scales.x.max") == pytest.approx(drawn["axisMax"])

        # The forecasting detector explains a reading in the verdict table.
        page.wait_for_function("""() => Chart.getChart('value-chart').data.datasets[1].data
            .some((p) => p.src.detectors?.forecast?.why)""", timeout=30_000)
        page.click("#pause-view")
        # For the picture, a reading the detectors split on, if one is in view.
        explained = "(p) => p.detectors?.forecast?.why && p.detectors?.robust_zscore?.why"
        split = page.evaluate(f"() => Chart.getChart('value-chart').data.datasets[1].data.some((p) => p.src.disagree "
                              f"&& ({explained})(p.src))")
        click_point_where(page, f"(p) => p.disagree && ({explained})(p)" if split else explained)
        rows = verdict_rows(page)
        assert rows["forecast"]["why"].startswith("forecast ")
        page.locator("#value-chart").evaluate("(el) => el.closest('.card').scrollIntoView({behavior: 'instant'})")
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        page.click("#pause-view")

        # Without a forecasting detector the band is gone, from the chart and its legend.
        page.get_by_label("forecast", exact=True).uncheck()
        page.click("#detectors-save")
        expect(page.locator("#detectors-status")).to_contain_text("runs robust_zscore beside")
        page.wait_for_function("""() => Chart.getChart('value-chart').data.datasets
            .filter((d) => d.label.startsWith('Forecast')).every((d) => d.data.length === 0)""", timeout=10_000)
        assert not [text for text in legend(page) if text.startswith("Forecast")]
        assert problems["console"] == []
        assert problems["outside"] == []
    finally:
        context.close()
