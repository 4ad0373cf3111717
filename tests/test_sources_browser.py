"""The dashboard's Sources panel in a real (headless) Chromium against the real app.

One live app for the module (sampler at 10 Hz per sensor). Tests run in file
order and build on each other: a connection test fails while no file is
uploaded; a bad speed is refused beside its field; then a CSV is uploaded,
configured, tested and switched to, and the replayed sensor reaches the
dashboard; last, the push instructions, and back to the simulator.
"""
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from playwright.sync_api import expect

from tests.browser_support import watch
from tests.conftest import sampling_server

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot-sources.png"
ROWS = 120
REPLAY_CSV = "timestamp,value\n" + "".join(
    f"2024-03-01 06:{i // 60:02d}:{i % 60:02d},{40 + 3 * (i % 5)}\n" for i in range(ROWS))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One live app for the module; its URL."""
    with sampling_server(tmp_path_factory.mktemp("sources")) as server:
        yield server.url


def sources(server):
    response = requests.get(f"{server}/api/sources", timeout=5)
    response.raise_for_status()
    return response.json()


def replay_entry(server):
    return next(p for p in sources(server)["pull"] if p["kind"] == "csv_replay")


def newest_id(server):
    """The id of the newest stored reading of any sensor."""
    return max(s["last_id"] or 0 for s in requests.get(f"{server}/api/sensors", timeout=5).json()["sensors"])


def unexpected(console, *statuses):
    """Console errors other than the browser's own line for a response with one of `statuses`."""
    expected = [f"the server responded with a status of {status}" for status in statuses]
    return [m for m in console if not any(e in m for e in expected)]


def sensor_names(server):
    return [s["name"] for s in requests.get(f"{server}/api/sensors", timeout=5).json()["sensors"]]


@pytest.fixture
def panel(page, server, problems):
    """The dashboard scrolled to its Sources panel; console errors and outside requests recorded."""
    watch(page, problems)
    page.goto(f"{server}/")
    expect(page.locator("#source-csv_replay")).to_be_attached()
    page.locator("#sources").scroll_into_view_if_needed()
    return page


def open_replay(page):
    block = page.locator("#source-csv_replay")
    if block.get_attribute("open") is None:
        block.locator("summary").click()
    expect(page.locator("#source-csv_replay-speed")).to_be_visible()
    return block


def switch_to(page, kind):
    """Chooses `kind` in the line's source list and confirms; returns the POST /send_control answer."""
    page.select_option("#sources-active", kind)
    with page.expect_response(lambda r: r.request.method == "POST" and "send_control" in r.url) as sent:
        page.click("#sources-switch")
    assert sent.value.ok, sent.value.text()
    return sent.value.json()


def test_the_source_list_and_a_failing_connection_test(panel, server, problems):
    options = panel.locator("#sources-active option")
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert values[:2] == ["simulator", "push"]
    assert set(values[2:]) == {p["kind"] for p in sources(server)["pull"]}
    expect(panel.locator("#sources-active")).to_have_value("simulator")
    expect(panel.locator("#sources-now-label")).to_have_text(re.compile("Simulator"))

    # Each pull kind's form comes from the fields the API describes.
    block = open_replay(panel)
    fields = replay_entry(server)["fields"]
    for name, spec in fields.items():
        field = block.locator(f"#source-csv_replay-{name}")
        expect(field).to_have_attribute("type", {"str": "text", "float": "number", "bool": "checkbox"}[spec["type"]])
        expect(block.locator(f"label[for='source-csv_replay-{name}']")).to_be_visible()
    expect(block.locator("#source-csv_replay-speed")).to_have_value("1")
    expect(block.locator("#source-csv_replay-loop")).to_be_checked()
    expect(block.locator(".source-badges [data-state]")).to_have_text("stopped")

    # No file yet: the server's 502 in red.
    with panel.expect_response(lambda r: r.url.endswith("/api/sources/csv_replay/test")) as tried:
        block.get_by_role("button", name="Test connection").click()
    assert tried.value.status == 502
    result = block.locator(".source-form [role='status']")
    expect(result).to_have_text(re.compile(r"✗ Connection failed: .*no file uploaded yet"))
    expect(result).to_have_class(re.compile("is-error"))
    assert unexpected(problems["console"], 502) == []
    assert problems["outside"] == []


def test_a_bad_speed_is_refused_beside_its_field(panel, server):
    block = open_replay(panel)
    block.locator("#source-csv_replay-speed").fill("5000")
    with panel.expect_response(lambda r: r.request.method == "PUT") as saved:
        block.get_by_role("button", name="Save settings").click()
    assert saved.value.status == 400
    assert saved.value.json()["field"] == "speed"
    error = block.locator("#source-csv_replay-speed-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(saved.value.json()["message"])
    expect(block.locator("#source-csv_replay-speed")).to_have_attribute("aria-invalid", "true")
    assert replay_entry(server)["config"]["speed"] == 1.0  # nothing stored

    # A poll does not overwrite the box being edited.
    with panel.expect_response(lambda r: urlparse(r.url).path == "/api/sources"):
        pass
    expect(block.locator("#source-csv_replay-speed")).to_have_value("5000")
    block.get_by_role("button", name="Undo my edits").click()
    expect(block.locator("#source-csv_replay-speed")).to_have_value("1")


def test_replay_a_csv_into_the_line(panel, server, problems):
    block = open_replay(panel)
    panel.set_input_files("#sources-replay-file",
                          {"name": "press.csv", "mimeType": "text/csv", "buffer": REPLAY_CSV.encode()})
    with panel.expect_response(lambda r: r.url.endswith("/api/sources/csv_replay/file")) as uploaded:
        block.get_by_role("button", name="Upload").click()
    assert uploaded.value.status == 201
    expect(panel.locator("#sources-replay-status")).to_have_text(re.compile(rf"press\.csv: {ROWS} rows"))

    block.locator("#source-csv_replay-sensor").fill("press_force")
    block.locator("#source-csv_replay-speed").fill("100")
    with panel.expect_response(lambda r: r.request.method == "PUT") as saved:
        block.get_by_role("button", name="Save settings").click()
    assert saved.value.status == 200, saved.value.text()
    result = block.locator(".source-form [role='status']")
    expect(result).to_have_text("✓ Saved.")
    assert replay_entry(server)["config"] == {"sensor": "press_force", "speed": 100.0, "loop": True}

    with panel.expect_response(lambda r: r.url.endswith("/api/sources/csv_replay/test")) as tried:
        block.get_by_role("button", name="Test connection").click()
    assert tried.value.status == 200
    expect(result).to_have_text(re.compile(rf"✓ press\.csv: {ROWS} rows .*into press_force"))
    expect(result).to_have_class(re.compile("is-done"))

    # Choosing it explains what switching does; Switch confirms.
    panel.select_option("#sources-active", "csv_replay")
    expect(panel.locator("#sources-switch-note")).to_have_text(re.compile("stops the simulator"))
    control = switch_to(panel, "csv_replay")
    assert control["source"] == "csv_replay"
    expect(panel.locator("#sources-switch-status")).to_have_text(
        re.compile(r"✓ The line now reads from CSV replay\. The simulator has stopped\."))
    expect(block.locator(".source-active")).to_be_visible(timeout=5_000)
    expect(block.locator(".source-badges [data-state]")).to_have_text("running", timeout=8_000)
    readings = block.locator("[data-status='readings']")
    expect(readings).not_to_have_text("0", timeout=8_000)
    expect(block.locator("[data-status='last_success']")).to_have_text(re.compile(r"s ago"))
    entry = replay_entry(server)
    assert entry["status"]["state"] == "running"
    assert entry["status"]["readings_total"] > 0
    assert sources(server)["active"] == "csv_replay"
    assert "press_force" in sensor_names(server)  # registered by its first reading

    panel.locator("#sources").scroll_into_view_if_needed()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    panel.locator("#sources").screenshot(path=str(SCREENSHOT))

    # The dashboard loads its sensor list once, at page load: a new sensor shows after a reload.
    panel.reload()
    card = panel.locator("#overview [data-sensor='press_force']")
    expect(card).to_be_visible()
    expect(panel.locator("#sensor-select option[value='press_force']")).to_be_attached()
    card.click()
    expect(panel.locator("#sensor-title")).to_have_text("press_force")
    expect(panel.locator("#point-count")).not_to_have_text("0", timeout=8_000)
    assert problems["console"] == []
    assert problems["outside"] == []


def test_push_instructions_then_back_to_the_simulator(panel, server, problems):
    expect(panel.locator("#sources-push")).to_be_hidden()
    expect(panel.locator("#sources-active")).to_have_value("csv_replay")
    control = switch_to(panel, "push")
    assert control["source"] == "push"
    push = panel.locator("#sources-push")
    expect(push).to_be_visible()
    expect(panel.locator("#sources-switch-status")).to_have_text(
        re.compile(r"now reads from Push.*CSV replay has stopped"))
    expect(push).to_contain_text("flask token create NAME")
    expect(push).to_contain_text("only 127.0.0.1 may push")
    example = panel.locator("#sources-push-json").text_content()
    assert "Authorization: Bearer" in example and f"{server}/api/readings" in example
    assert "Content-Type: text/csv" in panel.locator("#sources-push-csv").text_content()
    expect(panel.locator("#sources-queue")).to_have_text(re.compile("empty|waiting"))
    expect(panel.locator("#source-csv_replay .source-badges [data-state]")).to_have_text("stopped", timeout=8_000)

    # The examples work as shown (no token exists, so from 127.0.0.1 without the header).
    for example_id in ("sources-push-json", "sources-push-csv"):
        command = panel.locator(f"#{example_id}").text_content()
        command = command.replace("-H 'Authorization: Bearer YOUR_TOKEN' \\\n", "")
        assert "YOUR_TOKEN" not in command
        if shutil.which("curl") is None:
            continue
        done = subprocess.run(["bash", "-c", f"{command} -s -o /dev/null -w '%{{http_code}}'"],
                              capture_output=True, text=True, timeout=10)
        assert done.stdout == "201", (done.stdout, done.stderr, command)

    before = newest_id(server)
    control = switch_to(panel, "simulator")
    assert control["source"] == "simulator"
    expect(panel.locator("#sources-switch-status")).to_have_text(re.compile(r"✓ The line now reads from Simulator"))
    expect(push).to_be_hidden()
    assert sources(server)["active"] == "simulator"
    deadline = time.time() + 5
    while newest_id(server) <= before:  # the simulator makes readings again
        assert time.time() < deadline, "the simulator did not start again"
        time.sleep(0.2)
    assert problems["console"] == []
    assert problems["outside"] == []
