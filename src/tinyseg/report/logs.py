"""Reading the runs: ``runs/<run>/{config.json,metrics.jsonl,summary.json}`` and ``weights/<run>.pt``.

The run table (:mod:`tinyseg.runs`) says which runs exist and what they are; this module reads
what they logged and turns it into rows, without training anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from .. import runs as run_table
from ..data import moon
from ..data.moon import MoonData
from ..models import load_model
from ..paths import Paths
from ..runlog import FINISHED, RunLog
from ..runs import RunSpec


@dataclass
class Run:
    """One run's spec and logs."""

    spec: RunSpec
    config: dict
    history: list[dict]
    summary: dict

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def finished(self) -> bool:
        return self.summary.get("status") in FINISHED

    @property
    def best(self) -> dict:
        return self.summary.get("best") or {}

    @property
    def data(self) -> dict:
        """The summary's data record (dataset, kind, location, train, val)."""
        return self.summary.get("data") or {}

    @property
    def unfreeze_epoch(self) -> int | None:
        """The epoch at whose start the encoder was unfrozen, if it was within the epochs run."""
        epoch = self.config.get("info", {}).get("spec", {}).get("unfreeze_epoch")
        return epoch if epoch is not None and epoch <= len(self.history) else None


def load_runs(paths: Paths, names: Iterable[str] | None = None) -> dict[str, Run]:
    """The registered runs (or ``names``) that have a ``summary.json``, in the table's order."""
    runs = {}
    for name in (names if names is not None else run_table.RUNS):
        log = RunLog(paths.run_dir(name))
        summary = log.summary()
        if summary is not None:
            runs[name] = Run(run_table.get(name), log.config(), log.metrics(), summary)
    return runs


def segmentation_runs(runs: dict[str, Run]) -> dict[str, Run]:
    return {n: r for n, r in runs.items() if r.spec.task == "segmentation"}


def summary_row(run: Run) -> dict:
    """A segmentation run's summary.json as one table row: size, best epoch, val metrics, time, data."""
    s, best = run.summary, run.best
    return {"run": run.name, "model": run.spec.title, "params total": s["params_total"],
            "params trained": s["params_trainable"], "best epoch": s["best_epoch"],
            "IoU": best.get("val_iou"), "Dice": best.get("val_dice"),
            "pixel accuracy": best.get("val_pixel_acc"), "training, min": s["wall_time_s"] / 60,
            "data": run.data.get("kind"), "status": s["status"]}


def compare_runs(paths: Paths) -> list[dict]:
    """One row per segmentation run with a summary.json (see :func:`summary_row`)."""
    return [summary_row(r) for r in segmentation_runs(load_runs(paths)).values()]


def load_segmentation_models(paths: Paths, names: Sequence[str] | None = None) -> dict[str, torch.nn.Module]:
    """The best checkpoint of each segmentation run that has one, rebuilt from its stored config."""
    names = names if names is not None else [s.name for s in run_table.of_task("segmentation")]
    return {name: load_model(paths.weights(name)).eval() for name in names if paths.weights(name).exists()}


def validation_set(paths: Paths, profile: str) -> tuple[MoonData, torch.Tensor, str]:
    """The moon data and validation indices the segmentation runs used (their saved ``split.json``).

    Returns ``(data, val_indices, note)``; the note says which data it is and whether it is the
    data the runs were trained on.
    """
    source = moon.locate(paths, n=moon.PAIRS[profile])
    data = moon.load(source, paths)
    names = [s.name for s in run_table.of_task("segmentation")]
    split_file = next((paths.run_dir(r) / "split.json" for r in names
                       if (paths.run_dir(r) / "split.json").exists()), None)
    split = moon.Split.read(split_file) if split_file else moon.make_split(data)
    val_idx = split.indices(data)[1]  # names the pair numbers: fails clearly if the data differ
    logged = {(s.get("data") or {}).get("kind") for n in names if (s := RunLog(paths.run_dir(n)).summary()) is not None}
    origin = paths.relative(split_file) if split_file else "a fresh split"
    note = f"{data.where}; {len(val_idx)} validation pairs from {origin}"
    if logged and logged != {source.kind}:
        note += f" — WARNING: the runs were trained on {', '.join(map(str, logged))} data, this is {source.kind}"
    return data, val_idx, note
