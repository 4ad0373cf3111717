"""What every browser test checks on a page (no console errors, no request to any host but 127.0.0.1), and its JSON calls."""
from __future__ import annotations

from urllib.parse import urlparse

import requests


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
