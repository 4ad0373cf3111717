"""The dashboard in a real (headless) Chromium against the real app.

`live_server` (tests/conftest.py) runs the app on a temporary database with the
sampler at 10 Hz per sensor and a 20-sample model, so data flows within seconds.
"""
import re
from urllib.parse import urlparse

import pytest
import requests
from playwright.sync_api import expect

SCREENSHOT = "/tmp/linewatch-dashboard.png"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # Wide enough for the two-column layout the wall screens get.
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1000}}


def get_control(base):
    response = requests.get(f"{base}/get_control", timeout=5)
    response.raise_for_status()
    return response.json()


def send_control(base, changes):
    response = requests.post(f"{base}/send_control", json=changes, timeout=5)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def restore_control(live_server):
    """Tests that change line-wide settings must not leak them into other tests."""
    before = get_control(live_server)
    yield
    send_control(live_server, {key: before[key] for key in ("running", "z_threshold", "anomaly_level")})


@pytest.fixture
def problems():
    return {"console": [], "outside": []}


@pytest.fixture
def dashboard(page, live_server, problems):
    """The page, loaded, with console errors and requests to other hosts recorded."""
    allowed_hosts = {"127.0.0.1", urlparse(live_server).hostname}

    def on_request(request):
        url = urlparse(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname not in allowed_hosts:
            problems["outside"].append(request.url)

    page.on("console", lambda msg: msg.type == "error" and problems["console"].append(msg.text))
    page.on("pageerror", lambda err: problems["console"].append(str(err)))
    page.on("request", on_request)
    page.goto(f"{live_server}/")
    return page


def number(page, selector):
    return float(page.locator(selector).text_content())


def wait_number(page, selector, op, value, timeout=10_000):
    """Waits until the number shown in `selector` compares `op` to `value`."""
    page.wait_for_function(
        f"([sel, v]) => Number(document.querySelector(sel).textContent) {op} v",
        arg=[selector, value], timeout=timeout)


def choose_window(page, size):
    page.select_option("#window-select", str(size))


def test_page_loads_without_errors_and_stays_local(dashboard, problems, live_server):
    wait_number(dashboard, "#point-count", ">", 0)
    shown = number(dashboard, "#point-count")
    wait_number(dashboard, "#point-count", ">", shown)  # a few polls have run

    names = [s["name"] for s in requests.get(f"{live_server}/api/sensors", timeout=5).json()["sensors"]]
    options = dashboard.locator("#sensor-select option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == names
    expect(dashboard.locator("#running-badge")).to_have_text("Running")
    expect(dashboard.locator("#server-error")).to_be_hidden()
    assert problems["console"] == []
    assert problems["outside"] == []


def test_points_stream_in_and_the_window_bounds_them(dashboard):
    choose_window(dashboard, 5000)
    wait_number(dashboard, "#point-count", ">", 0)
    before = number(dashboard, "#point-count")
    wait_number(dashboard, "#point-count", ">", before, timeout=5_000)

    choose_window(dashboard, 100)
    wait_number(dashboard, "#point-count", "==", 100, timeout=20_000)
    dashboard.wait_for_timeout(2_000)  # new points keep arriving, the count must not
    assert number(dashboard, "#point-count") == 100


def test_model_completeness_reaches_100(dashboard):
    bar = dashboard.locator("#completeness-bar")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=15_000)
    expect(dashboard.locator("#completeness-text")).to_have_text("100 %")
    expect(dashboard.locator("#baseline-state")).to_have_text(
        re.compile(r"^(learning|tracking|excluding|relearning)$"))
    expect(dashboard.locator("#anomaly-ratio")).to_have_text(re.compile(r"^\d+\.\d\d %$"))


def set_slider(page, selector, value):
    """What a user's drag ends in: a new value and a change event."""
    page.eval_on_selector(
        selector, "(el, v) => { el.value = v; el.dispatchEvent(new Event('change', {bubbles: true})); }",
        str(value))


def test_sliders_reach_the_server_and_other_browsers(dashboard, browser, live_server, restore_control):
    other_context = browser.new_context()
    try:
        other = other_context.new_page()
        other.goto(f"{live_server}/")
        start = get_control(live_server)["z_threshold"]
        expect(other.locator("#z-threshold-value")).to_have_text(f"{start:.1f}")

        set_slider(dashboard, "#z-threshold", 4.5)
        expect(dashboard.locator("#z-threshold-value")).to_have_text("4.5")
        assert get_control(live_server)["z_threshold"] == pytest.approx(4.5)
        expect(other.locator("#z-threshold")).to_have_value("4.5", timeout=2_000)
        expect(other.locator("#z-threshold-value")).to_have_text("4.5", timeout=2_000)

        set_slider(dashboard, "#anomaly-level", 40)
        expect(dashboard.locator("#anomaly-level-value")).to_have_text("40 %")
        assert get_control(live_server)["anomaly_level"] == pytest.approx(40)

        send_control(live_server, {"z_threshold": 6.2})  # e.g. from a script or a third screen
        expect(dashboard.locator("#z-threshold")).to_have_value("6.2", timeout=2_000)
    finally:
        other_context.close()


def test_stop_and_start(dashboard, live_server, restore_control):
    badge = dashboard.locator("#running-badge")
    button = dashboard.locator("#start-stop")
    expect(badge).to_have_text("Running")

    button.click()
    expect(badge).to_have_text("Stopped")
    expect(button).to_have_text("Start")
    assert get_control(live_server)["running"] is False

    button.click()
    expect(badge).to_have_text("Running")
    expect(button).to_have_text("Stop")
    assert get_control(live_server)["running"] is True


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


def test_server_errors_are_shown_and_clear(dashboard):
    wait_number(dashboard, "#point-count", ">", 0)
    dashboard.route("**/get_data?*", lambda route: route.fulfill(
        status=404, json={"error": "unknown_sensor", "message": "No such sensor: pump", "field": "sensor"}))
    error = dashboard.locator("#server-error")
    expect(error).to_contain_text("No such sensor: pump")

    dashboard.unroute("**/get_data?*")
    expect(error).to_be_hidden(timeout=12_000)  # after the error backoff


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
    dashboard.on("request", lambda r: "/get_data" in r.url and polls.append(r.url))
    dashboard.wait_for_timeout(3_000)
    assert polls == []

    with dashboard.expect_request(lambda r: "/get_data" in r.url, timeout=2_000):
        set_hidden(dashboard, False)


def test_injected_spike_shows_anomalies(dashboard, live_server):
    choose_window(dashboard, 5000)  # so no anomaly scrolls out while we wait
    expect(dashboard.locator("#completeness-bar")).to_have_attribute("aria-valuenow", "100", timeout=15_000)
    wait_number(dashboard, "#point-count", ">", 30)
    before = number(dashboard, "#anomaly-count")

    dashboard.select_option("#scenario-kind", "spike")
    dashboard.fill("#scenario-duration", "5")
    with dashboard.expect_response(lambda r: r.request.method == "POST" and "scenarios" in r.url) as info:
        dashboard.click("#inject")
    assert info.value.status == 201
    sensor = dashboard.locator("#sensor-select").input_value()
    assert info.value.request.post_data_json == {"sensor": sensor, "kind": "spike", "duration_s": 5}
    expect(dashboard.locator("#scenario-status")).to_contain_text("spike")

    wait_number(dashboard, "#anomaly-count", ">", before, timeout=15_000)
    dashboard.wait_for_timeout(1_500)  # let the screenshot show some points after the spike
    dashboard.screenshot(path=SCREENSHOT, full_page=True)
