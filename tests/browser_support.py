"""What every browser test checks on a page: no console errors, and no request to any host but 127.0.0.1."""
from __future__ import annotations

from urllib.parse import urlparse


def watch(page, found: dict) -> None:
    """Record the page's console errors in ``found["console"]`` and outside requests in ``found["outside"]``."""
    def on_request(request):
        url = urlparse(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname != "127.0.0.1":
            found["outside"].append(request.url)

    page.on("console", lambda msg: msg.type == "error" and found["console"].append(msg.text))
    page.on("pageerror", lambda err: found["console"].append(str(err)))
    page.on("request", on_request)
