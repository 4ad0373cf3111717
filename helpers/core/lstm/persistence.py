"""A trained model on disk: ``model.pt`` (the weights) and ``meta.json`` (everything else).

Files are written to temporary names and renamed into place, and ``meta.json``
carries the SHA-256 of ``model.pt``, so a crash mid-save or a truncated copy is
caught on load instead of scoring with mismatched pieces. Every problem on load
is a ModelFileError naming the file and what is wrong with it.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from helpers.core.lstm.model import LSTMAutoencoder
from helpers.core.lstm.trained import TrainedModel
from helpers.core.lstm.windows import Standardiser

FORMAT_VERSION = 1
MODEL_FILE, META_FILE = "model.pt", "meta.json"


class ModelFileError(Exception):
    """A saved model that cannot be used: missing, truncated, corrupt or from an unknown format."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


def save(trained: TrainedModel, folder, training_range: Optional[dict[str, Any]] = None) -> Path:
    """Write ``trained`` into ``folder`` (created if needed); ``training_range`` describes its data."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if training_range is not None:
        trained.training_range = dict(training_range)
    buffer = io.BytesIO()
    torch.save(trained.module.state_dict(), buffer)
    weights = buffer.getvalue()
    meta = {
        "format_version": FORMAT_VERSION,
        "torch_version": torch.__version__,
        "created": trained.created,
        "n_features": trained.n_features,
        "time_steps": trained.time_steps,
        "hidden": trained.module.hidden,
        "standardisation": trained.standardiser.to_dict(),
        "training_range": trained.training_range,
        "parameters": trained.parameters,
        "threshold": {"percentile": trained.percentile, "ratio": trained.ratio},
        "loss_curve": trained.loss_curve,
        "validation_errors": trained.validation_errors.tolist(),
        "model_sha256": hashlib.sha256(weights).hexdigest(),
    }
    _write_atomically(folder / MODEL_FILE, weights)
    _write_atomically(folder / META_FILE, json.dumps(meta, indent=1).encode("utf-8"))
    return folder


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load(folder) -> TrainedModel:
    """Read a model saved by ``save``; any problem is a ModelFileError."""
    folder = Path(folder)
    meta_path, model_path = folder / META_FILE, folder / MODEL_FILE
    meta = _read_meta(meta_path)
    try:
        weights = model_path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(model_path, "missing (meta.json is there, the weights are not)") from None
    except OSError as error:
        raise ModelFileError(model_path, f"cannot be read ({error.strerror})") from None
    if hashlib.sha256(weights).hexdigest() != meta["model_sha256"]:
        raise ModelFileError(model_path, f"truncated or changed: its checksum does not match {META_FILE} "
                                         f"({len(weights)} bytes)")
    try:
        module = LSTMAutoencoder(meta["n_features"], meta["hidden"], meta["time_steps"])
    except ValueError as error:
        raise ModelFileError(meta_path, f"describes no valid model ({error})") from None
    try:
        state = torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")
        module.load_state_dict(state)
    except Exception as error:  # torch raises many kinds for a bad file; none may escape raw
        raise ModelFileError(model_path, f"not usable weights for this model ({type(error).__name__}: "
                                         f"{str(error).splitlines()[0] if str(error) else 'no detail'})") from None
    module.eval()
    try:
        return TrainedModel(
            module, Standardiser.from_dict(meta["standardisation"]), meta["parameters"], meta["loss_curve"],
            np.asarray(meta["validation_errors"], dtype=np.float64), meta["threshold"]["percentile"],
            meta["threshold"]["ratio"], meta["created"], meta.get("training_range"))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(meta_path, f"inconsistent content ({type(error).__name__}: {error})") from None


_REQUIRED = {"format_version": int, "n_features": int, "time_steps": int, "hidden": int,
             "standardisation": dict, "parameters": dict, "threshold": dict, "loss_curve": list,
             "validation_errors": list, "model_sha256": str, "created": str}


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError(path, "missing: no saved model in this folder") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelFileError(path, f"cannot be read ({error})") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFileError(path, f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
                                   "the file is truncated or corrupt") from None
    if not isinstance(meta, dict):
        raise ModelFileError(path, "not a model description (expected a JSON object)")
    version = meta.get("format_version")
    if isinstance(version, int) and version != FORMAT_VERSION:
        raise ModelFileError(path, f"format version {version}; this Linewatch reads version {FORMAT_VERSION}")
    for key, kind in _REQUIRED.items():
        if not isinstance(meta.get(key), kind):
            problem = "lacks" if key not in meta else f"has a bad (not {kind.__name__})"
            raise ModelFileError(path, f"{problem} '{key}'")
    if len(meta["validation_errors"]) == 0:
        raise ModelFileError(path, "has no validation errors to set a threshold from")
    return meta
