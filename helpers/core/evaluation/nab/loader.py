"""Read a NAB corpus folder: labels, profiles and a detector's per-row reference scores."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from helpers.core.evaluation.nab.scorer import FileScores

PROJECT_ROOT = Path(__file__).resolve().parents[4]


def load_labels(corpus_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """``labels/combined_windows.json``: each data file's ``(start, end)`` windows."""
    raw = json.loads((Path(corpus_dir) / "labels" / "combined_windows.json").read_text())
    return {name: [tuple(w) for w in wins] for name, wins in raw.items()}


def load_profiles(corpus_dir: Path) -> dict[str, dict]:
    """``config/profiles.json``: profile name → ``{"CostMatrix": {...}}``."""
    return json.loads((Path(corpus_dir) / "config" / "profiles.json").read_text())


def load_scores(path: Path, name: str, column: str = "anomaly_score") -> FileScores:
    """One CSV with a ``timestamp`` column and ``column``, rows in file order."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return FileScores(name, [r["timestamp"] for r in rows],
                      np.array([float(r[column]) for r in rows]))


def load_reference(corpus_dir: Path, detector: str) -> list[FileScores]:
    """A detector's scores under ``reference/<detector>/<category>/``, named like the data files.

    A NAB-style ``<detector>_`` prefix on a file name is dropped.
    """
    root = Path(corpus_dir) / "reference" / detector
    if not root.is_dir():
        raise FileNotFoundError(f"no reference scores for {detector!r} in {root}")
    out = []
    for path in sorted(root.glob("*/*.csv")):
        base = path.name
        if base.startswith(detector + "_"):
            base = base[len(detector) + 1:]
        out.append(load_scores(path, f"{path.parent.name}/{base}"))
    return out
