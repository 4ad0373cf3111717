"""Pull sources: each kind in its own module, registered here by the name the line's ``source`` setting uses."""
from __future__ import annotations

from helpers.runtime.sources.base import PullSource
from helpers.runtime.sources.csv_replay import CsvReplay
from helpers.runtime.sources.graphql import GraphQL
from helpers.runtime.sources.influxdb import InfluxDB
from helpers.runtime.sources.mqtt import Mqtt
from helpers.runtime.sources.promql import PromQL
from helpers.runtime.sources.system import System

KINDS: dict[str, type[PullSource]] = {cls.kind: cls for cls in (CsvReplay, System, PromQL, GraphQL, InfluxDB, Mqtt)}
