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
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

# a run in one of these states is finished and can be skipped by the main job
FINISHED = ("completed", "early_stopped")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not the project's; the message names it and the way out."""


@dataclass(frozen=True)
class DataRecord:
    """Which data a run was trained and validated on."""

    dataset: str      # "Tiny ImageNet-200" | "MOON_SEGMENTATION_BINARY"
    kind: str         # "real" | "generated"
    location: str     # relative to the repository, or "$DATA_DIR/..."
    train: int        # training examples
    val: int          # validation examples
    identity: str = ""  # a hash of the training and validation tensors: resuming on other data is refused

    @classmethod
    def of(cls, source, paths, train: int, val: int, identity: str = "") -> DataRecord:
        """From a located :class:`~tinyseg.data.Source` (its origin, e.g. the zip, when it has one)."""
        return cls(source.dataset, source.kind, paths.relative(source.origin or source.location), train, val,
                   identity)


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
    """``torch.save`` atomically; a failed write (a full disk) names the file, and the previous one stays."""
    path = Path(path)
    try:
        return atomic_write(path, lambda f: torch.save(obj, f))
    except (RuntimeError, OSError) as e:
        free = shutil.disk_usage(path.parent).free / 2**20 if path.parent.exists() else float("nan")
        raise OSError(f"could not write {path} ({_first_line(e)}); "
                      f"{free:.0f} MiB free on that disk. Free some space and run again: the previous "
                      f"{path.name}, if any, is intact.") from e


def _first_line(error: BaseException) -> str:
    """``Type: first line of the message`` (some errors have none)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


def load_torch(path: str | Path, what: str, way_out: str) -> Any:
    """``torch.load(weights_only=True)`` of a project file; any failure names the file and what to do."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, empty, garbage, or pickled objects weights_only refuses
        raise CheckpointError(f"{path} ({what}) cannot be read ({_first_line(e)}). "
                              f"It is damaged or not a tinyseg checkpoint. {way_out}") from e


def remove_stale_temporaries(folder: Path, name: str) -> None:
    """Delete the temporary files :func:`atomic_write` leaves when a process is killed mid-write
    (``.<name>.*.tmp``: only files of the project's own naming)."""
    for tmp in Path(folder).glob(f".{name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def save_weights(path: str | Path, model: torch.nn.Module, **meta: Any) -> Path:
    """Save the model's state_dict (contiguous CPU tensors) and its constructor config."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {"state_dict": state, "config": _jsonable(getattr(model, "config", {})), **_jsonable(meta)}
    return save_torch(path, payload)


def load_weights(path: str | Path) -> dict:
    """Load a ``weights/<run>.pt`` file safely (tensors and plain data only)."""
    path = Path(path)
    way_out = (f"Restore it (git checkout -- {path}, or check WEIGHTS_DIR), or retrain the run on purpose with "
               "make run FORCE=<its notebook> (the old run is archived, nothing is deleted).")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train the run first, or check WEIGHTS_DIR")
    payload = load_torch(path, "final weights", way_out)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"{path} is not a tinyseg checkpoint (expected a dict with 'state_dict'). {way_out}")
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
