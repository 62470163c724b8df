"""The budget curve (issue 25): does the lead of a model hold with more training? Seed 0 of a run trained as a
full one-cycle run at several epoch budgets (``tools/budget_curve.py``, logs under ``runs/budget/``), and the
run's own seed 0 at the recipe's budget, read from their logs: IoU on the stand-in test set (per-image counts
in ``overlaps.json``; the validation set, labelled, where a run has no test counts) against epochs and minutes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import Paths
from ..runlog import RunLog, read_overlaps
from ..runs import RunSpec

BUDGET_DIR = "budget"  # under runs/: the budget runs, named <run>-e<epochs>
_NAME = re.compile(r"^(?P<run>.+)-e(?P<epochs>\d+)$")


def budget_name(run: str, epochs: int) -> str:
    return f"{run}-e{epochs}"


@dataclass(frozen=True)
class BudgetPoint:
    run: str  # the run table's name
    epochs: int
    minutes: float  # summed logged epoch times (training + validation), as every table of the report
    iou: float
    which: str  # "test" or "val": the set the IoU is on
    where: str  # the log folder, relative to the repository


def _iou(folder: Path) -> tuple[float, str] | None:
    counts, _, _ = read_overlaps(folder / "overlaps.json")
    for which in ("test", "val"):
        if counts and which in counts:
            inter, union = np.sum(counts[which]["intersection"]), np.sum(counts[which]["union"])
            return (float(inter / union) if union else 1.0), which
    return None


def budget_points(paths: Paths, specs: list[RunSpec]) -> list[BudgetPoint]:
    """Every finished seed-0 point of ``specs``: the run itself (its recipe's epochs) and its budget runs."""
    points = []
    for spec in specs:
        folders = [paths.run_dir(spec.name)]
        budget = paths.runs_dir / BUDGET_DIR
        if budget.is_dir():
            folders += sorted(f for f in budget.iterdir() if (m := _NAME.match(f.name)) and m.group("run") == spec.name)
        profile = None  # the run's own profile: budget runs of another profile (a smoke try) are left out
        for folder in folders:
            summary = RunLog(folder).summary()
            iou = _iou(folder)
            if summary is None or not summary.finished or iou is None:
                continue
            profile = summary.profile if profile is None else profile
            if summary.profile != profile:
                continue
            points.append(
                BudgetPoint(
                    spec.name, summary.epochs_run, RunLog(folder).training_minutes(), *iou, paths.relative(folder)
                )
            )
    return sorted(points, key=lambda p: (p.run, p.epochs))


def budget_table(points: list[BudgetPoint], specs: list[RunSpec]) -> pd.DataFrame:
    """IoU by model (rows) and budget (columns), with minutes; the set each IoU is on in the column name."""
    short = {s.name: s.short for s in specs}
    rows = {}
    for p in points:
        label = "тест" if p.which == "test" else "валидация (теста нет)"
        rows.setdefault(short[p.run], {})[f"{p.epochs} эпох: IoU ({label})"] = f"{p.iou:.3f}"
        rows[short[p.run]][f"{p.epochs} эпох: минут"] = f"{p.minutes:.1f}"
    return pd.DataFrame.from_dict(rows, orient="index")


def budget_figure(points: list[BudgetPoint], specs: list[RunSpec]):
    """Two panels: IoU against epochs and against minutes of training, one line per model."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for spec in specs:
        mine = [p for p in points if p.run == spec.name]
        if not mine:
            continue
        for ax, x in zip(axes, ([p.epochs for p in mine], [p.minutes for p in mine])):
            ax.plot(x, [p.iou for p in mine], "o-", color=spec.colour, label=spec.short)
    which = {p.which for p in points}
    ylabel = "IoU на тесте" if which == {"test"} else "IoU (тест или валидация, см. таблицу)"
    for ax, xlabel in zip(axes, ("эпох обучения", "минут обучения")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Качество в зависимости от бюджета обучения (сид 0)")
    fig.tight_layout()
    return fig


NOISE = 0.01  # about the seed spread of a model's test IoU: a gap within it is not told apart from none


def budget_gaps(points: list[BudgetPoint], model: RunSpec, reference: RunSpec) -> list[tuple[int, float]]:
    """``(epochs, IoU of model − IoU of reference)`` at every budget both have, fewest epochs first."""
    mine = {p.epochs: p.iou for p in points if p.run == model.name}
    theirs = {p.epochs: p.iou for p in points if p.run == reference.name}
    return [(e, mine[e] - theirs[e]) for e in sorted(mine.keys() & theirs.keys())]


def budget_summary(points: list[BudgetPoint], model: RunSpec, reference: RunSpec, recipe_epochs: int) -> str:
    """Whether ``model``'s lead over ``reference`` survives, shrinks or closes with more training (Markdown,
    Russian): the gap at each budget, then the verdict comparing the longest budget with the recipe's —
    closes (the longest budget's gap within ``NOISE`` or of the other sign), shrinks (smaller by more than
    ``NOISE``), else survives. One seed per point: said."""
    gaps = budget_gaps(points, model, reference)
    if len(gaps) < 2 or recipe_epochs not in dict(gaps):
        return (
            f"Кривой бюджета для {model.said} и {reference.said} пока нет (нужны точки при {recipe_epochs} эпохах "
            "и хотя бы ещё одном бюджете: `tools/budget_curve.py`)."
        )
    which = {p.which for p in points if p.run in (model.name, reference.name)}
    on = "тесте" if which == {"test"} else "тесте или валидации (см. таблицу)"
    text = f"Разница {model.said} − {reference.said} (IoU на {on}, сид 0): " + ", ".join(
        f"{d:+.3f} при {e} эпохах" for e, d in gaps
    )
    at_recipe, (longest, last) = dict(gaps)[recipe_epochs], gaps[-1]
    if longest == recipe_epochs:
        return text + "."
    if abs(last) < NOISE or (last > 0) != (at_recipe > 0):
        verdict = f"к {longest} эпохам разница закрывается (в пределах ±{NOISE:.2f} — разброса между сидами — или меняет знак)"
    elif abs(last) < abs(at_recipe) - NOISE:
        verdict = f"к {longest} эпохам разница сокращается, но остаётся"
    else:
        verdict = f"при {longest} эпохах разница сохраняется"
    return (
        text
        + f". {verdict[0].upper() + verdict[1:]}. Каждая точка — один сид, поэтому разницы меньше ≈{NOISE:.2f} от шума не отличить."
    )
