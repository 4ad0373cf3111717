"""A small GraphQL endpoint on 127.0.0.1 for the GraphQL tests: a login issuing short-lived tokens, and readings.

It does not parse GraphQL: an operation mentioning ``login`` is the login (its
user and password from the variables or written inline), any other is the data
query, answered as ``{"data": {"line": {"readings": [...], "pressure": N}}}``
with the points newer than ``$since``. Tokens expire by the clock the test
passes in, so a test moves time for the server and the source together.
"""
from __future__ import annotations

import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class GraphQLServer:
    def __init__(self, clock: Callable[[], float], user: str = "operator", password: str = "hunter2-pw",
                 ttl_s: float = 2.0, refuse_with: str = "http"):
        self.clock, self.user, self.password, self.ttl_s = clock, user, password, ttl_s
        self.refuse_with = refuse_with  # "http": 401; "graphql": 200 with an UNAUTHENTICATED error
        self.tokens: dict[str, float] = {}  # token → expires at
        self.issued: list[str] = []
        self.logins = self.failed_logins = self.data_requests = self.refused = 0
        self.points: list[tuple[float, float]] = []
        self.pressure = 4.2
        self.broken = False
        self.refuse_all = False  # refuse every token, even a fresh one (a server whose token check is broken)
        self.sinces: list = []
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._http.server_port}/graphql"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def start(self) -> "GraphQLServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def revoke_all(self) -> None:
        """Forget every token, as a server restart or a key rotation would."""
        with self._lock:
            self.tokens.clear()

    def _answer(self, query: str, variables: dict, authorization: str) -> tuple[int, dict]:
        with self._lock:
            if self.broken:
                return 500, {"errors": [{"message": "internal server error"}]}
            if "login" in query:
                return self._login(query, variables)
            self.data_requests += 1
            token = authorization.removeprefix("Bearer ")
            if self.refuse_all or self.tokens.get(token, float("-inf")) <= self.clock():
                self.refused += 1
                # Echoes the token it refuses, as some servers do: the source must scrub it.
                message = f"not authenticated: token {token or '(none)'} is expired or unknown"
                if self.refuse_with == "http":
                    return 401, {"errors": [{"message": message}]}
                return 200, {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}],
                             "data": None}
            since = variables.get("since")
            self.sinces.append(since)
            now = self.clock()
            points = [{"t": t, "value": v} for t, v in self.points
                      if (since is None or t > float(since)) and t <= now]
            return 200, {"data": {"line": {"readings": points, "pressure": self.pressure}}}

    def _login(self, query: str, variables: dict) -> tuple[int, dict]:
        user = variables.get("user") or _inline(query, "user")
        password = variables.get("password") or _inline(query, "password")
        if (user, password) != (self.user, self.password):
            self.failed_logins += 1
            return 200, {"errors": [{"message": "invalid user name or password"}], "data": {"login": None}}
        self.logins += 1
        token = secrets.token_urlsafe(24)
        self.tokens[token] = self.clock() + self.ttl_s
        self.issued.append(token)
        return 200, {"data": {"login": {"token": token, "expiresIn": self.ttl_s}}}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                status, answer = server._answer(body.get("query", ""), body.get("variables") or {},
                                                self.headers.get("Authorization", ""))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet: the tests read the counters instead
                pass

        return Handler


def _inline(query: str, name: str):
    found = re.search(rf'{name}\s*:\s*"((?:[^"\\]|\\.)*)"', query)
    return found.group(1) if found else None
