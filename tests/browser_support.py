"""What every browser test checks on a page (no console errors, no request to any host but 127.0.0.1), and its JSON calls."""
from __future__ import annotations

from urllib.parse import urlparse

import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout


def api_get(base, path, **params):
    """The JSON answer of a GET on the live server; an HTTP error fails the test."""
    response = requests.get(f"{base}{path}", params=params, timeout=5)
    response.raise_for_status()
    return response.json()


def send_control(base, changes):
    """POST /send_control on the live server (as the dashboard's controls do); the JSON answer."""
    response = requests.post(f"{base}/send_control", json=changes, timeout=5)
    response.raise_for_status()
    return response.json()


def watch(page, found: dict) -> None:
    """Record the page's console errors in ``found["console"]`` and outside requests in ``found["outside"]``."""
    def on_request(request):
        url = urlparse(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname != "127.0.0.1":
            found["outside"].append(request.url)

    page.on("console", lambda msg: msg.type == "error" and found["console"].append(msg.text))
    page.on("pageerror", lambda err: found["console"].append(str(err)))
    page.on("request", on_request)


# A number the page shows and a test compares with the server's must be formatted by one rule: the page's own
# (static/js/lib/format.js). Python's format and JavaScript's toFixed round some halves apart (a flag rate of
# 5.625 % reads "5.63 %" on the page and "5.62 %" from f"{x:.2f}"), so a test never formats such a number itself.
_PAGE_FORMAT = """async ([name, args]) => {
    // format.js beside the page's entry module (url_for decides where that is): the same module the page uses.
    const entry = document.querySelector('script[type="module"]').src;
    const format = await import(new URL('../lib/format.js', entry));
    return format[name](...args);
}"""


def as_shown(page, formatter: str, *args) -> str:
    """What the page shows for ``args`` through its format.js's ``formatter`` (formatNumber, formatPercent, …)."""
    return page.evaluate(_PAGE_FORMAT, [formatter, list(args)])


def click_reading(page, test: str, attempts: int = 5) -> float:
    """Clicks the newest reading on the value chart whose chart point passes ``test`` (JS, given ``{x, src}``:
    the time and the API point) and waits until the page shows it as the selected reading; its time.

    The chart is scrolled into view first (a click outside the viewport reaches nothing). Readings are a few
    pixels apart at 10 Hz: a chart that moved between finding the reading and clicking it (a late live
    update, a toast that scrolled the page) selects a neighbour, and the click is made again.
    """
    selected = "(t) => Chart.getChart('value-chart').options.plugins.annotation.annotations.selected?.xMin === t"
    for _ in range(attempts):
        page.locator("#value-chart").scroll_into_view_if_needed()
        found = page.evaluate(f"""() => {{
            const chart = Chart.getChart('value-chart');
            const data = chart.data.datasets[1].data;
            const i = data.findLastIndex((p) => ({test})(p));
            if (i < 0) return null;
            const element = chart.getDatasetMeta(1).data[i];
            return {{x: element.x, y: element.y, t: data[i].x}};
        }}""")
        assert found, f"no reading on the chart passes {test}"
        box = page.locator("#value-chart").bounding_box()
        page.mouse.click(box["x"] + found["x"], box["y"] + found["y"])
        try:
            # Chart.js handles a click on the next animation frame.
            page.wait_for_function(selected, arg=found["t"], timeout=2_000)
            return found["t"]
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"clicking the reading at {found['t']} did not select it in {attempts} tries")
