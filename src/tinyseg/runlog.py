"""Run logs and checkpoints: the files the report reads.

``runs/<run>/config.json``   everything needed to re-run: training config, model config, runtime and
                             the run's :class:`RunInfo` (profile, seed, data, recipe, spec)
``runs/<run>/metrics.jsonl`` one JSON object per finished epoch
``runs/<run>/summary.json``  status, best epoch and its metrics, parameters, device, data, time
``runs/<run>/last.pt``       resumable state (model, optimizer, scheduler, RNG); never committed
``weights/<run>.pt``         best model: ``{"state_dict", "config", "epoch", "metrics"}``,
                             loadable with ``torch.load(..., weights_only=True)``

Every write is atomic (a temporary file in the same folder, then ``os.replace``), so an
interruption leaves either the previous file or the new one, never a partial one. Locations in
these files are relative (``Paths.relative``): no absolute path of the machine that made them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

# a run in one of these states is finished and can be skipped by the main job
FINISHED = ("completed", "early_stopped")


@dataclass(frozen=True)
class DataRecord:
    """Which data a run was trained and validated on."""

    dataset: str      # "Tiny ImageNet-200" | "MOON_SEGMENTATION_BINARY"
    kind: str         # "real" | "generated"
    location: str     # relative to the repository, or "$DATA_DIR/..."
    train: int        # training examples
    val: int          # validation examples

    @classmethod
    def of(cls, source, paths, train: int, val: int) -> DataRecord:
        """From a located :class:`~tinyseg.data.Source` (its origin, e.g. the zip, when it has one)."""
        return cls(source.dataset, source.kind, paths.relative(source.origin or source.location), train, val)


@dataclass(frozen=True)
class RunInfo:
    """What a run was, besides its training config: written to config.json and summary.json."""

    profile: str
    seed: int
    data: DataRecord
    recipe: dict      # the task's recipe for the profile, overrides applied
    spec: dict        # the run table's entry as it shaped training (RunSpec.training)

    def as_dict(self) -> dict:
        return asdict(self)


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _jsonable(value: Any) -> Any:
    """Make numbers, paths, tensors and dtypes JSON-safe; non-finite floats become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _jsonable(value.item() if value.numel() == 1 else value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return str(value)


def write_json(path: str | Path, data: dict) -> Path:
    text = json.dumps(_jsonable(data), indent=2, ensure_ascii=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")


def read_json(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_jsonl(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def save_torch(path: str | Path, obj: Any) -> Path:
    return atomic_write(path, lambda f: torch.save(obj, f))


def save_weights(path: str | Path, model: torch.nn.Module, **meta: Any) -> Path:
    """Save the model's state_dict (contiguous CPU tensors) and its constructor config."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {"state_dict": state, "config": _jsonable(getattr(model, "config", {})), **_jsonable(meta)}
    return save_torch(path, payload)


def load_weights(path: str | Path) -> dict:
    """Load a ``weights/<run>.pt`` file safely (tensors and plain data only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train the run first or set WEIGHTS_DIR")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ValueError(f"{path} is not a tinyseg checkpoint (expected a dict with 'state_dict')")
    return payload


class RunLog:
    """The folder of one run and the files in it."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.name = self.dir.name

    config_path = property(lambda self: self.dir / "config.json")
    metrics_path = property(lambda self: self.dir / "metrics.jsonl")
    summary_path = property(lambda self: self.dir / "summary.json")
    last_path = property(lambda self: self.dir / "last.pt")

    def start(self, config: dict) -> None:
        """A fresh run: write the config, empty the epoch log, drop an old resumable state."""
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json(self.config_path, config)
        self.rewrite_metrics([])
        self.last_path.unlink(missing_ok=True)

    def rewrite_metrics(self, records: Iterable[dict]) -> None:
        lines = "".join(json.dumps(_jsonable(r), ensure_ascii=False) + "\n" for r in records)
        atomic_write(self.metrics_path, lambda f: f.write(lines), mode="w")

    def append_metrics(self, record: dict) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(_jsonable(record), ensure_ascii=False) + "\n")

    def write_summary(self, summary: dict) -> None:
        write_json(self.summary_path, summary)

    def config(self) -> dict:
        return read_json(self.config_path)

    def metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_path)

    def summary(self) -> dict | None:
        return read_json(self.summary_path) if self.summary_path.exists() else None

    def is_finished(self) -> bool:
        summary = self.summary()
        return bool(summary) and summary.get("status") in FINISHED
