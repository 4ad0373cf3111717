"""The edge node's command: run the simulated line (or replay a CSV) here and push it to a Linewatch server.

A program of its own, ``python -m helpers.edge --push URL``, that needs neither the database nor torch; the
server's ``flask node`` is the same command.
"""
from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Optional

import click

from helpers.core.formats import series_csv
from helpers.core.line.simulator import DEFAULT_SENSORS
from helpers.edge.node import MAX_BATCH, Node, Producer, ReplayFile, SimulatedLine, Spool

log = logging.getLogger(__name__)


def make_producer(rate: float, sensors: Optional[str], replay: Optional[Path], sensor: Optional[str],
                  seed: Optional[int]) -> Producer:
    """The simulated line (all or some of its sensors), or a replayed ``timestamp,value`` CSV for one sensor."""
    if replay is not None:
        if not sensor:
            raise click.UsageError("--replay needs --sensor NAME: the sensor the file's values go to")
        if sensors:
            raise click.UsageError("--sensors is for the simulated line; a replay feeds the one --sensor")
        with replay.open(newline="") as stream:
            try:
                _, values = series_csv.read_series(stream, replay.name)
            except series_csv.SeriesError as exc:
                raise click.ClickException(str(exc)) from None
        return ReplayFile(values, sensor, rate, name=str(replay.resolve()))
    if sensor:
        raise click.UsageError("--sensor goes with --replay; pick simulated sensors with --sensors a,b")
    profiles = {p.name: p for p in DEFAULT_SENSORS}
    names = [n.strip() for n in sensors.split(",") if n.strip()] if sensors else list(profiles)
    unknown = [n for n in names if n not in profiles]
    if unknown or not names:
        raise click.BadParameter(f"unknown sensor(s) {', '.join(unknown) or '(none given)'}; the simulated line "
                                 f"has {', '.join(profiles)}", param_hint="--sensors")
    return SimulatedLine([profiles[n] for n in names], rate, seed)


def run_node(url: str, token: Optional[str], producer: Producer, spool_path: str, batch_size: int,
             stop: threading.Event, **options) -> Node:
    """Run a node until ``stop`` is set (or a replay is sent whole); the node, for its counts."""
    spool = Spool(spool_path)
    try:
        node = Node(url, token, producer, spool, batch_size=batch_size, **options)
        batches, readings = spool.backlog()
        log.info("node %s pushing to %s; %d readings in %d batches waiting in %s", spool.node_id, node.endpoint,
                 readings, batches, spool_path)
        node.run(stop)
        return node
    finally:
        spool.close()


@click.command("node")
@click.option("--push", "url", required=True, metavar="URL", help="the Linewatch server, e.g. http://plant:5000")
@click.option("--token", envvar="LINEWATCH_TOKEN", metavar="T",
              help="an API token (flask token create NAME on the server); or set LINEWATCH_TOKEN")
@click.option("--rate", type=click.FloatRange(0.01, 1000), default=1.0, show_default=True,
              help="readings per second per sensor")
@click.option("--sensors", metavar="a,b", help="simulated sensors to run (default: all)")
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="replay a timestamp,value CSV instead, one value every 1/rate s, stamped with now")
@click.option("--sensor", metavar="NAME", help="the sensor a --replay feeds")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH), default=1000, show_default=True,
              help="send a batch at this many readings (or every second)")
@click.option("--spool", "spool_path", default="node-spool.db", show_default=True,
              help="the SQLite file that keeps unsent readings across restarts")
@click.option("--seed", type=int, help="seed the simulated line")
def node_command(url, token, rate, sensors, replay, sensor, batch_size, spool_path, seed):
    """Produce a line's readings here and push them to a Linewatch server, each exactly once.

    The server's line must read pushed data: POST /send_control {"source": "push"}.
    """
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("an http:// or https:// URL", param_hint="--push")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    producer = make_producer(rate, sensors, replay, sensor, seed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        node = run_node(url, token, producer, spool_path, batch_size, stop)
    except KeyboardInterrupt:
        stop.set()
        return
    click.echo(f"{node.sent} readings sent, {node.rejected} rejected", err=True)


def init_app(app) -> None:
    """``flask node`` on a server install: the same command."""
    app.cli.add_command(node_command)


def main() -> None:
    """``python -m helpers.edge``: the node without Flask, the database or torch."""
    node_command(prog_name="python -m helpers.edge")
