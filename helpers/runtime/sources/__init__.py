"""Pull sources: each kind in its own module, registered here by the name the line's ``source`` setting uses."""
from __future__ import annotations

from helpers.runtime.sources.base import PullSource
from helpers.runtime.sources.csv_replay import CsvReplay

KINDS: dict[str, type[PullSource]] = {cls.kind: cls for cls in (CsvReplay,)}
