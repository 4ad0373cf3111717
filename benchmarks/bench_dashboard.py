"""Dashboard benchmark: network bytes per poll and JS heap after N minutes, beside a naive page.

    .venv/bin/python benchmarks/bench_dashboard.py [--minutes 10]

A live app (temporary SQLite, sampler at 10 readings/s per sensor) serves two
pages at once, each in its own Chromium context:

* Linewatch: the dashboard as shipped, its window set to 1000 points, polling
  only what is new (``since``).
* baseline: a loop in a page of the same origin that refetches the whole window
  every second (``/get_data?window=1000`` without ``since``) and holds the
  latest answer, as a naive page would. It draws nothing, so its heap is a
  floor for such a page, not its full cost.

Bytes are what Chromium's network stack reports per finished response
(headers and body as sent, from the DevTools protocol), divided by the number
of poll cycles (one ``/get_data`` request each); the static files of the first
load are left out. The heap is ``Runtime.getHeapUsage`` right after a forced
garbage collection, once after a warm-up and once at the end.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from table import print_table  # noqa: E402  (this folder)

from app import create_app  # noqa: E402
from helpers.runtime.service import SamplerThread  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WINDOW = 1000
# Until a full window of readings exists at 10/s, so both pages show WINDOW points from the start.
WARM_UP_S = WINDOW / 10 + 5

BASELINE_LOOP = """async ([url, sensor, window]) => {
    // Like a page with setTimeout polling: wait for the answer, then a second.
    window.baselineStop = false;
    while (!window.baselineStop) {
        const response = await fetch(`${url}?sensor=${sensor}&window=${window}`, {cache: 'no-store'});
        window.held = await response.json();
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
}"""


class Meter:
    """Counts one page's response bytes and poll cycles through the DevTools protocol."""

    def __init__(self, context, page):
        self.cdp = context.new_cdp_session(page)
        self.counting = False
        self.bytes = 0
        self.polls = 0
        self.cdp.send("Network.enable")
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event):
        if self.counting and "/get_data" in event["request"]["url"]:
            self.polls += 1

    def _finished(self, event):
        if self.counting:
            self.bytes += event["encodedDataLength"]

    def start(self):
        self.counting = True

    def heap(self):
        """Used JS heap in bytes, after a forced garbage collection."""
        self.cdp.send("HeapProfiler.enable")
        self.cdp.send("HeapProfiler.collectGarbage")
        return self.cdp.send("Runtime.getHeapUsage")["usedSize"]


def serve(tmp):
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "SAMPLER_AUTOSTART": False,
                      "SAMPLE_RATE_HZ": 10.0, "SIMULATOR_SEED": 1})
    sampler = SamplerThread(app).start()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server, sampler


def megabytes(n):
    return f"{n / 1e6:.2f} MB"


def kilobytes(n):
    return f"{n / 1e3:.1f} kB"


def run(minutes):
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        base, server, sampler = serve(Path(tmp))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ours_context = browser.new_context(viewport={"width": 1920, "height": 1080})
            ours = ours_context.new_page()
            ours_meter = Meter(ours_context, ours)
            ours.goto(f"{base}/")
            ours.select_option("#window-select", str(WINDOW))

            base_context = browser.new_context()
            baseline = base_context.new_page()
            base_meter = Meter(base_context, baseline)
            baseline.goto(f"{base}/healthz")  # any page of the same origin, so fetch needs no CORS

            # Waiting through Playwright (not time.sleep) handles the warm-up's events now, uncounted.
            ours.wait_for_timeout(WARM_UP_S * 1000)
            ours_meter.start()
            base_meter.start()
            baseline.evaluate(f"() => {{ ({BASELINE_LOOP})(['{base}/get_data', 'vibration', {WINDOW}]); }}")
            heap_start = (ours_meter.heap(), base_meter.heap())

            deadline = time.monotonic() + minutes * 60
            while time.monotonic() < deadline:
                # Keeps Playwright's event loop turning, so the CDP events are counted as they come.
                ours.wait_for_timeout(1000)
            heap_end = (ours_meter.heap(), base_meter.heap())
            baseline.evaluate("() => { window.baselineStop = true; }")
        finally:
            browser.close()
            server.shutdown()
            sampler.stop()

    rows = [("page", "polls", "bytes/poll", "JS heap after warm-up", f"JS heap after {minutes:g} min", "heap growth")]
    for name, meter, start, end in (("Linewatch (since)", ours_meter, heap_start[0], heap_end[0]),
                                    (f"baseline (window={WINDOW}, no since)", base_meter,
                                     heap_start[1], heap_end[1])):
        per_poll = meter.bytes / meter.polls if meter.polls else float("nan")
        rows.append((name, str(meter.polls), kilobytes(per_poll), megabytes(start), megabytes(end),
                     f"{(end - start) / 1e6:+.2f} MB"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long both pages run after the warm-up")
    args = parser.parse_args()
    rows = run(args.minutes)
    print(f"python {sys.version.split()[0]}, Chromium {CHROMIUM}, 4 sensors at 10 readings/s each, "
          f"warm-up {WARM_UP_S:g} s")
    print_table(rows)


if __name__ == "__main__":
    main()
