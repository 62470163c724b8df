"""Reading the runs: ``runs/<run>/{config.json,metrics.jsonl,summary.json}`` and ``weights/<run>.pt``.

The run table (:mod:`tinyseg.runs`) says which runs exist and what they are; this module reads
what they logged and turns it into rows, without training anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .. import runs as run_table
from .. import words
from ..data import moon
from ..data.moon import MoonData
from ..device import Runtime
from ..inference import evaluate_models
from ..models import load_model
from ..paths import Paths
from ..runlog import DataRecord, RunConfig, RunLog, RunSummary
from ..runs import RunSpec


@dataclass
class Run:
    """One run's spec and logs."""

    spec: RunSpec
    config: RunConfig
    history: list[dict]
    summary: RunSummary

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def finished(self) -> bool:
        return self.summary.finished

    @property
    def best(self) -> dict:
        return self.summary.best

    @property
    def data(self) -> DataRecord | None:
        """The summary's data record (dataset, kind, location, train, val)."""
        return self.summary.data

    @property
    def unfreeze_epoch(self) -> int | None:
        """The epoch at whose start the encoder was unfrozen, if it was within the epochs run."""
        epoch = self.config.info.spec.get("unfreeze_epoch") if self.config.info else None
        return epoch if epoch is not None and epoch <= len(self.history) else None


@dataclass(frozen=True)
class DataWords:
    """How the report names the validation and test sets of the segmentation runs (Russian), by the kind of data
    their data records name: the generated stand-in, the real MOON_SEGMENTATION_BINARY, or (runs on different
    data, no record) just "валидация" / "тест"."""

    val: str  # genitive: "на {val}"
    val_short: str  # genitive, short: "на {val_short}"
    label: str  # in a column or set name: "IoU, {label}"
    title: str  # a figure title
    test: str = "тестовом наборе"  # prepositional: "на {test}"
    test_short: str = "тесте"  # prepositional, short: "на {test_short}"
    test_label: str = "тест"  # in a column or set name: "IoU, {test_label}"

    @classmethod
    def of(cls, what: str = "", short: str = "", label: str = "", test: str = "") -> DataWords:
        return cls(
            f"валидации {what}".strip(),
            f"валидации {short}".strip(),
            f"валидация ({label})" if label else "валидация",
            f"Валидация {what}".strip(),
            test or "тестовом наборе",
            f"тесте {short}".strip(),
            f"тест ({label})" if label else "тест",
        )


DATA_WORDS = {
    "generated": DataWords.of(
        "сгенерированной замены", "замены", "замена", "отдельно сгенерированном тестовом наборе замены"
    ),
    "real": DataWords.of(
        "настоящего MOON_SEGMENTATION_BINARY",
        "MOON_SEGMENTATION_BINARY",
        "настоящий MOON",
        "тестовой части настоящего MOON_SEGMENTATION_BINARY",
    ),
}


def data_kind(runs: Iterable[Run] | dict[str, Run]) -> str | None:
    """The kind ("real" | "generated") of the data every segmentation run among ``runs`` was trained on, from
    their data records; None when they differ or record none."""
    runs = runs.values() if isinstance(runs, dict) else runs
    kinds = {r.data.kind for r in runs if r.spec.task == "segmentation" and r.data}
    return kinds.pop() if len(kinds) == 1 else None


def data_words(runs: Iterable[Run] | dict[str, Run]) -> DataWords:
    """:class:`DataWords` for the data the segmentation runs among ``runs`` were trained on (:func:`data_kind`)."""
    return DATA_WORDS.get(data_kind(runs), DataWords.of())


def load_runs(paths: Paths, names: Iterable[str] | None = None) -> dict[str, Run]:
    """The registered runs (or ``names``) that have a ``summary.json``, in the table's order."""
    runs = {}
    for name in names if names is not None else run_table.RUNS:
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
    return {
        "run": run.name,
        "model": run.spec.title,
        "params total": s.params_total,
        "params trained": s.params_trainable,
        "best epoch": s.best_epoch,
        "IoU": best.get("val_iou"),
        "Dice": best.get("val_dice"),
        "pixel accuracy": best.get("val_pixel_acc"),
        "training, min": s.wall_time_min,
        "data": run.data.kind if run.data else None,
        "status": s.status,
    }


def compare_runs(paths: Paths) -> list[dict]:
    """One row per segmentation run with a summary.json (see :func:`summary_row`)."""
    return [summary_row(r) for r in segmentation_runs(load_runs(paths)).values()]


def load_segmentation_models(paths: Paths, names: Sequence[str] | None = None) -> dict[str, torch.nn.Module]:
    """The best checkpoint of each segmentation run that has one, rebuilt from its stored config and checked
    against the sha256 its summary.json records (when it records one)."""
    names = names if names is not None else [s.name for s in run_table.of_task("segmentation")]
    return {
        name: load_model(paths.weights(name), RunLog(paths.run_dir(name)).weights_sha256()).eval()
        for name in names
        if paths.weights(name).exists()
    }


@dataclass
class StandInPairs(MoonData):
    """The validation pairs of a generated stand-in that is not on disk (a fresh clone), standing for the whole
    set in the report: ``population`` is every pair number of the set, and :meth:`pairs` renders any other
    pairs a figure shows (:func:`tinyseg.data.moon.stand_in_pairs`)."""

    population: list[str] = field(default_factory=list)
    record: dict = field(default_factory=dict)
    paths: Paths | None = None

    def pairs(self, numbers: Sequence[str]) -> MoonData:
        return moon.stand_in_pairs(self.paths, self.record, numbers)


def recorded_validation(paths: Paths) -> tuple[dict | None, Path | None]:
    """The data record (as a dict) the segmentation runs' logs name and the ``split.json`` they saved (None for
    either when no run logged it). Runs trained on different data are an error: they cannot share one
    validation table."""
    logs = {s.name: RunLog(paths.run_dir(s.name)) for s in run_table.of_task("segmentation")}
    records = {n: log.summary().data for n, log in logs.items() if log.summary() is not None}
    locations = {(r.kind, r.location) for r in records.values() if r}
    if len(locations) > 1:
        raise ValueError(
            f"the segmentation runs were trained on different data ({sorted(locations)}); "
            'retrain them together (make run FORCE="02 03")'
        )
    record = next((asdict(r) for r in records.values() if r), None)
    split_file = next((log.dir / "split.json" for log in logs.values() if (log.dir / "split.json").exists()), None)
    return record, split_file


def validation_set(paths: Paths, profile: str) -> tuple[MoonData, torch.Tensor, str]:
    """The moon data and validation indices the segmentation runs used: the data their logs name and
    their saved ``split.json``. A generated stand-in that is not on disk is not generated again in full:
    only the validation pairs of ``split.json`` are rendered (:class:`StandInPairs`, identical to the
    pairs the runs were validated on), so every number the report computes on them is the same.

    Returns ``(data, val_indices, note)``; the note says which data it is. Runs trained on different
    data are an error: they cannot share one validation table.
    """
    record, split_file = recorded_validation(paths)
    stand_in = moon.recorded_stand_in(paths, record) if record else None
    if stand_in is not None and split_file is not None and not (stand_in[0] / "GENERATED.txt").exists():
        split = moon.Split.read(split_file)
        val = moon.stand_in_pairs(paths, record, split.val)
        population = sorted(split.train + split.val, key=lambda x: (int(x), x))
        data = StandInPairs(val.images, val.masks, val.numbers, val.source, val.where, population, record, paths)
        at = {x: i for i, x in enumerate(data.numbers)}
        val_idx = torch.tensor([at[x] for x in split.val], dtype=torch.long)  # in split.json's order, as below
        return data, val_idx, f"{data.where}; {len(val_idx)} validation pairs from {paths.relative(split_file)}"
    source = moon.locate_recorded(paths, record) if record else moon.locate(paths, profile=profile)
    data = moon.load(source, paths)
    split = moon.Split.read(split_file) if split_file else moon.make_split(data)
    val_idx = split.indices(data)[1]  # names the pair numbers: fails clearly if the data differ
    origin = paths.relative(split_file) if split_file else "a fresh split"
    return data, val_idx, f"{data.where}; {len(val_idx)} validation pairs from {origin}"


@dataclass
class CheckEvaluation:
    """Models evaluated zero-shot on the real check set (cleaned masks: larger rocks only)."""

    data: MoonData
    evaluations: dict[str, dict]  # run → inference.evaluate_models result

    def probs(self) -> dict[str, torch.Tensor]:
        return {name: ev["probs"] for name, ev in self.evaluations.items()}


def check_evaluation(paths: Paths, models: dict[str, torch.nn.Module], runtime: Runtime) -> CheckEvaluation | None:
    """Every model on the real check set at threshold 0.5, or None (said in one line) when the set is absent."""
    source = moon.locate_check(paths)
    if source is None:
        return None
    data = moon.load(source, paths)
    count = words.plural(len(data.numbers), "рендер", "рендера", "рендеров")
    print(f"реальные рендеры с очищенной разметкой ({paths.relative(source.location)}): {count}, только для оценки")
    return CheckEvaluation(data, evaluate_models(models, data.images, data.masks, runtime))
