"""Run logs and checkpoints: the files the report reads.

``runs/<run>/config.json``   :class:`RunConfig`: training config, model config, runtime, the run's
                             :class:`RunInfo` (profile, seed, data, recipe, spec) and its signature
``runs/<run>/metrics.jsonl`` one JSON object per finished epoch
``runs/<run>/summary.json``  :class:`RunSummary`: status, best epoch and its metrics, parameters, device,
                             data, time

The two JSON files are written from and read into the same typed records (``from_json`` refuses an
unknown or missing field, so a renamed field fails where the file is read, with its name).
``runs/<run>/overlaps.json`` per-image intersection/union of the best weights (segmentation)
``runs/<run>/last.pt``       resumable state (model, optimizer, scheduler, RNG); never committed
``weights/<run>.pt``         best model: ``{"state_dict", "config", "epoch", "metrics"}``,
                             loadable with ``torch.load(..., weights_only=True)``; its sha256 is
                             recorded in summary.json (``weights_sha256``) and checked where the
                             project loads a run's weights (:func:`load_weights` with ``expected_sha256``)

Every write is atomic (a temporary file in the same folder, then ``os.replace``), so an
interruption leaves either the previous file or the new one, never a partial one. Locations in
these files are relative (``Paths.relative``): no absolute path of the machine that made them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import typing
from collections.abc import Callable, Iterable
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch

# a run in one of these states is finished and can be skipped by the main job
FINISHED = ("completed", "early_stopped")
OVERLAPS = "overlaps.json"  # per-image overlaps of a segmentation run's best weights (tinyseg.segment)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not the project's; the message names it and the way out."""


class RunLogError(ValueError):
    """A run log (config.json, summary.json) does not have the fields this version of the project reads."""


@dataclass
class TrainConfig:
    """What the engine needs to train one run; derived from the run's recipe (:mod:`tinyseg.recipes`),
    never written by hand for a project run. Saved in ``runs/<run>/config.json`` under ``train``."""

    run: str
    epochs: int
    lr: float
    optimizer: str = "sgd"  # "sgd" (Nesterov momentum) | "adamw"
    momentum: float = 0.9  # SGD momentum (unused by AdamW)
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas (unused by SGD)
    weight_decay: float = 5e-4  # not applied to norms and biases
    schedule: str = "onecycle"  # "onecycle" | "cosine" (linear warm-up, cosine decay) | "constant"
    warmup: float = 0.15  # fraction of all steps spent warming up
    lr_scales: dict[str, float] = field(default_factory=dict)  # parameter-name prefix → LR multiplier
    grad_clip: float | None = None  # max gradient norm
    monitor: str = "val_loss"  # the record key that picks the best epoch
    mode: str = "min"  # "min" | "max"
    monitor_from: int = 1  # epochs before this one do not compete for the best epoch
    patience: int | None = None  # early stopping after this many epochs without improvement
    max_steps_per_epoch: int | None = None  # cut epochs short (smoke profile)
    train_metrics: bool = True  # also compute the metrics on training batches
    seed: int = 0

    def __post_init__(self):
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {self.mode!r}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', not {self.optimizer!r}")
        if self.schedule not in ("onecycle", "cosine", "constant"):
            raise ValueError(f"schedule must be 'onecycle', 'cosine' or 'constant', not {self.schedule!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {self.epochs}")
        self.betas = tuple(self.betas)


@dataclass(frozen=True)
class HeldOutRecord:
    """Which test set a run is reported on (segmentation): never part of its training identity."""

    kind: str  # "generated": the stand-in's separately generated test set; "real": the test part of the split
    location: str  # relative to the repository, or "$DATA_DIR/..." (for "real": the training data's location)
    pairs: int
    identity: str  # content_hash of the test images and masks


@dataclass(frozen=True)
class DataRecord:
    """Which data a run was trained and validated on (and, for segmentation, which test set it is reported on)."""

    dataset: str  # "Tiny ImageNet-200" | "MOON_SEGMENTATION_BINARY"
    kind: str  # "real" | "generated"
    location: str  # relative to the repository, or "$DATA_DIR/..."
    train: int  # training examples
    val: int  # validation examples
    identity: str = ""  # content_hash of the training and validation tensors: resuming on other data is refused
    test: HeldOutRecord | None = None  # not in ``identity``: the test set never shapes training

    @classmethod
    def of(
        cls, source, paths, train: int, val: int, identity: str = "", test: HeldOutRecord | None = None
    ) -> DataRecord:
        """From a located :class:`~tinyseg.data.Source` (its origin, e.g. the zip, when it has one)."""
        location = paths.relative(source.origin or source.location)
        return cls(source.dataset, source.kind, location, train, val, identity, test)


@dataclass(frozen=True)
class RunInfo:
    """What a run was, besides its training config: written to config.json and summary.json."""

    profile: str
    seed: int
    data: DataRecord
    recipe: dict  # the run's resolved recipe (tinyseg.recipes), as a dict
    spec: dict  # the run table's entry as it shaped training (RunSpec.training)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunConfig:
    """``runs/<run>/config.json``: everything needed to re-run, and the run's signature."""

    train: TrainConfig
    model: dict  # the model's constructor config (model.config)
    runtime: dict  # device, precision, layout (Runtime.as_dict)
    steps_per_epoch: int
    batch_size: int | None
    signature: dict  # what defines the run: resume and reuse refuse any difference
    info: RunInfo | None = None  # profile, seed, data, recipe, spec (absent for runs outside the run table)

    @classmethod
    def from_json(cls, data: dict, where: str = "config.json") -> RunConfig:
        return _build(cls, data, where)

    def as_json(self) -> dict:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class RunSummary:
    """``runs/<run>/summary.json``: status, best epoch and its metrics, size, device, time, data."""

    run: str
    status: str  # running | completed | early_stopped | interrupted | diverged
    best_epoch: int | None
    best: dict  # the best epoch's record (metrics.jsonl line)
    epochs_run: int
    epochs_planned: int
    params_total: int
    params_trainable: int
    wall_time_s: float  # wall-clock training time over resumptions, checkpoints included (shown: training_minutes)
    monitor: str = ""
    mode: str = ""
    device: str = ""
    precision: str = ""
    weights: str = ""
    weights_sha256: str = ""  # sha256 of weights/<run>.pt as written; "" for runs logged before it was recorded
    finished_at: str = ""
    profile: str | None = None
    seed: int | None = None
    data: DataRecord | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def wall_time_min(self) -> float:
        return self.wall_time_s / 60

    @classmethod
    def from_json(cls, data: dict, where: str = "summary.json") -> RunSummary:
        return _build(cls, data, where)

    def as_json(self) -> dict:
        return _jsonable(asdict(self))


def _build(cls, data: dict, where: str):
    """``cls(**data)`` for a dataclass, nested dataclasses included; an unknown or missing field is a
    :class:`RunLogError` naming the file and the field (a renamed field fails here, not in the report)."""
    if not isinstance(data, dict):
        raise RunLogError(f"{where}: expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(names))
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [n for n in required if n not in data]
    if unknown or missing:
        raise RunLogError(
            f"{where}: {cls.__name__} "
            + "; ".join(
                ([f"unknown field(s) {unknown}"] if unknown else [])
                + ([f"missing field(s) {missing}"] if missing else [])
            )
            + ". It was written by another version of the project: re-run the run's notebook, or archive the run."
        )
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        value, kind = data[name], hints[name]
        nested = [t for t in typing.get_args(kind) or (kind,) if is_dataclass(t)]
        if nested and isinstance(value, dict):
            value = _build(nested[0], value, f"{where}: {name}")
        kwargs[name] = value
    return cls(**kwargs)


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
        raise OSError(
            f"could not write {path} ({_first_line(e)}); "
            f"{free:.0f} MiB free on that disk. Free some space and run again: the previous "
            f"{path.name}, if any, is intact."
        ) from e


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
        raise CheckpointError(
            f"{path} ({what}) cannot be read ({_load_failure(e)}). It is damaged or not a tinyseg checkpoint. {way_out}"
        ) from e


_UNSAFE = "Weights only load failed"  # how torch starts the message when the file holds objects it refuses


def _load_failure(error: BaseException) -> str:
    """Why ``torch.load`` failed, in one line. torch's message for a file holding Python objects advises
    loading it with ``weights_only=False`` (or allow-listing the objects): advice that must not be followed
    for a file that should hold tensors only, so only its diagnosis is kept."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    if _UNSAFE not in text and "weights_only" not in text:
        return _first_line(error)
    found = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\s+Please use\b.*)?$", text, re.MULTILINE)
    detail = found.group(1).strip().rstrip(".") if found else "Python objects other than tensors and plain data"
    return (
        f"{type(error).__name__}: it holds objects a tinyseg checkpoint never contains: {detail[:200]}; "
        "do not load it with weights_only=False or allow-list them: that would run code from the file"
    )


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


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


def load_weights(path: str | Path, expected_sha256: str | None = None) -> dict:
    """Load a ``weights/<run>.pt`` file safely (tensors and plain data only).

    ``expected_sha256`` (the run's ``summary.json`` records it, see :meth:`RunLog.weights_sha256`): the
    file must have exactly that hash, else a :class:`CheckpointError` names it; None or "" skips the check.
    """
    path = Path(path)
    way_out = (
        f"Restore it (git checkout -- {path}, or check WEIGHTS_DIR), or retrain the run on purpose with "
        "make run FORCE=<its notebook> (the old run is archived, nothing is deleted)."
    )
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train the run first, or check WEIGHTS_DIR")
    if expected_sha256 and (actual := file_sha256(path)) != expected_sha256:
        raise CheckpointError(
            f"{path} is not the file its run saved: its sha256 is {actual[:16]}…, the run's summary.json "
            f"records {expected_sha256[:16]}… (weights_sha256). It was changed or damaged after training. {way_out}"
        )
    payload = load_torch(path, "final weights", way_out)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"{path} is not a tinyseg checkpoint (expected a dict with 'state_dict'). {way_out}")
    return payload


OVERLAPS_PROBLEMS = {  # what can be wrong with an overlaps.json, as the report says it in Russian
    "missing": "файла нет",
    "unreadable": "файл не читается",
    "empty": "в файле нет подсчётов",
    "malformed": "файл не читается: запись не в том виде",
}


def read_overlaps(path: str | Path) -> tuple[dict | None, str | None, str | None]:
    """A run's ``overlaps.json`` checked: ``(counts, None, None)``, or ``(None, kind, why)`` where ``kind`` is a
    key of :data:`OVERLAPS_PROBLEMS` and ``why`` ends a sentence naming the file ("is missing", ...).
    Valid counts map a set name to distinct ``pairs`` with their ``intersection`` and ``union``."""
    path = Path(path)
    if not path.exists():
        return None, "missing", "is missing"
    try:
        counts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, "unreadable", f"cannot be read ({type(e).__name__}: {e})"
    if not isinstance(counts, dict) or not counts:
        return None, "empty", "holds no counts"
    for which, c in counts.items():
        if not (
            isinstance(c, dict)
            and all(isinstance(c.get(k), list) for k in ("pairs", "intersection", "union"))
            and len(c["pairs"]) == len(c["intersection"]) == len(c["union"])
            and len(set(map(str, c["pairs"]))) == len(c["pairs"])
        ):
            why = f"cannot be read (its {which!r} entry is not distinct pairs with their intersection and union)"
            return None, "malformed", why
    return counts, None, None


def training_minutes(history: Iterable[dict]) -> float:
    """THE training time of a run, in minutes: the sum of its logged epoch times, training and validation of every
    epoch (``metrics.jsonl``'s ``seconds``), over resumptions. Every table, sentence and notebook line that gives
    a training time uses this one definition (checkpoint writing and the live plot between epochs are not in
    it; ``summary.json``'s ``wall_time_s`` includes them and is not shown)."""
    return sum(float(r.get("seconds", 0.0)) for r in history) / 60


class RunLog:
    """The folder of one run and the files in it."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.name = self.dir.name

    config_path = property(lambda self: self.dir / "config.json")
    metrics_path = property(lambda self: self.dir / "metrics.jsonl")
    summary_path = property(lambda self: self.dir / "summary.json")
    last_path = property(lambda self: self.dir / "last.pt")
    overlaps_path = property(lambda self: self.dir / OVERLAPS)

    def start(self, config: RunConfig) -> None:
        """A fresh run: write the config, empty the epoch log, drop an old resumable state."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in (self.summary_path, self.overlaps_path):  # of an earlier attempt (diverged, say)
            stale.unlink(missing_ok=True)
        write_json(self.config_path, config.as_json())
        self.rewrite_metrics([])
        self.last_path.unlink(missing_ok=True)

    def rewrite_metrics(self, records: Iterable[dict]) -> None:
        lines = "".join(json.dumps(_jsonable(r), ensure_ascii=False) + "\n" for r in records)
        atomic_write(self.metrics_path, lambda f: f.write(lines), mode="w")

    def append_metrics(self, record: dict) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(_jsonable(record), ensure_ascii=False) + "\n")

    def write_summary(self, summary: RunSummary) -> None:
        write_json(self.summary_path, summary.as_json())

    def config(self) -> RunConfig:
        return RunConfig.from_json(read_json(self.config_path), str(self.config_path))

    def metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_path)

    def training_minutes(self) -> float:
        """The run's training time (:func:`training_minutes` of its logged epochs)."""
        return training_minutes(self.metrics())

    def summary(self) -> RunSummary | None:
        if not self.summary_path.exists():
            return None
        return RunSummary.from_json(read_json(self.summary_path), str(self.summary_path))

    def weights_sha256(self) -> str:
        """The sha256 of ``weights/<run>.pt`` that the run's summary records ("" when none is recorded)."""
        summary = self.summary()
        return summary.weights_sha256 if summary is not None else ""

    def is_finished(self) -> bool:
        summary = self.summary()
        return summary is not None and summary.finished
