"""The NAB series bundled under ``examples/nab`` (MIT), for the Evaluate page and the tests.

A fresh clone has no NAB corpus beside it; these few files are always there.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from helpers.core.evaluation.nab.loader import PROJECT_ROOT, load_scores
from helpers.core.formats.series_csv import read_series

EXAMPLES_DIR = PROJECT_ROOT / "examples" / "nab"

# Published detectors whose scores ship with the examples, as the Evaluate page names them.
REFERENCES = {
    "numenta": "Numenta HTM (published)",
    "ARTime": "ARTime (published)",
    "windowedGaussian": "Windowed Gaussian (published)",
}

TITLES = {
    "art_daily_jumpsup": "Artificial daily cycle that jumps up",
    "machine_temperature_system_failure": "Machine temperature before a system failure",
    "ambient_temperature_system_failure": "Office temperature, system failures",
    "speed_7578": "Road traffic speed",
    "ec2_cpu_utilization_825cc2": "Cloud server CPU utilisation",
}


@dataclass(frozen=True)
class Example:
    id: str
    name: str          # category/file.csv, the name NAB labels use
    title: str
    category: str
    windows: list
    references: list


@lru_cache(maxsize=1)
def examples() -> dict[str, Example]:
    labels = json.loads((EXAMPLES_DIR / "labels.json").read_text(encoding="utf-8"))
    out = {}
    for name, windows in labels.items():
        category, file = name.split("/")
        stem = file.removesuffix(".csv")
        refs = [r for r in REFERENCES if (EXAMPLES_DIR / "reference" / r / name).is_file()]
        out[stem] = Example(stem, name, TITLES.get(stem, stem), category, [tuple(w) for w in windows], refs)
    return out


def load_series(example: Example) -> tuple[list[str], list[float]]:
    with open(EXAMPLES_DIR / "data" / example.name, encoding="utf-8") as stream:
        return read_series(stream, example.name)


def reference_scores(example: Example, detector: str) -> np.ndarray:
    return load_scores(EXAMPLES_DIR / "reference" / detector / example.name, example.name).scores


@lru_cache(maxsize=1)
def reference_thresholds() -> dict[str, dict[str, float]]:
    """Each published detector's NAB-optimised threshold per profile over the whole dev corpus."""
    return json.loads((EXAMPLES_DIR / "thresholds.json").read_text(encoding="utf-8"))["thresholds"]
