"""A small HTTP server speaking the Prometheus query API on 127.0.0.1, for the PromQL source's tests.

``/api/v1/query`` and ``/api/v1/query_range`` answer from fixed series: each
query names a list of series (labels and a function of time giving the value
as Prometheus writes it, a string), a scalar, or an error. It records every
request (path, parameters, Authorization header) and can demand a bearer token.
"""
from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional


class PromQLServer:
    def __init__(self, token: Optional[str] = None):
        self.token = token
        self.series: dict[str, list[tuple[dict, Callable[[float], str]]]] = {}
        self.scalars: dict[str, str] = {}
        self.errors: dict[str, tuple[int, str, str]] = {}  # query → (HTTP status, errorType, error)
        self.requests: list[tuple[str, dict, str]] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def start(self) -> "PromQLServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _answer(self, path: str, params: dict, authorization: str) -> tuple[int, dict]:
        self.requests.append((path, params, authorization))
        if self.token is not None and authorization != f"Bearer {self.token}":
            return 401, {"status": "error", "errorType": "unauthorized", "error": "missing or wrong bearer token"}
        query = params.get("query", "")
        if query in self.errors:
            status, kind, text = self.errors[query]
            return status, {"status": "error", "errorType": kind, "error": text}
        if path == "/api/v1/query":
            t = float(params["time"])
            if query in self.scalars:
                return 200, _ok("scalar", [t, self.scalars[query]])
            return 200, _ok("vector", [{"metric": labels, "value": [t, value(t)]}
                                       for labels, value in self.series.get(query, [])])
        if path == "/api/v1/query_range":
            start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
            times = [start + i * step for i in range(int((end - start) / step + 1e-9) + 1)]
            return 200, _ok("matrix", [{"metric": labels, "values": [[t, value(t)] for t in times]}
                                       for labels, value in self.series.get(query, [])])
        return 404, {"status": "error", "errorType": "not_found", "error": f"no route {path}"}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(parts.query))
                status, answer = server._answer(parts.path, params, self.headers.get("Authorization", ""))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


def _ok(kind: str, result) -> dict:
    return {"status": "success", "data": {"resultType": kind, "result": result}}
