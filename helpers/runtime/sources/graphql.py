"""GraphQL: a login that yields a token, then a data query whose answer holds each sensor's points.

The token is kept in memory only, renewed at 80 % of its lifetime, and renewed
once more when the server says it is not (or no longer) valid, before the poll
fails. It never reaches a log line, an error message or the API: server texts
are scrubbed of it and of the login's secrets before they are shown.
"""
from __future__ import annotations

import json
import logging
import math
import re
import http.client
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from helpers.core.formats.ingest import epoch_seconds
from helpers.runtime.sources.base import ConfigError, PullSource, Reading, SourceError
from helpers.runtime.sources.promql import HEADER_SAFE, NO_REDIRECT, check_sensor_names, check_url

log = logging.getLogger(__name__)

# Renew the token once this share of its lifetime has passed, so a poll never carries an expired one.
RENEW_AT = 0.8
SINCE_FORMATS = ("epoch", "iso")
# A lifetime above this many seconds is an absolute expiry time (epoch seconds), not a duration.
ABSOLUTE_EXPIRY_ABOVE = 1e9
# GraphQL error texts that mean "log in again" (servers differ: Apollo's code, Hasura's JWT messages, plain text).
AUTH_CODES = {"UNAUTHENTICATED", "UNAUTHORIZED", "INVALID-JWT", "INVALID_TOKEN", "FORBIDDEN_TOKEN"}
AUTH_WORDS = re.compile(r"auth|jwt|token|expired|log ?in|credential", re.IGNORECASE)
STRING_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
# Secrets shorter than this are not scrubbed from texts (they would blank out ordinary letters).
SCRUB_MIN = 3
SHOWN_ERRORS = 3


class AuthRejected(SourceError):
    """The server refused the token (HTTP 401 or an authentication error in the answer)."""


class GraphQL(PullSource):
    kind = "graphql"
    label = "GraphQL"
    fields = {
        "url": (str, "", "the GraphQL endpoint, e.g. https://mes.example.com/graphql"),
        "auth_query": (str, "", 'the login, e.g. mutation { login(user: "u", password: "p") { token expiresIn } }; '
                                "empty: the endpoint needs none"),
        "auth_variables": (dict, {}, 'variables for the login, as an object or JSON text, e.g. {"password": "…"}'),
        "token_path": (str, "data.login.token", "where the token is in the login's answer"),
        "expires_path": (str, "", "where its lifetime (seconds, or an expiry time) is in the login's answer; "
                                  "empty: token_lifetime_s"),
        "token_lifetime_s": (float, 3600.0, "the token's lifetime when the answer does not say"),
        "data_query": (str, "", "the query for the readings; $since (the newest time already read) is available"),
        "since_format": (str, "epoch", "how $since is sent: epoch (seconds) or iso (ISO 8601, UTC)"),
        "paths": (dict, {}, "sensor name → dotted path in the answer to a list of points (or to one number: "
                            "its latest value), e.g. data.line.readings"),
        "time_field": (str, "t", "each point's time (epoch seconds or ISO 8601)"),
        "value_field": (str, "value", "each point's value"),
        "timeout_s": (float, 10.0, "seconds to wait for an answer"),
        "interval_s": (float, 5.0, "seconds between polls"),
    }
    secrets = ("auth_query", "auth_variables")

    @classmethod
    def check_field(cls, name: str, kind: type, value: Any) -> Any:
        if name == "auth_variables":
            if isinstance(value, str):
                try:
                    value = json.loads(value) if value.strip() else {}
                except ValueError:
                    raise ConfigError(name, f"{name} must be a JSON object") from None
            if not isinstance(value, dict):
                raise ConfigError(name, f"{name} must be a JSON object (variable name → value)")
            return value
        return super().check_field(name, kind, value)

    @classmethod
    def validate(cls, raw: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        out = super().validate(raw, previous)
        out["url"] = check_url("url", out["url"], required=False)
        if out["auth_variables"] and not out["auth_query"]:
            raise ConfigError("auth_variables", "auth_variables need an auth_query to go with")
        if out["auth_query"] and not out["token_path"]:
            raise ConfigError("token_path", "say where the token is in the login's answer, e.g. data.login.token")
        for name in ("token_path", "expires_path"):
            _check_path(name, out[name])
        check_sensor_names("paths", out["paths"], "path")
        for sensor, path in out["paths"].items():
            _check_path("paths", path.strip(), sensor)
        out["paths"] = {sensor: path.strip() for sensor, path in out["paths"].items()}
        if out["paths"] and not out["data_query"]:
            raise ConfigError("data_query", "the paths need a data_query to read them from")
        if out["since_format"] not in SINCE_FORMATS:
            raise ConfigError("since_format", f"since_format must be one of {', '.join(SINCE_FORMATS)}")
        for name in ("time_field", "value_field"):
            if not out[name]:
                raise ConfigError(name, f"{name} is required")
        for name, low in (("token_lifetime_s", 1.0), ("timeout_s", 0.1), ("interval_s", 0.1)):
            if out[name] < low:
                raise ConfigError(name, f"{name} must be at least {low:g}")
        return out

    def __init__(self, config, clock, payload=None):
        super().__init__(config, clock, payload)
        self.config = {name: spec[1] for name, spec in self.fields.items()} | self.config  # unsaved: defaults
        self._token: Optional[str] = None
        self._renew_at = 0.0
        self._old_tokens: list[str] = []  # scrubbed too: a server may echo the one it refuses
        self._start: Optional[float] = None
        self._newest: dict[str, float] = {}
        self.logins = 0
        self.token_lifetime_s: Optional[float] = None

    @property
    def interval_s(self) -> float:
        return float(self.config["interval_s"])

    # --- keeping secrets out of texts -------------------------------------------------

    def _secret_texts(self) -> list[str]:
        found = [self._token or "", *self._old_tokens]
        found += STRING_LITERAL.findall(self.config["auth_query"])  # inline passwords
        found += [str(v) for v in _leaves(self.config["auth_variables"])]
        return sorted({s for s in found if len(s) >= SCRUB_MIN}, key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        for secret in self._secret_texts():
            text = text.replace(secret, "[secret]")
        return text

    # --- HTTP -------------------------------------------------------------------------

    def _post(self, query: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        """Send one operation; its answer, AuthRejected when the token is refused, SourceError otherwise."""
        url = self.config["url"]
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with NO_REDIRECT.open(request, timeout=self.config["timeout_s"]) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = self._scrub(_error_texts(exc.read()) or f"HTTP {exc.code} {exc.reason}")
            if exc.code == 401:
                raise AuthRejected(f"{what}: {url} refused the credentials (HTTP 401): {detail}") from None
            if 300 <= exc.code < 400:
                raise SourceError(f"{what}: {url} redirects to {exc.headers.get('Location')}; "
                                  f"set the url to the final address") from None
            raise SourceError(f"{what}: {url} answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise SourceError(f"{what}: no answer from {url} within {self.config['timeout_s']:g} s") from None
            raise SourceError(f"{what}: cannot reach {url}: {self._scrub(str(reason))}") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise SourceError(f"{what}: {url} did not answer JSON: is it a GraphQL endpoint?") from None
        if not isinstance(answer, dict):
            raise SourceError(f"{what}: the answer is not a JSON object")
        errors = answer.get("errors")
        if errors:
            detail = self._scrub(_error_texts(raw))
            if _means_log_in_again(errors):
                raise AuthRejected(f"{what}: the server refused the credentials: {detail}")
            raise SourceError(f"{what}: {detail}")
        return answer

    # --- the token --------------------------------------------------------------------

    def _log_in(self) -> None:
        """Run the login and keep its token, and when to renew it."""
        if self._token is not None:
            self._old_tokens = [self._token, *self._old_tokens][:4]
        self._token = None
        asked_at = self.clock()
        try:
            answer = self._post(self.config["auth_query"], self.config["auth_variables"], "login")
        except AuthRejected as exc:
            raise SourceError(f"login refused: {str(exc).removeprefix('login: ')}") from None
        except SourceError as exc:
            raise SourceError(f"login failed: {str(exc).removeprefix('login: ')}") from None
        path = self.config["token_path"]
        token, missing = _walk(answer, path)
        if missing is not None:
            raise SourceError(f"login answered, but {missing}: check token_path ({path})")
        if not isinstance(token, str) or not token:
            what = f"an object (keys: {', '.join(token)})" if isinstance(token, dict) else type(token).__name__
            raise SourceError(f"login answered, but {path} holds {what}, not a token: check token_path")
        if not HEADER_SAFE.fullmatch(token):
            raise SourceError(f"login answered, but the token at {path} has characters a header cannot carry")
        self._token = token
        lifetime = self._lifetime(answer, asked_at)
        self.token_lifetime_s = lifetime
        self._renew_at = asked_at + RENEW_AT * lifetime
        self.logins += 1
        log.info("graphql: logged in to %s; the token is renewed in %.0f s", self.config["url"], RENEW_AT * lifetime)

    def _lifetime(self, answer: dict[str, Any], asked_at: float) -> float:
        path, default = self.config["expires_path"], self.config["token_lifetime_s"]
        if not path:
            return default
        raw, missing = _walk(answer, path)
        if missing is not None or raw is None:
            log.warning("graphql: the login's answer has no %s; taking token_lifetime_s (%g s)", path, default)
            return default
        try:
            value = epoch_seconds(raw)
        except ValueError:
            raise SourceError(f"login answered, but {path} is neither seconds nor a time: check expires_path") from None
        lifetime = value - asked_at if value > ABSOLUTE_EXPIRY_ABOVE else value
        if lifetime <= 0:
            raise SourceError(f"login answered, but the token's lifetime ({path}) is already over: "
                              f"check expires_path and the clocks")
        return lifetime

    def _ask(self, variables: dict[str, Any]) -> dict[str, Any]:
        """The data query, logged in; refused once → log in again and retry, refused twice → SourceError."""
        if self.config["auth_query"] and (self._token is None or self.clock() >= self._renew_at):
            self._log_in()
        try:
            return self._post(self.config["data_query"], variables, "data query")
        except AuthRejected as exc:
            if not self.config["auth_query"]:
                raise SourceError(f"{exc}; the endpoint wants a login: set auth_query") from None
            log.info("graphql: the server refused the token; logging in again")
        self._log_in()
        try:
            return self._post(self.config["data_query"], variables, "data query")
        except AuthRejected as exc:
            raise SourceError(f"refused even right after a fresh login: {exc}") from None

    # --- readings ---------------------------------------------------------------------

    def _since(self, now: float) -> Any:
        if self._start is None:
            self._start = now - self.interval_s
        # The sensor furthest behind decides, so none misses a point (the runner drops repeats).
        since = min(self._newest.values()) if self._newest else self._start
        if self.config["since_format"] == "iso":
            return datetime.fromtimestamp(since, timezone.utc).isoformat().replace("+00:00", "Z")
        return since

    def _readings(self, sensor: str, answer: dict[str, Any], now: float) -> tuple[list[Reading], bool]:
        """The sensor's readings, and whether its path holds a series (not a latest value)."""
        path = self.config["paths"][sensor]
        found, missing = _walk(answer, path)
        if missing is not None:
            raise SourceError(f"sensor {sensor}: {missing} (path {path})")
        if found is None:
            return [], False
        if not isinstance(found, list):  # latest-value mode: the number now
            value = _number(found, f"sensor {sensor}: {path}")
            return ([] if value is None else [Reading(sensor, now, value)]), False
        tf, vf = self.config["time_field"], self.config["value_field"]
        out = []
        for i, point in enumerate(found):
            where = f"sensor {sensor}: {path}.{i}"
            if isinstance(point, dict):
                if tf not in point or vf not in point:
                    raise SourceError(f"{where} has no {tf if tf not in point else vf} "
                                      f"(its fields: {', '.join(point)}); check time_field and value_field")
                stamp, value = point[tf], point[vf]
            elif isinstance(point, list) and len(point) == 2:
                stamp, value = point
            else:
                raise SourceError(f"{where} is neither an object nor a [time, value] pair")
            value = None if value is None else _number(value, f"{where}.{vf}")
            if value is None:
                continue
            try:
                t = epoch_seconds(stamp)
            except ValueError as exc:
                raise SourceError(f"{where}.{tf}: {exc}") from None
            out.append(Reading(sensor, t, value))
        return out, True

    def poll(self) -> list[Reading]:
        if not self.config["url"]:
            raise SourceError("no url yet: set the GraphQL endpoint in the settings")
        if not self.config["paths"]:
            raise SourceError("no paths yet: map each sensor to where its values are in the data query's answer")
        now = self.clock()
        variables = {"since": self._since(now)} if "$since" in self.config["data_query"] else {}
        answer = self._ask(variables)
        out = []
        for sensor in self.config["paths"]:
            readings, series = self._readings(sensor, answer, now)
            out.extend(readings)
            if readings and series:
                self._newest[sensor] = max(self._newest.get(sensor, -math.inf), *(r.t for r in readings))
        return out

    def test(self) -> str:
        readings = self.poll()
        login = (f"logged in (the token lasts {self.token_lifetime_s:g} s, renewed after "
                 f"{RENEW_AT * self.token_lifetime_s:g} s); " if self.config["auth_query"] else "")
        counts = {sensor: sum(r.sensor == sensor for r in readings) for sensor in self.config["paths"]}
        return f"{self.config['url']}: {login}" + ", ".join(f"{s}: {n} reading(s)" for s, n in counts.items())

    def close(self) -> None:
        self._token = None
        self._old_tokens = []


def _check_path(name: str, path: str, sensor: Optional[str] = None) -> None:
    if path and any(not part.strip() for part in path.split(".")):
        whose = f" (sensor {sensor})" if sensor else ""
        raise ConfigError(name, f"{name}{whose}: {path!r} is not a dotted path like data.line.readings")


def _walk(doc: Any, path: str) -> tuple[Any, Optional[str]]:
    """Follow a dotted path (a number indexes a list); ``(value, None)`` or ``(None, where it stopped)``."""
    node, walked = doc, []
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and re.fullmatch(r"-?\d+", part) and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            here = ".".join(walked) or "the answer"
            has = (f"it has {', '.join(map(str, node))}" if isinstance(node, dict) and node
                   else f"it is {'a list of ' + str(len(node)) if isinstance(node, list) else type(node).__name__}")
            return None, f"no {part!r} in {here} ({has})"
        walked.append(part)
    return node, None


def _number(raw: Any, where: str) -> Optional[float]:
    """A point's value as a float; None for NaN and infinities (no usable number then)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise SourceError(f"{where} is not a number")
    try:
        value = float(raw)
    except ValueError:
        raise SourceError(f"{where}: {raw[:40]!r} is not a number") from None
    return value if math.isfinite(value) else None


def _leaves(value: Any):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield value


def _error_texts(raw: bytes) -> str:
    """The ``errors[].message`` of a GraphQL answer (a few), or ''."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return ""
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if not isinstance(errors, list):
        return str(answer.get("message", "")) if isinstance(answer, dict) else ""
    texts = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:SHOWN_ERRORS]]
    more = f" (and {len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
    return "; ".join(texts) + more


def _means_log_in_again(errors: Any) -> bool:
    for error in errors if isinstance(errors, list) else [errors]:
        if not isinstance(error, dict):
            continue
        code = str((error.get("extensions") or {}).get("code", "")).upper()
        if code in AUTH_CODES or AUTH_WORDS.search(str(error.get("message", ""))):
            return True
    return False
