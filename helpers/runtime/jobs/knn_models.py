"""Where the supervised kNN classifiers that sensors can run live are kept: ``MODELS_DIR/knn/NAME``."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from helpers.core.detectors import knn_classifier


def directory(app: Flask) -> Path:
    return Path(app.config["MODELS_DIR"]) / "knn"


def loader(app: Flask):
    """The bank's ModelLoader: a name → the model saved under it."""
    return lambda name: knn_classifier.load(directory(app) / name)


def names(app: Flask) -> list[str]:
    """The saved models' names (a folder with its meta file), sorted."""
    root = directory(app)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / knn_classifier.META).is_file())
