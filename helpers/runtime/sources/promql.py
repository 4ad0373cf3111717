"""PromQL: one query per sensor against a Prometheus-compatible HTTP API (Prometheus, VictoriaMetrics, Thanos).

``range`` mode asks ``/api/v1/query_range`` for the steps since the last poll, on
a grid of ``step_s`` so repeated polls land on the same times; ``instant`` mode
asks ``/api/v1/query`` for the value now. Each query must come back as one
series: several are refused, naming the query, so the user aggregates them.
"""
from __future__ import annotations

import base64
import http.client
import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Optional

from helpers.core.formats.ingest import SENSOR_NAME_MAX
from helpers.runtime.sources.base import ConfigError, PullSource, Reading, SourceError

MODES = ("range", "instant")
# A query answered with several series: the error lists this many of them.
SHOWN_SERIES = 3


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it would send the credentials to wherever it points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# Shared with the GraphQL source: no redirects followed.
NO_REDIRECT = urllib.request.build_opener(_NoRedirect)
# What an HTTP header can carry; a token with anything else would be echoed by http.client's complaint.
HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def check_url(name: str, url: str, required: bool) -> str:
    """An http(s) URL without credentials in it (they have settings of their own, kept secret)."""
    if not url:
        if required:
            raise ConfigError(name, f"{name} is required")
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(name, f"{name} must be an http:// or https:// address, e.g. http://prometheus:9090")
    if parts.username or parts.password:
        raise ConfigError(name, f"{name} must not carry a user name or password; use the settings for them")
    try:
        parts.port
    except ValueError:
        raise ConfigError(name, f"{name} has a bad port number") from None
    return url


def check_sensor_names(name: str, mapping: Mapping[str, str], what: str) -> None:
    """Every key a usable sensor name, every value set."""
    for sensor, text in mapping.items():
        if not sensor.strip() or len(sensor.strip()) > SENSOR_NAME_MAX or sensor != sensor.strip():
            raise ConfigError(name, f"{name}: {sensor!r} is not a sensor name (1–{SENSOR_NAME_MAX} characters, "
                                    f"no leading or trailing spaces)")
        if not text.strip():
            raise ConfigError(name, f"{name}: sensor {sensor!r} has no {what}")


class PromQL(PullSource):
    kind = "promql"
    label = "Prometheus / PromQL"
    fields = {
        "url": (str, "http://localhost:9090", "the server's base address (the API is under /api/v1)"),
        "queries": (dict, {}, "sensor name → PromQL expression returning one series, e.g. "
                              "sum(rate(http_requests_total[1m]))"),
        "mode": (str, "range", "range: every step since the last poll (query_range); instant: the value now (query)"),
        "step_s": (float, 15.0, "range mode: seconds between points"),
        "token": (str, "", "bearer token (leave empty for none)"),
        "username": (str, "", "basic authentication user (instead of a token)"),
        "password": (str, "", "basic authentication password"),
        "timeout_s": (float, 10.0, "seconds to wait for an answer"),
        "interval_s": (float, 15.0, "seconds between polls"),
    }
    secrets = ("token", "password")

    @classmethod
    def validate(cls, raw: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        out = super().validate(raw, previous)
        out["url"] = check_url("url", out["url"].rstrip("/"), required=True)
        check_sensor_names("queries", out["queries"], "query")
        out["queries"] = {sensor: query.strip() for sensor, query in out["queries"].items()}
        if out["mode"] not in MODES:
            raise ConfigError("mode", f"mode must be one of {', '.join(MODES)}")
        for name, low in (("step_s", 0.001), ("timeout_s", 0.1), ("interval_s", 0.1)):
            if out[name] < low:
                raise ConfigError(name, f"{name} must be at least {low:g}")
        if out["token"] and out["username"]:
            raise ConfigError("token", "use either a bearer token or a user name and password, not both "
                                       "(send an empty token to remove it)")
        if out["token"] and not HEADER_SAFE.fullmatch(out["token"]):
            raise ConfigError("token", "the token may hold only printable characters, no spaces")
        if ":" in out["username"]:
            raise ConfigError("username", "a basic-authentication user name cannot hold a colon")
        if out["password"] and not out["username"]:
            raise ConfigError("username", "a password needs a user name")
        return out

    def __init__(self, config, clock, payload=None):
        super().__init__(config, clock, payload)
        self.config = {name: spec[1] for name, spec in self.fields.items()} | self.config  # unsaved: defaults
        self.last_step: Optional[float] = None  # range mode: the newest grid time already asked for

    @property
    def interval_s(self) -> float:
        return float(self.config["interval_s"])

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.config["token"]:
            headers["Authorization"] = f"Bearer {self.config['token']}"
        elif self.config["username"]:
            pair = f"{self.config['username']}:{self.config['password']}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        return headers

    def _get(self, path: str, params: dict[str, Any], sensor: str) -> Any:
        """GET the API path; the ``data`` of a success, SourceError (with the server's own words) otherwise."""
        url = f"{self.config['url']}{path}?{urllib.parse.urlencode(params)}"
        where = f"{self.config['url']}{path}"
        request = urllib.request.Request(url, headers=self._headers())
        try:
            with NO_REDIRECT.open(request, timeout=self.config["timeout_s"]) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            detail = _api_error(body)
            if exc.code in (401, 403):
                raise SourceError(f"{where} refused the credentials (HTTP {exc.code})"
                                  + (f": {detail}" if detail else "")) from None
            if 300 <= exc.code < 400:
                raise SourceError(f"{where} redirects to {exc.headers.get('Location')}; "
                                  f"set the url to the final address") from None
            if detail:
                raise SourceError(f"query for {sensor} ({params['query']}) failed: {detail}") from None
            raise SourceError(f"{where} answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise SourceError(f"no answer from {where} within {self.config['timeout_s']:g} s") from None
            raise SourceError(f"cannot reach {where}: {reason}") from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise SourceError(f"{where} did not answer JSON: is {self.config['url']} a Prometheus API?") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            detail = _api_error(body) or "the answer has no status 'success'"
            raise SourceError(f"query for {sensor} ({params['query']}) failed: {detail}")
        return answer.get("data")

    def _readings(self, sensor: str, query: str, data: Any) -> list[Reading]:
        """One sensor's readings from ``data`` (matrix, vector or scalar); NaN and infinities left out."""
        if not isinstance(data, dict) or "resultType" not in data:
            raise SourceError(f"query for {sensor} ({query}): the answer has no data.resultType")
        kind, result = data["resultType"], data.get("result")
        if kind in ("scalar", "string"):
            pairs = [result] if kind == "scalar" else []
        elif kind in ("vector", "matrix"):
            if not isinstance(result, list):
                raise SourceError(f"query for {sensor} ({query}): data.result is not a list")
            if len(result) > 1:
                shown = ", ".join(_series_name(s) for s in result[:SHOWN_SERIES])
                more = f" and {len(result) - SHOWN_SERIES} more" if len(result) > SHOWN_SERIES else ""
                raise SourceError(f"query for {sensor} ({query}) returned {len(result)} series ({shown}{more}); "
                                  f"a sensor needs one: aggregate it, e.g. sum({query}), or select one series "
                                  f"by its labels")
            if not result:
                return []
            series = result[0] if isinstance(result[0], dict) else {}
            pairs = [series.get("value")] if kind == "vector" else series.get("values") or []
        else:
            raise SourceError(f"query for {sensor} ({query}): unknown result type {kind!r}")
        out = []
        for pair in pairs:
            try:
                t, value = float(pair[0]), float(pair[1])
            except (TypeError, ValueError, IndexError):
                raise SourceError(f"query for {sensor} ({query}): {pair!r} is not a [time, \"value\"] pair") from None
            if math.isfinite(value):  # "NaN", "+Inf", "-Inf" say there is no usable number at that time
                out.append(Reading(sensor, t, value))
        return out

    def poll(self) -> list[Reading]:
        queries = self.config["queries"]
        if not queries:
            raise SourceError("no queries yet: map each sensor to a PromQL expression in the settings")
        now = self.clock()
        if self.config["mode"] == "instant":
            return [r for sensor, query in queries.items()
                    for r in self._readings(sensor, query,
                                            self._get("/api/v1/query", {"query": query, "time": f"{now:.3f}"},
                                                      sensor))]
        step = self.config["step_s"]
        # Points on a fixed grid (multiples of the step), from the one after the last asked for, so each
        # poll asks only for new steps; before the first, one interval (or one step) back.
        if self.last_step is None:
            start = math.ceil((now - max(self.interval_s, step)) / step) * step
        else:
            start = self.last_step + step
        end = math.floor(now / step) * step
        if end < start:
            return []  # the next step is not due yet
        out = []
        for sensor, query in queries.items():
            data = self._get("/api/v1/query_range", {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                     "step": f"{step:g}"}, sensor)
            out.extend(self._readings(sensor, query, data))
        self.last_step = end
        return out

    def test(self) -> str:
        queries = self.config["queries"]
        if not queries:
            raise SourceError("no queries yet: map each sensor to a PromQL expression in the settings")
        now, counts = self.clock(), []
        for sensor, query in queries.items():
            data = self._get("/api/v1/query", {"query": query, "time": f"{now:.3f}"}, sensor)
            readings = self._readings(sensor, query, data)
            counts.append(f"{sensor} = {readings[-1].value:g}" if readings else f"{sensor}: no data now")
        return f"{self.config['url']}: " + "; ".join(counts)


def _api_error(body: bytes) -> str:
    """The Prometheus API's ``errorType: error`` from an error body, or ''."""
    try:
        answer = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(answer, dict) or not answer.get("error"):
        return ""
    kind = answer.get("errorType")
    return f"{kind}: {answer['error']}" if kind else str(answer["error"])


def _series_name(series: Any) -> str:
    labels = series.get("metric", {}) if isinstance(series, dict) else {}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
