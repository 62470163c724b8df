"""The recipes as the notebooks and the report show them: Russian labels, schedules in words, and the
one line a notebook prints after training."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .. import words
from ..paths import Paths
from ..recipes import ClassifyRecipe, Recipe, SegmentRecipe
from ..runlog import RunLog
from ..runs import RunSpec

CLASSIFY_LABELS = {
    "epochs": "эпох",
    "batch_size": "размер батча",
    "lr": "пиковый шаг обучения (SGD, Нестеров 0.9)",
    "weight_decay": "weight decay (кроме BatchNorm и смещений)",
    "label_smoothing": "label smoothing",
    "warmup": "доля шагов разогрева one-cycle",
    "resolutions": "размер входа по эпохам",
    "crop_scale": "случайный фрагмент, доля площади",
    "jitter": "яркость / контраст / насыщенность, ±",
    "max_steps_per_epoch": "батчей в эпохе (пусто = все)",
    "model": "аргументы модели (пусто = по умолчанию)",
}

SEGMENT_LABELS = {
    "epochs": "эпох",
    "batch_size": "размер батча",
    "lr": "пиковый шаг обучения (AdamW, one-cycle)",
    "weight_decay": "weight decay",
    "bce_weight": "вес BCE в функции потерь",
    "dice_weight": "вес Dice в функции потерь",
    "pos_weight": "вес пикселей камня в BCE",
    "patience": "ранняя остановка: эпох без улучшения IoU на валидации",
    "max_steps_per_epoch": "батчей в эпохе (— = все)",
}


def schedule_text(resolutions: Sequence[Sequence[int]], epochs: int) -> str:
    """``((1, 64), (21, 96), (25, 128))``, 28 → ``64 px: 1–20, 96 px: 21–24, 128 px: 25–28``."""
    phases = sorted((int(e), int(s)) for e, s in resolutions)
    ends = [e - 1 for e, _ in phases[1:]] + [epochs]
    return ", ".join(f"{s} px: {e}–{end}" if end > e else f"{s} px: {e}" for (e, s), end in zip(phases, ends))


def recipe_table(recipe: Recipe, spec: RunSpec | None = None) -> pd.DataFrame:
    """The recipe as a two-column table with Russian labels; for a segmentation run with a borrowed encoder
    (``spec``), also what it does with that encoder."""
    if isinstance(recipe, ClassifyRecipe):
        values = {
            "epochs": recipe.epochs,
            "batch_size": recipe.batch_size,
            "lr": recipe.lr,
            "weight_decay": recipe.weight_decay,
            "label_smoothing": recipe.label_smoothing,
            "warmup": f"{recipe.warmup:.0%}",
            "resolutions": schedule_text(recipe.resolutions, recipe.epochs),
            "crop_scale": f"{recipe.augment.scale[0]:.0%}–{recipe.augment.scale[1]:.0%}",
            "jitter": f"{recipe.augment.jitter:.0%}",
            "max_steps_per_epoch": recipe.max_steps_per_epoch or "—",
            "model": recipe.model or "—",
        }
        rows = {label: str(values[k]) for k, label in CLASSIFY_LABELS.items()}
    else:
        rows = {
            label: "—" if getattr(recipe, k) is None else str(getattr(recipe, k)) for k, label in SEGMENT_LABELS.items()
        }
    if isinstance(recipe, SegmentRecipe) and spec is not None and spec.encoder_from is not None:
        unfreeze = recipe.unfreeze_epoch
        rows["энкодер"] = "предобученный (Classifier128)" if spec.init == "pretrained" else "случайная инициализация"
        rows["энкодер заморожен"] = (
            "нет"
            if not spec.frozen
            else "весь запуск"
            if unfreeze is None
            else f"эпохи 1–{unfreeze - 1}, с эпохи {unfreeze} обучается"
        )
        if unfreeze is not None or not spec.frozen:
            rows["шаг обучения энкодера"] = f"× {recipe.encoder_lr_scale:g} от общего"
    return pd.DataFrame({"значение": list(rows.values())}, index=pd.Index(list(rows), name="параметр"))


def training_line(paths: Paths, run: str) -> str:
    """One line after training, the same for a run trained now and for one reused from its logs: its status, best
    epoch and metric, and «обучено <дата> на <машина> за <мин>» (the date and machine from ``summary.json``, the
    time by the one definition, :func:`~tinyseg.runlog.training_minutes`). A run that is not finished (Ctrl-C, a
    stopped process, a divergence) gets a line saying so and what to do."""
    log = RunLog(paths.run_dir(run))
    summary = log.summary()
    if summary is None:
        return f"{run}: ещё не обучен (нет {paths.relative(log.summary_path)}); выполните ячейку обучения"
    metric = summary.monitor.removeprefix("val_")
    value = summary.best.get(summary.monitor)
    shown = "—" if value is None else f"{value:.2%}" if metric.startswith("top") else f"{value:.3f}"
    what = f"{words.metric(metric)} на валидации"
    if not summary.finished:
        best = f"; лучшая пока эпоха {summary.best_epoch} ({what} {shown})" if value is not None else ""
        advice = (
            f"потери стали не конечными: измените рецепт и удалите {paths.relative(log.dir)}, чтобы начать заново"
            if summary.status == "diverged"
            else "выполните ячейку ещё раз, чтобы продолжить"
        )
        return (
            f"{summary.run}: {words.status(summary.status)} после эпохи {summary.epochs_run} из "
            f"{summary.epochs_planned}{best}; {advice}"
        )
    return (
        f"{summary.run}: {words.status(summary.status)}, лучшая эпоха {summary.best_epoch} из {summary.epochs_run} "
        f"({what} {shown}); {words.trained(summary.finished_at, summary.device, log.training_minutes())}"
    )
