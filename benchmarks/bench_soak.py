"""Soak benchmark: gunicorn and an open dashboard for 30 minutes at 50 readings/s per sensor, sampled as a curve.

    .venv/bin/python benchmarks/bench_soak.py [--minutes 30] [--interval 60] [--rate 50] [--csv soak.csv]

gunicorn serves the app as ``scripts/run`` does (``gunicorn.conf.py``: 2 gthread
workers, one holding the sampler's lease) on a free port of 127.0.0.1 with a
fresh SQLite database in a temporary folder; ``POST /send_control`` sets the
line to ``--rate`` readings/s *per sensor* (4 sensors: the default 50 makes
200 readings/s in all; ``--rate 12.5`` is 50 in all). The dashboard is opened
in Debian's Chromium (headless, through Playwright) on its default window and
left open.

Every ``--interval`` seconds, from the moment the page shows its first points:

* gunicorn: resident memory and open file descriptors of the master, the worker
  holding the sampler's lease and the other worker (and threads, in the CSV);
* the SQLite file and its ``-wal``, and the readings stored per second since
  the last sample (all sensors);
* the page: the time ``page.evaluate`` of a trivial expression takes (median of
  5: the page's main thread answering), the age of the newest point its value
  chart shows, how many ``/api/tick`` polls (its readings, as ``/get_data``
  answers them, with the overview, settings and forecast) it made per second and
  how long they took (the page's own Resource Timing), its JS heap right after a forced
  garbage collection and its DOM nodes (DevTools ``Performance.getMetrics``),
  and whether the offline banner or an error shows;
* ``/get_data?window=100`` asked by this script (median of 5).

The curve is printed as a table (and written to ``--csv`` as it goes, so a run
cut short keeps its rows). Then, for what must stay flat (memory, fds, threads,
files, heap, DOM), the first and the last sample with the growth per hour
between them and a least-squares slope per hour over the second half of the
samples alone (after the start-up): the baseline is the run's own first
sample. For what must stay quick (rates and latencies), the first, last,
median and worst sample. Page errors and error lines in gunicorn's log are
counted.
"""
from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psutil
import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from table import print_table  # noqa: E402  (this folder)

from served import serve  # noqa: E402  (this folder)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MB = 1024 * 1024

# The value chart's newest point (dataset 1 is the value, x in epoch seconds), and what the page shows.
PAGE_STATE = """() => {
    const chart = Chart.getChart(document.getElementById('value-chart'));
    const values = chart ? chart.data.datasets[1].data : [];
    const gets = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/tick'));
    performance.clearResourceTimings();
    return {
        now: Date.now() / 1000,
        newest: values.length ? values[values.length - 1].x : null,
        points: values.length,
        polls: gets.map((e) => e.duration),
        offline: !document.getElementById('offline-banner').hidden,
        error: document.getElementById('server-error').textContent.trim(),
    };
}"""

COLUMNS = [  # (CSV field, table header, format)
    ("minute", "min", "{:.1f}"),
    ("rss_master_mb", "master MB", "{:.0f}"),
    ("rss_sampler_mb", "sampler wkr MB", "{:.0f}"),
    ("rss_other_mb", "other wkr MB", "{:.0f}"),
    ("fds_master", None, "{}"),
    ("fds_sampler", None, "{}"),
    ("fds_other", None, "{}"),
    ("fds_total", "fds (m/s/o)", "{}"),
    ("threads_total", None, "{}"),
    ("db_mb", "db MB", "{:.1f}"),
    ("wal_mb", "wal MB", "{:.1f}"),
    ("readings_per_s", "readings/s", "{:.1f}"),
    ("page_eval_ms", "page eval ms", "{:.1f}"),
    ("page_eval_max_ms", None, "{:.1f}"),
    ("newest_age_s", "newest pt age s", "{:.2f}"),
    ("chart_points", "chart pts", "{}"),
    ("page_polls_per_s", "page polls/s", "{:.2f}"),
    ("page_tick_ms", "page tick ms", "{:.1f}"),
    ("page_tick_max_ms", None, "{:.1f}"),
    ("heap_mb", "heap MB", "{:.1f}"),
    ("dom_nodes", "DOM nodes", "{:.0f}"),
    ("listeners", None, "{:.0f}"),
    ("probe_get_data_ms", "get_data ms", "{:.1f}"),
    ("offline_or_error", "banner", "{}"),
    ("pids", None, "{}"),
]


def lease_holder(db_path: Path) -> int | None:
    """The pid of the worker holding the sampler's lease (owner is ``host:pid:…``)."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as conn:
        row = conn.execute("SELECT owner FROM sampler_lease").fetchone()
    try:
        return int(row[0].split(":")[1]) if row and row[0] else None
    except (IndexError, ValueError):
        return None


def readings_stored(db_path: Path) -> int:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM readings").fetchone()[0]


def server_sample(master: psutil.Process, db_path: Path) -> dict:
    """RSS, fds and threads of the master, the sampler's worker and the other worker."""
    holder = lease_holder(db_path)
    workers = master.children()
    sampler = next((w for w in workers if w.pid == holder), None)
    others = [w for w in workers if w is not sampler]
    out = {"pids": " ".join(f"{'S' if w is sampler else ''}{w.pid}" for w in workers)}
    threads = 0
    for name, procs in (("master", [master]), ("sampler", [sampler] if sampler else []), ("other", others)):
        rss = fds = 0
        for p in procs:
            try:
                rss += p.memory_info().rss
                fds += p.num_fds()
                threads += p.num_threads()
            except psutil.NoSuchProcess:
                pass
        out[f"rss_{name}_mb"], out[f"fds_{name}"] = rss / MB, fds
    out["fds_total"] = f"{out['fds_master']}/{out['fds_sampler']}/{out['fds_other']}"
    out["threads_total"] = threads
    return out


def probe(session: requests.Session, base: str, n: int = 5) -> float:
    """Median ms of ``n`` ``/get_data?window=100`` requests from here."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        session.get(f"{base}/get_data", params={"sensor": "vibration", "window": 100}, timeout=30).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def page_sample(page, cdp) -> dict:
    evals = []
    for _ in range(5):
        start = time.perf_counter()
        page.evaluate("() => 0")
        evals.append((time.perf_counter() - start) * 1000)
    state = page.evaluate(PAGE_STATE)
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    polls = state["polls"]
    return {
        "page_eval_ms": statistics.median(evals), "page_eval_max_ms": max(evals),
        "newest_age_s": state["now"] - state["newest"] if state["newest"] is not None else float("nan"),
        "chart_points": state["points"],
        "page_tick_ms": statistics.median(polls) if polls else float("nan"),
        "page_tick_max_ms": max(polls, default=float("nan")),
        "polls": len(polls),
        "heap_mb": metrics["JSHeapUsedSize"] / MB, "dom_nodes": metrics["Nodes"],
        "listeners": metrics["JSEventListeners"],
        "offline_or_error": "offline" if state["offline"] else ("error" if state["error"] else "-"),
    }


def fmt(row: dict, field: str, pattern: str) -> str:
    value = row.get(field)
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return "n/a"
    return pattern.format(value)


GROWTH = [  # (field, name, unit): what must stay flat
    ("rss_master_mb", "gunicorn master RSS", "MB"),
    ("rss_sampler_mb", "sampler worker RSS", "MB"),
    ("rss_other_mb", "other worker RSS", "MB"),
    ("fds_master", "master open fds", ""),
    ("fds_sampler", "sampler worker open fds", ""),
    ("fds_other", "other worker open fds", ""),
    ("threads_total", "gunicorn threads", ""),
    ("db_mb", "SQLite file (grows with the readings)", "MB"),
    ("wal_mb", "SQLite -wal", "MB"),
    ("heap_mb", "page JS heap after GC", "MB"),
    ("dom_nodes", "page DOM nodes", ""),
    ("listeners", "page JS event listeners", ""),
]
PACE = [  # (field, name, unit, worse is higher): what must stay quick
    ("readings_per_s", "readings stored/s (all sensors)", "", False),
    ("page_eval_ms", "page evaluate round trip", "ms", True),
    ("newest_age_s", "page newest point age", "s", True),
    ("page_polls_per_s", "page /api/tick polls/s", "", False),
    ("page_tick_ms", "page /api/tick median", "ms", True),
    ("probe_get_data_ms", "/get_data from this script", "ms", True),
]


def finite(rows: list[dict], field: str) -> list[tuple[float, float]]:
    """(minute, value) of the samples where ``field`` has a number (rates have none at the first sample)."""
    out = []
    for r in rows:
        value = float(r[field])
        if value == value:
            out.append((r["minute"], value))
    return out


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope over the second half of the points, per hour."""
    half = points[len(points) // 2:]
    if len(half) < 2:
        return float("nan")
    xs, ys = [m / 60 for m, _ in half], [v for _, v in half]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def growth_rows(rows: list[dict]) -> list[tuple[str, ...]]:
    out = [("figure", "first", "last", "change", "per hour (first→last)", "per hour (2nd half fit)")]
    for field, name, unit in GROWTH:
        points = finite(rows, field)
        (m0, a), (m1, b) = points[0], points[-1]
        per_hour = (b - a) / (m1 - m0) * 60 if m1 > m0 else float("nan")
        u = f" {unit}" if unit else ""
        out.append((name, f"{a:.2f}{u}", f"{b:.2f}{u}", f"{b - a:+.2f}{u}", f"{per_hour:+.2f}{u}/h",
                    f"{slope_per_hour(points):+.2f}{u}/h"))
    return out


def pace_rows(rows: list[dict]) -> list[tuple[str, ...]]:
    out = [("figure", "first", "last", "median", "worst")]
    for field, name, unit, higher_worse in PACE:
        values = [v for _, v in finite(rows, field)]
        if not values:
            continue
        u = f" {unit}" if unit else ""
        worst = max(values) if higher_worse else min(values)
        out.append((name, f"{values[0]:.2f}{u}", f"{values[-1]:.2f}{u}", f"{statistics.median(values):.2f}{u}",
                    f"{worst:.2f}{u}"))
    return out


def wait_for_points(page, timeout_s: float = 60) -> None:
    page.wait_for_function("() => { const c = Chart.getChart(document.getElementById('value-chart'));"
                           " return c && c.data.datasets[1].data.length > 0; }", timeout=timeout_s * 1000)


def run(args) -> tuple[list[dict], list[str], int]:
    rows: list[dict] = []
    page_errors: list[str] = []
    writer = None
    csv_file = open(args.csv, "w", newline="") if args.csv else None
    with tempfile.TemporaryDirectory() as tmp, \
            serve(Path(tmp)) as (base, db_path, master), sync_playwright() as playwright:
        requests.post(f"{base}/send_control", json={"sample_rate_hz": args.rate}, timeout=10).raise_for_status()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            page = context.new_page()
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.on("console", lambda msg: page_errors.append(msg.text) if msg.type == "error" else None)
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            cdp.send("HeapProfiler.enable")
            page.goto(f"{base}/")
            page.evaluate("() => performance.setResourceTimingBufferSize(1000000)")
            wait_for_points(page)
            session = requests.Session()
            start = time.monotonic()
            last = (start, readings_stored(db_path))
            page.evaluate("() => performance.clearResourceTimings()")
            samples = int(args.minutes * 60 // args.interval)
            for i in range(samples + 1):
                # Waiting through Playwright (not time.sleep) keeps its event loop turning meanwhile.
                page.wait_for_timeout(max(0.0, start + i * args.interval - time.monotonic()) * 1000)
                now = time.monotonic()
                stored = readings_stored(db_path)
                row = {"minute": (now - start) / 60,
                       "readings_per_s": (stored - last[1]) / (now - last[0]) if rows else float("nan")}
                last = (now, stored)
                row.update(server_sample(master, db_path))
                wal = Path(f"{db_path}-wal")
                row["db_mb"] = db_path.stat().st_size / MB
                row["wal_mb"] = wal.stat().st_size / MB if wal.exists() else 0.0
                page_row = page_sample(page, cdp)
                since = rows[-1]["_at"] if rows else start
                page_row["page_polls_per_s"] = page_row.pop("polls") / max(1e-9, now - since) if rows \
                    else float("nan")
                row.update(page_row)
                row["probe_get_data_ms"] = probe(session, base)
                row["_at"] = now
                rows.append(row)
                if csv_file:
                    if writer is None:
                        writer = csv.DictWriter(csv_file, fieldnames=[f for f, _, _ in COLUMNS],
                                                extrasaction="ignore")
                        writer.writeheader()
                    writer.writerow(row)
                    csv_file.flush()
                print(f"  minute {row['minute']:.1f}: sampler worker {row['rss_sampler_mb']:.0f} MB, "
                      f"fds {row['fds_total']}, heap {row['heap_mb']:.1f} MB, "
                      f"newest point {row['newest_age_s']:.2f} s old", file=sys.stderr)
        finally:
            browser.close()
            if csv_file:
                csv_file.close()
        log = (Path(tmp) / "gunicorn.out").read_text(errors="replace")
    log_errors = sum(1 for line in log.splitlines() if "Traceback" in line or "[ERROR]" in line
                     or "[CRITICAL]" in line)
    return rows, page_errors, log_errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the soak runs (default 30)")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples (default 60)")
    parser.add_argument("--rate", type=float, default=50.0,
                        help="readings/s per sensor, 4 sensors (default 50: 200 readings/s in all)")
    parser.add_argument("--csv", default=None, help="also write the curve to this CSV file")
    args = parser.parse_args()
    load_start = os.getloadavg()
    rows, page_errors, log_errors = run(args)
    print(f"python {sys.version.split()[0]}, Chromium {CHROMIUM}, {os.cpu_count()} CPUs, load average at start "
          f"{load_start[0]:.2f}; gunicorn.conf.py with 2 workers on SQLite; 4 sensors at {args.rate:g} readings/s "
          f"each ({4 * args.rate:g} in all); a sample every {args.interval:g} s for {args.minutes:g} min")
    print()
    shown = [(field, header, pattern) for field, header, pattern in COLUMNS if header]
    print_table([tuple(h for _, h, _ in shown)] + [tuple(fmt(r, f, p) for f, _, p in shown) for r in rows])
    print()
    print(f"First and last sample (min {rows[0]['minute']:.1f} and {rows[-1]['minute']:.1f}): what must stay flat")
    print_table(growth_rows(rows))
    print()
    print("What must stay quick, over all samples")
    print_table(pace_rows(rows))
    print()
    print(f"page errors: {len(page_errors)}" + (f" (first: {page_errors[0][:200]})" if page_errors else ""))
    print(f"gunicorn log: {log_errors} error lines; worker pids (S = sampler) first {rows[0]['pids']}, "
          f"last {rows[-1]['pids']}")
    if args.csv:
        print(f"curve written to {args.csv}")


if __name__ == "__main__":
    main()
