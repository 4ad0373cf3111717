"""Ingest benchmark: sustained readings/s through POST /api/readings under gunicorn, beside baselines from the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--seconds 20] [--threads 4] [--batch 1000] [--quick]

gunicorn serves the app as ``gunicorn.conf.py`` does (2 gthread workers; one of
them holds the sampler's lease) on a free port, with a temporary SQLite
database whose line reads pushed data (``source`` = push) and an API token.
The detectors are on: the sampler judges every reading and stores it with its
verdict.

1. Accepted readings/s at the HTTP API: ``--threads`` client threads, each on
   its own sensors (the server refuses late data per sensor, so each thread's
   batches go in order) and its own keep-alive connection, post pre-built
   JSON batches of ``--batch`` readings (ISO 8601 timestamps, an
   Idempotency-Key each, as the edge node sends them) for ``--seconds``.
   Baseline: the same, one reading per request.
2. End to end: readings judged and stored per second, from the first post
   until the ingest queue is drained and every accepted reading is stored.
   Baseline: the simulator's own sampler into SQLite (in process, no HTTP).
3. Where the time goes, per reading, each stage alone in this process on a
   fresh database: JSON parsing, the row checks, the queue insert (one
   transaction per batch), the sampler judging queued batches, and storing
   the verdicts.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from table import print_table  # noqa: E402  (this folder)

from app import create_app  # noqa: E402
from helpers.core.formats import ingest  # noqa: E402
from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator  # noqa: E402
from helpers.runtime.sampler import Sampler  # noqa: E402
from helpers.storage import ingest_queue, tokens
from helpers.storage import line as line_store
from helpers.storage import settings as settings_store
from helpers.storage.db import db  # noqa: E402

SENSORS_PER_THREAD = 4
STEP_S = 0.001  # between a thread's readings: 1,000 Hz, all in the past


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bodies(thread: int, count: int, size: int, start: float) -> list[bytes]:
    """``count`` JSON batches of ``size`` readings for this thread's sensors, in time order."""
    names = [f"bench_{thread}_{j}" for j in range(SENSORS_PER_THREAD)]
    out = []
    for b in range(count):
        first = b * size
        readings = [{"sensor": names[i % SENSORS_PER_THREAD], "timestamp": iso(start + (first + i) * STEP_S),
                     "value": 50.0 + ((first + i) * 7919 % 1000) / 100.0} for i in range(size)]
        out.append(json.dumps({"readings": readings}, separators=(",", ":")).encode())
    return out


class Poster(threading.Thread):
    """Posts its pre-built bodies over one keep-alive connection until told to stop or out of bodies."""

    def __init__(self, port: int, token: str, bodies_: list[bytes], size: int, stop: threading.Event, tag: str):
        super().__init__(daemon=True)
        self.port, self.token, self.bodies, self.size, self.stop, self.tag = port, token, bodies_, size, stop, tag
        self.accepted = self.requests = self.errors = 0
        self.ran_out = False

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        for i, body in enumerate(self.bodies):
            if self.stop.is_set():
                return
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}",
                       "Idempotency-Key": f"{self.tag}:{i}"}
            try:
                conn.request("POST", "/api/readings", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                continue
            self.requests += 1
            if response.status == 201:
                self.accepted += json.loads(answer)["accepted"]
            else:
                self.errors += 1
                if self.errors <= 3:
                    print(f"  {self.tag}: {response.status} {answer[:200]!r}", file=sys.stderr)
        self.ran_out = True


def counts(db_path: Path) -> tuple[int, int]:
    """(readings stored, readings queued) read straight from the SQLite file."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        queued = conn.execute("SELECT coalesce(sum(count), 0) FROM ingest_batches").fetchone()[0]
    return stored, queued


def wait_drained(db_path: Path, expected: int, limit_s: float) -> tuple[float, int]:
    """Poll until ``expected`` readings are stored and nothing is queued; (when, stored)."""
    deadline = time.perf_counter() + limit_s
    while True:
        stored, queued = counts(db_path)
        if (stored >= expected and queued == 0) or time.perf_counter() > deadline:
            return time.perf_counter(), stored
        time.sleep(0.05)


def prepare(db_url: str) -> str:
    """Create and seed the database, switch the line to pushed data, make a token."""
    app = create_app({"DATABASE_URL": db_url, "SAMPLER_AUTOSTART": False})
    with app.app_context():
        settings_store.save_settings({"source": "push"})
        token = tokens.create("bench", time.time())
        db.session.remove()
    return token


class Gunicorn:
    def __init__(self, db_url: str, port: int, log_path: Path):
        self.db_path = db_url.removeprefix("sqlite:///")
        env = {**os.environ, "DATABASE_URL": db_url, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2",
               "INGEST_AUTO_REGISTER": "1", "LOG_LEVEL": "WARNING", "MAIL_AUTOSTART": "0"}
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "app:create_app()"], cwd=ROOT,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = port

    def wait_healthy(self, limit_s: float = 60) -> None:
        deadline = time.time() + limit_s
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited: see {self.log.name}")
            time.sleep(0.3)
        raise SystemExit("gunicorn did not become healthy in 60 s")

    def workers(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def sampler_pid(self) -> int:
        """The worker that holds the sampler's lease (it also serves requests)."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30) as conn:
            owner = conn.execute("SELECT owner FROM sampler_lease").fetchone()[0]
        return int(owner.split(":")[1])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def process_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the given processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def post_phase(server, token, threads, size, seconds, per_thread, start, tag, db_path, drain_limit_s):
    """Post for ``seconds``; then wait for the queue to drain. Accepted/s at the API and stored/s end to end."""
    port = server.port
    before, _ = counts(db_path)
    work = [bodies(i, per_thread, size, start + i * 1e5) for i in range(threads)]  # built before the clock starts
    stop = threading.Event()
    posters = [Poster(port, token, work[i], size, stop, f"{tag}{i}") for i in range(threads)]
    workers = server.workers()
    sampling = [server.sampler_pid()]
    busy0, cpu_server0, cpu_clients0 = machine_busy(), process_cpu(workers), time.process_time()
    cpu_sampling0 = process_cpu(sampling)
    t0 = time.perf_counter()
    for p in posters:
        p.start()
    time.sleep(seconds)
    stop.set()
    for p in posters:
        p.join()
    t_post = time.perf_counter() - t0
    busy1, cpu_server1, cpu_clients1 = machine_busy(), process_cpu(workers), time.process_time()
    cpu_sampling1 = process_cpu(sampling)
    stored_at_stop, queued_at_stop = counts(db_path)
    accepted = sum(p.accepted for p in posters)
    t_end, stored = wait_drained(db_path, before + accepted, drain_limit_s)
    return {"accepted": accepted, "post_s": t_post, "api_rate": accepted / t_post,
            "stored": stored - before, "e2e_s": t_end - t0, "e2e_rate": (stored - before) / (t_end - t0),
            "stored_while_posting": stored_at_stop - before, "queued_at_stop": queued_at_stop,
            "requests": sum(p.requests for p in posters), "errors": sum(p.errors for p in posters),
            "ran_out": any(p.ran_out for p in posters),
            "machine_busy": (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1),
            "server_cpu_s": cpu_server1 - cpu_server0, "client_cpu_s": cpu_clients1 - cpu_clients0,
            "sampling_cpu_s": cpu_sampling1 - cpu_sampling0}


class StepClock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


def simulator_rate(tmp: Path, seconds: float) -> float:
    """The simulator's sampler judging and storing 4 sensors x 100 Hz as fast as it can (bench.py's figure)."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'sim.db'}", "SAMPLER_AUTOSTART": False,
                      "SAMPLE_RATE_HZ": 100.0, "SIMULATOR_SEED": 1, "SAMPLER_MAX_CATCHUP_SECONDS": 1e9})
    clock = StepClock(time.time())
    sampler = Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=1), clock=clock)
    with app.app_context():
        sampler.start()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            clock.now += 1.0
            sampler.step()
            sampler.flush()
        rate = sampler.readings_stored / (time.perf_counter() - start)
        db.session.remove()
    return rate


def stages(tmp: Path, size: int, batches: int, repeat: int = 3) -> list[tuple[str, float]]:
    """Seconds per reading of each stage of the pipeline, alone, in this process: the best of ``repeat`` runs."""
    runs = [stages_once(tmp / f"stages{i}.db", size, batches) for i in range(repeat)]
    return [(name, min(run[i][1] for run in runs)) for i, (name, _) in enumerate(runs[0])]


def stages_once(db_path: Path, size: int, batches: int) -> list[tuple[str, float]]:
    app = create_app({"DATABASE_URL": f"sqlite:///{db_path}", "SAMPLER_AUTOSTART": False,
                      "INGEST_AUTO_REGISTER": True, "SIMULATOR_SEED": 1})
    now = time.time()
    work = bodies(0, batches, size, now - 30 * 86_400)
    n = batches * size
    out = []
    t = time.perf_counter()
    parsed = [json.loads(b) for b in work]
    out.append(("JSON parsing (json.loads of the body)", (time.perf_counter() - t) / n))
    t = time.perf_counter()
    items = [ingest.json_items(p) for p in parsed]
    out.append(("json_items (shape, numbering)", (time.perf_counter() - t) / n))
    t = time.perf_counter()
    checked = [ingest.check_rows(i, now, 300.0) for i in items]
    out.append(("check_rows (ISO 8601 times, values)", (time.perf_counter() - t) / n))
    with app.app_context():
        settings_store.save_settings({"source": "push"})
        line_id = line_store.the_line().id
        # The first batch registers the sensors and the sampler's monitors for them, outside the timing.
        ingest_queue.accept(checked[0], "bench", line_id, True, now, "stage:0")
        sampler = Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=1), clock=time.time)
        sampler.start()
        sampler._consume()
        sampler.flush()
        n -= size
        t = time.perf_counter()
        for i, rows in enumerate(checked[1:], 1):
            ingest_queue.accept(rows, "bench", line_id, True, now, f"stage:{i}")
        out.append(("queue insert (ingest_queue.accept, a transaction per batch)", (time.perf_counter() - t) / n))
        consumed = judge_s = flush_s = 0.0
        while True:
            t = time.perf_counter()
            got = sampler._consume()
            judge_s += time.perf_counter() - t
            if not got:
                break
            consumed += got
            t = time.perf_counter()
            sampler.flush()
            flush_s += time.perf_counter() - t
        out.append(("sampler judging queued readings (_consume: JSON rows, _judge)", judge_s / consumed))
        out.append(("storing verdicts (flush: readings insert, counters, queue delete, commit)", flush_s / consumed))
        db.session.remove()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the clients post, per phase")
    parser.add_argument("--threads", type=int, default=4, help="client threads posting at once")
    parser.add_argument("--batch", type=int, default=1000, help="readings per request")
    parser.add_argument("--quick", action="store_true", help="5-second phases, for a smoke run")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db_path = tmp / "ingest.db"
        db_url = f"sqlite:///{db_path}"
        token = prepare(db_url)
        server = Gunicorn(db_url, free_port(), tmp / "gunicorn.log")
        try:
            server.wait_healthy()
            start = time.time() - 30 * 86_400
            # Enough bodies for 60,000 readings/s, so the clients do not run dry at the rates seen here.
            per_thread = max(2, int(seconds * 60_000 / args.threads / args.batch) + 1)
            batched = post_phase(server, token, args.threads, args.batch, seconds, per_thread, start, "b",
                                 db_path, drain_limit_s=600)
            single = post_phase(server, token, args.threads, 1, seconds / 2, int(seconds * 2000), start + 1e6,
                                "s", db_path, drain_limit_s=120)
        finally:
            server.stop()
        sim = simulator_rate(tmp, 5.0 if args.quick else 10.0)
        parts = stages(tmp, args.batch, 20 if args.quick else 60)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs (clients, 2 gunicorn workers and the sampler "
          f"share them), SQLite {sqlite3.sqlite_version}")
    print(f"{args.threads} client threads, {seconds:.0f} s of posting per phase; "
          f"batched: {batched['requests']} requests, {batched['errors']} errors"
          f"{', clients ran out of bodies' if batched['ran_out'] else ''}; "
          f"single: {single['requests']} requests, {single['errors']} errors")
    print(f"batched phase: {batched['accepted']:,} accepted in {batched['post_s']:.1f} s, "
          f"{batched['stored_while_posting']:,} stored while posting, {batched['queued_at_stop']:,} queued when "
          f"posting stopped, all {batched['stored']:,} stored after {batched['e2e_s']:.1f} s")
    for name, phase in (("batched", batched), ("single", single)):
        print(f"{name} phase, while posting: the machine's CPUs {phase['machine_busy']:.0%} busy; gunicorn workers "
              f"{phase['server_cpu_s'] / phase['post_s']:.2f} cores (the one that also samples "
              f"{phase['sampling_cpu_s'] / phase['post_s']:.2f}), this process's clients "
              f"{phase['client_cpu_s'] / phase['post_s']:.2f} cores; "
              f"{1e6 * phase['server_cpu_s'] / max(phase['stored_while_posting'], 1):.1f} µs of server CPU "
              f"per reading stored")
    rows = [("what", "Linewatch", "baseline", "ratio")]
    rows.append((f"POST /api/readings accepted, {args.batch:,}-reading batches (baseline: 1 per request)",
                 f"{batched['api_rate']:,.0f} readings/s", f"{single['api_rate']:,.0f} readings/s",
                 f"{batched['api_rate'] / max(single['api_rate'], 1e-9):,.1f}x"))
    rows.append(("end to end: judged and stored, until drained (baseline: the simulator's sampler)",
                 f"{batched['e2e_rate']:,.0f} readings/s", f"{sim:,.0f} readings/s",
                 f"{batched['e2e_rate'] / sim:,.2f}x"))
    rows.append(("end to end with 1-reading requests (beside the batched figure)",
                 f"{batched['e2e_rate']:,.0f} readings/s", f"{single['e2e_rate']:,.0f} readings/s",
                 f"{batched['e2e_rate'] / max(single['e2e_rate'], 1e-9):,.1f}x"))
    print_table(rows)
    print()
    table = [("stage, alone in one process", "µs per reading", "readings/s if it were the only work")]
    for name, per in parts:
        table.append((name, f"{per * 1e6:,.1f}", f"{1 / per:,.0f}"))
    print_table(table)


if __name__ == "__main__":
    main()
