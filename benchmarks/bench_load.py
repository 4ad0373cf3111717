"""Load benchmark: 100 dashboard pages polling once a second under gunicorn, beside one page, in the same run.

    .venv/bin/python benchmarks/bench_load.py [--seconds 60] [--pollers 100] [--rate 10] [--mix page|tick|tick4]

Needs aiohttp (``.venv/bin/pip install aiohttp==3.14.5``); it is not in requirements-dev.txt.

gunicorn serves the app as ``scripts/run`` does (``gunicorn.conf.py``: 2 gthread
workers, one of them holding the sampler's lease) on a free port of 127.0.0.1
with a fresh SQLite database in a temporary folder. ``POST /send_control`` sets
the line to ``--rate`` readings/s per sensor, and the detectors learn for
``model_size / rate + 5`` s before anything is measured.

A poller is one open dashboard page, sending what the page's modules send
(recorded from a real page in Chromium): every second the dashboard's tick,
one request, ``/api/tick?sensor=…&window=100&since=<last id>&overview_since=<latest id>&points=120``,
which answers what ``/get_data``, ``/api/overview``, ``/get_control`` and ``/api/forecast``
answer (the page asked those four separately until this stop; ``--mix tick4`` still
sends them that way, for comparison), then ``/api/scorecard`` every 5 s; and beside it the
alarms panel (``/api/alarms?since=…`` + ``/api/states`` every 2 s, the active
list every 6 s), the LSTM panels (``/api/models`` ×2 every 5 s), sources
(3 s), ``/healthz`` and ``/api/anomalies`` (5 s), the audit log and mail
status (10 s): about 3.7 requests/s per page. ``--mix tick`` sends only the
dashboard's tick. The page's readings arrive in the tick's answer, so the
``/get_data`` figures are those of the request that carries them (``/api/tick``,
or ``/get_data`` itself with ``tick4``). Each poller has its own keep-alive connections (at most 6,
like a browser) and a fixed 1 Hz schedule: a tick starts on its slot, or as
soon as the previous one has answered if that took longer (never two at once,
as the page's poller); how late ticks start is reported. Pages are spread
over the sensors and their start times over the first second.

Phase 1 (the baseline): 1 poller for ``--baseline-seconds`` (default the same
as ``--seconds``). Phase 2: ``--pollers`` pollers for ``--seconds``. Each
reports requests, errors (non-2xx answers and transport failures), latency
per route from send to the last byte of the body, the sampler's rate (readings
per sensor stamped inside the phase, counted in the database afterwards), how
old the newest stored reading is (sampled every second) and the longest gap
between two readings of a sensor, and the CPU that gunicorn and this client
used. The client shares the machine with the server, so its own CPU is shown.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import closing
from pathlib import Path

import psutil
import requests

try:
    import aiohttp
except ImportError:
    sys.exit("bench_load.py needs aiohttp: .venv/bin/pip install aiohttp==3.14.5")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from table import print_table  # noqa: E402  (this folder)

from served import serve  # noqa: E402  (this folder)

WINDOW = 100  # the page's default window
SPARK_POINTS = 120  # static/js/overview.js
LATE_S = 0.1  # a tick that starts this much after its slot counts as late
P99_TARGET_MS = 100.0
#: The request that brings a page its sensor's readings, by mix.
READINGS_ROUTE = {"page": "/api/tick", "tick": "/api/tick", "tick4": "/get_data"}


class Recorder:
    """Latencies per route and errors by kind, for one phase."""

    def __init__(self):
        self.latency = defaultdict(list)  # route -> seconds
        self.errors = Counter()  # (route, status or exception name) -> count
        self.lateness = []  # seconds each dashboard tick started after its slot
        self.polls = 0  # the sensor's readings answered (in /api/tick, or /get_data with tick4)
        self.examples = []  # the first transport errors, in words


class Page:
    """One open dashboard page: its cursors and the requests its modules send."""

    def __init__(self, base: str, session: aiohttp.ClientSession, sensor: str, rec: Recorder, mix: str):
        self.base, self.session, self.sensor, self.rec, self.mix = base, session, sensor, rec, mix
        self.last_id = None  # newest reading the charts hold
        self.overview_since = None
        self.alarm_cursor = None
        self.ticks = 0

    async def get(self, route: str, query: str = "", want_json: bool = False):
        """GET ``route?query``; records the latency, or the error, and returns the JSON when asked."""
        url = f"{self.base}{route}?{query}" if query else f"{self.base}{route}"
        start = time.perf_counter()
        try:
            async with self.session.get(url) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self.rec.errors[(route, type(exc).__name__)] += 1
            if len(self.rec.examples) < 5:
                took = time.perf_counter() - start
                self.rec.examples.append(f"{route}: {type(exc).__name__} {exc} after {took:.2f} s")
            return None
        self.rec.latency[route].append(time.perf_counter() - start)
        if not 200 <= status < 300:
            self.rec.errors[(route, str(status))] += 1
            return None
        return json.loads(body) if want_json else None

    async def tick(self):
        """The dashboard's tick (static/js/dashboard.js): one request (four with tick4), the scorecard every 5th."""
        params = f"sensor={self.sensor}&window={WINDOW}"
        if self.last_id is not None:
            params += f"&since={self.last_id}"
        if self.mix == "tick4":
            data, line = await self.tick_in_four(params)
        else:
            if self.overview_since is not None:
                params += f"&overview_since={self.overview_since}"
            both = await self.get(READINGS_ROUTE["tick"], f"{params}&points={SPARK_POINTS}", want_json=True)
            data, line = (both["data"], both["overview"]) if both is not None else (None, None)
        if data is not None:
            self.rec.polls += 1
            if data["points"]:
                self.last_id = data["points"][-1]["id"]
        if line is not None and line["latest_id"] is not None:
            self.overview_since = line["latest_id"]
        if self.mix == "page" and self.ticks % 5 == 0:
            await self.get("/api/scorecard")
        self.ticks += 1

    async def tick_in_four(self, params: str):
        """The tick as the page sent it until this stop: four requests at once."""
        overview = f"points={SPARK_POINTS}" if self.overview_since is None \
            else f"since={self.overview_since}&points={SPARK_POINTS}"
        data, line, _, _ = await asyncio.gather(
            self.get("/get_data", params, want_json=True),
            self.get("/api/overview", overview, want_json=True),
            self.get("/get_control"),
            self.get("/api/forecast", f"sensor={self.sensor}"),
        )
        return data, line

    async def alarms(self):
        """static/js/alerts.js: new alarms since the cursor and the states, every 2 s."""
        query = "limit=1" if self.alarm_cursor is None else f"since={self.alarm_cursor}&limit=50"
        fresh, _ = await asyncio.gather(self.get("/api/alarms", query, want_json=True),
                                        self.get("/api/states", "limit=50"))
        if fresh is not None:
            if fresh["alarms"]:
                self.alarm_cursor = fresh["alarms"][0]["id"]
            elif self.alarm_cursor is None:
                self.alarm_cursor = 0

    async def models(self):
        """static/js/lstm.js: the line's and the selected sensor's models, every 5 s."""
        await asyncio.gather(self.get("/api/models", "line=1"), self.get("/api/models", f"sensor={self.sensor}"))

    def loops(self, stop_at: float, first_slot: float, rng: random.Random):
        """The page's pollers as coroutines, each on its own schedule until ``stop_at`` (loop time)."""
        yield every(1.0, self.tick, stop_at, first_slot, self.rec.lateness)
        if self.mix != "page":
            return
        others = [
            (2.0, self.alarms),
            (6.0, lambda: self.get("/api/alarms", "limit=50&active=1")),
            (5.0, self.models),
            (3.0, lambda: self.get("/api/sources")),
            (5.0, lambda: self.get("/healthz")),
            (5.0, lambda: self.get("/api/anomalies", "limit=20")),
            (10.0, lambda: self.get("/api/audit", "limit=20")),
            (10.0, lambda: self.get("/api/mail")),
        ]
        for period, task in others:
            yield every(period, task, stop_at, first_slot + rng.uniform(0, period), None)


async def every(period: float, task, stop_at: float, slot: float, lateness: list | None):
    """Run ``task`` every ``period`` s from ``slot``, never two at once.

    A run that the previous one made late starts as soon as that one has answered, and the schedule
    goes on from there (as the page's poller would), so ``lateness`` records each delay once.
    """
    loop = asyncio.get_running_loop()
    while slot < stop_at:
        now = loop.time()
        if slot > now:
            await asyncio.sleep(slot - now)
        now = loop.time()
        if now >= stop_at:
            return
        if lateness is not None:
            lateness.append(now - slot)
        if now - slot > LATE_S:
            slot = now
        await task()
        slot += period


def newest_age(db_path: Path) -> float | None:
    """Seconds since the newest stored reading's timestamp."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as conn:
        row = conn.execute("SELECT t FROM readings ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else time.time() - row[0]


async def watch_sampler(db_path: Path, stop_at: float, ages: list):
    loop = asyncio.get_running_loop()
    while loop.time() < stop_at:
        age = await asyncio.to_thread(newest_age, db_path)
        if age is not None:
            ages.append(age)
        await asyncio.sleep(1.0)


def sampler_stats(db_path: Path, t0: float, t1: float) -> tuple[dict[str, float], float]:
    """Readings/s per sensor stamped in [t0, t1), and the longest gap between two readings of one sensor."""
    rates, gap = {}, 0.0
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as conn:
        for sensor_id, name in conn.execute("SELECT id, name FROM sensors ORDER BY id").fetchall():
            ts = [t for (t,) in conn.execute("SELECT t FROM readings WHERE sensor_id = ? AND t >= ? AND t < ? "
                                              "ORDER BY id", (sensor_id, t0, t1))]
            rates[name] = len(ts) / (t1 - t0)
            gap = max([gap] + [b - a for a, b in zip(ts, ts[1:])])
    return rates, gap


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


async def phase(base: str, db_path: Path, sensors: list[str], pollers: int, seconds: float, mix: str,
                server: list[psutil.Process]) -> dict:
    """``pollers`` pages polling for ``seconds``; the figures of the phase."""
    rec, ages = Recorder(), []
    rng = random.Random(pollers)
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=30)
    # gunicorn closes a keep-alive connection idle for 2 s; the client lets go first, as a browser would retry.
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=6, keepalive_timeout=1.5),
                                      timeout=timeout) for _ in range(pollers)]
    me = psutil.Process()
    cpu_server, cpu_client = cpu_seconds(server), cpu_seconds([me])
    t0, start = time.time(), loop.time()
    stop_at = start + seconds
    coroutines = [watch_sampler(db_path, stop_at, ages)]
    for i, session in enumerate(sessions):
        page = Page(base, session, sensors[i % len(sensors)], rec, mix)
        coroutines.extend(page.loops(stop_at, start + i / pollers, rng))
    try:
        await asyncio.gather(*coroutines)
    finally:
        for session in sessions:
            await session.close()
    wall = loop.time() - start
    t1 = t0 + seconds
    cpu_server, cpu_client = cpu_seconds(server) - cpu_server, cpu_seconds([me]) - cpu_client
    await asyncio.sleep(1.0)  # the sampler flushes every 0.25 s: the phase's last readings are stored by now
    rates, gap = sampler_stats(db_path, t0, t1)
    return {"pollers": pollers, "mix": mix, "seconds": seconds, "wall": wall, "rec": rec, "ages": ages, "rates": rates,
            "gap": gap, "cpu_server": cpu_server / wall, "cpu_client": cpu_client / wall}


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary_rows(phases: list[dict], rate: float) -> list[tuple[str, ...]]:
    rows = [("measure",) + tuple(f"{p['pollers']} poller{'s' if p['pollers'] > 1 else ''}"
                                 + (" (baseline)" if i == 0 else "") for i, p in enumerate(phases)) + ("target",)]

    def row(name, fn, target=""):
        rows.append((name,) + tuple(fn(p) for p in phases) + (target,))

    def all_latencies(p):
        return [x for values in p["rec"].latency.values() for x in values]

    via = READINGS_ROUTE[phases[0]["mix"]]

    def answered(p):
        return sum(map(len, p["rec"].latency.values()))

    def sent(p):
        return answered(p) + sum(p["rec"].errors.values())

    row("seconds (until the last answer)", lambda p: f"{p['wall']:.1f}")
    row("requests (all routes)", lambda p: str(sent(p)))
    row("requests/s", lambda p: f"{sent(p) / p['wall']:.1f}")
    row("errors (non-2xx or transport)", lambda p: str(sum(p["rec"].errors.values())), "0")
    row("readings answered per page per s", lambda p: f"{p['rec'].polls / p['pollers'] / p['wall']:.2f}", "1")
    gd = lambda p: p["rec"].latency[READINGS_ROUTE[p["mix"]]]  # noqa: E731
    row(f"/get_data p50 (via {via})", lambda p: ms(quantile(gd(p), 0.50)))
    row(f"/get_data p90 (via {via})", lambda p: ms(quantile(gd(p), 0.90)))
    row(f"/get_data p99 (via {via})", lambda p: ms(quantile(gd(p), 0.99)), f"< {P99_TARGET_MS:g} ms")
    row(f"/get_data max (via {via})", lambda p: ms(max(gd(p), default=float("nan"))))
    row("all routes p99", lambda p: ms(quantile(all_latencies(p), 0.99)))
    row(f"ticks started > {LATE_S * 1000:g} ms late",
        lambda p: f"{sum(x > LATE_S for x in p['rec'].lateness) / max(1, len(p['rec'].lateness)):.1%}")
    row("tick start lateness p99", lambda p: ms(quantile(p["rec"].lateness, 0.99)))
    row("sampler readings/s per sensor (min-max)",
        lambda p: f"{min(p['rates'].values()):.2f}-{max(p['rates'].values()):.2f}", f"{rate:g}")
    row("newest stored reading age p99 / max",
        lambda p: f"{quantile(p['ages'], 0.99):.2f} / {max(p['ages'], default=float('nan')):.2f} s")
    row("longest gap between a sensor's readings", lambda p: f"{p['gap']:.2f} s", f"{1 / rate:.2f} s")
    row("gunicorn CPU (all processes)", lambda p: f"{p['cpu_server']:.0%} of a core")
    row("gunicorn CPU per request (sampler included)",
        lambda p: f"{p['cpu_server'] * p['wall'] * 1000 / max(1, answered(p)):.2f} ms")
    row("this client's CPU", lambda p: f"{p['cpu_client']:.0%} of a core")
    return rows


def route_rows(phases: list[dict]) -> list[tuple[str, ...]]:
    base, load = phases[0], phases[-1]
    rows = [("route", "requests (1 / N)", "errors (1 / N)", "p50 (1 / N)", "p99 (1 / N)", "max (N)")]
    routes = sorted(set(load["rec"].latency) | set(base["rec"].latency), key=lambda r: -len(load["rec"].latency[r]))
    for route in routes:
        b, n = base["rec"].latency[route], load["rec"].latency[route]
        err = lambda p: sum(v for (r, _), v in p["rec"].errors.items() if r == route)  # noqa: E731
        rows.append((route, f"{len(b)} / {len(n)}", f"{err(base)} / {err(load)}",
                     f"{quantile(b, .5) * 1000:.1f} / {quantile(n, .5) * 1000:.1f} ms",
                     f"{quantile(b, .99) * 1000:.1f} / {quantile(n, .99) * 1000:.1f} ms",
                     f"{max(n, default=float('nan')) * 1000:.1f} ms"))
    return rows


def run(args) -> None:
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, \
            serve(Path(tmp)) as (base, db_path, master):
        server = [master] + master.children()
        answer = requests.post(f"{base}/send_control", json={"sample_rate_hz": args.rate}, timeout=10)
        answer.raise_for_status()
        control = answer.json()
        sensors = [s["name"] for s in requests.get(f"{base}/api/sensors", timeout=10).json()["sensors"]]
        warm_up = args.warm_up if args.warm_up is not None else control["model_size"] / args.rate + 5
        print(f"gunicorn ({len(server) - 1} workers) on {base}, {len(sensors)} sensors at {args.rate:g} "
              f"readings/s each; warming up {warm_up:g} s", file=sys.stderr)
        time.sleep(warm_up)
        phases = []
        for pollers, seconds in ((1, args.baseline_seconds or args.seconds), (args.pollers, args.seconds)):
            print(f"{pollers} poller(s) for {seconds:g} s ...", file=sys.stderr)
            phases.append(asyncio.run(phase(base, db_path, sensors, pollers, seconds, args.mix, server)))
        log = (Path(tmp) / "gunicorn.out").read_text(errors="replace")
        log_errors = sum(1 for line in log.splitlines() if "Traceback" in line or "[ERROR]" in line
                         or "[CRITICAL]" in line)

    print(f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, {os.cpu_count()} CPUs, load average "
          f"at start {load_start[0]:.2f}; gunicorn.conf.py with 2 workers on SQLite; {len(sensors)} sensors at "
          f"{args.rate:g} readings/s each; request mix: {args.mix}")
    print()
    print_table(summary_rows(phases, args.rate))
    print()
    print_table(route_rows(phases))
    errors = phases[-1]["rec"].errors + phases[0]["rec"].errors
    if errors:
        print()
        print("errors: " + ", ".join(f"{route} {kind} ×{n}" for (route, kind), n in errors.most_common(10)))
        for example in phases[0]["rec"].examples + phases[-1]["rec"].examples:
            print(f"  {example}")
    print(f"gunicorn log: {log_errors} error lines")
    load = phases[-1]
    p99 = quantile(load["rec"].latency[READINGS_ROUTE[args.mix]], 0.99) * 1000
    verdicts = [
        ("no error responses", not load["rec"].errors),
        (f"/get_data p99 < {P99_TARGET_MS:g} ms", p99 < P99_TARGET_MS),
        ("sampler keeps its rate (every sensor within 2 %)",
         all(abs(r - args.rate) <= 0.02 * args.rate for r in load["rates"].values())),
    ]
    print(f"issue 9 with {load['pollers']} pollers: "
          + "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in verdicts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the pollers poll (default 60)")
    parser.add_argument("--baseline-seconds", type=float, default=None,
                        help="how long the single poller polls (default: --seconds)")
    parser.add_argument("--pollers", type=int, default=100, help="concurrent pages (default 100)")
    parser.add_argument("--rate", type=float, default=10.0, help="readings/s per sensor (default 10)")
    parser.add_argument("--warm-up", type=float, default=None,
                        help="seconds before measuring (default: model_size / rate + 5)")
    parser.add_argument("--mix", choices=("page", "tick", "tick4"), default="page",
                        help="page: every request a dashboard page sends; tick: only its 1 s tick; "
                             "tick4: only the tick, as the four requests the page sent until this stop (default page)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
