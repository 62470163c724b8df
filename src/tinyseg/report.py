"""The report (``04_report.ipynb``): tables, curves, mask comparisons and conclusions, all read from the logs.

Nothing here trains. Every number comes from ``runs/<run>/{config.json,metrics.jsonl,summary.json}``
or from the checkpoints in ``weights/``; the conclusions are sentences built from those numbers,
so they stay true when the runs are redone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from . import moon, segment, tiny_imagenet
from .classify import RUN as CLASSIFIER_RUN
from .models import load_model
from .moon import MoonData
from .paths import Paths
from .runlog import FINISHED, RunLog

SEG_RUNS = tuple(segment.RUNS)
SHORT = {CLASSIFIER_RUN: "Classifier128", "unet_base": "UNetBase", "unet_backbone_frozen": "Backbone A: frozen",
         "unet_backbone_finetune": "Backbone B: fine-tuned", "unet_backbone_scratch": "Backbone: random init"}
COLOURS = {"unet_base": "tab:gray", "unet_backbone_frozen": "tab:blue", "unet_backbone_finetune": "tab:red",
           "unet_backbone_scratch": "tab:green"}
SEG_METRICS = {"loss": "loss (BCE + Dice)", "iou": "IoU", "dice": "Dice", "pixel_acc": "pixel accuracy"}


@dataclass
class Run:
    """One run's logs."""

    name: str
    config: dict
    history: list[dict]
    summary: dict

    @property
    def finished(self) -> bool:
        return self.summary.get("status") in FINISHED

    @property
    def best(self) -> dict:
        return self.summary.get("best") or {}


def load_runs(paths: Paths, names: Sequence[str] = (CLASSIFIER_RUN, *SEG_RUNS)) -> dict[str, Run]:
    """The runs among ``names`` that have a ``summary.json``, in that order."""
    runs = {}
    for name in names:
        log = RunLog(paths.run_dir(name))
        summary = log.summary()
        if summary is not None:
            runs[name] = Run(name, log.config(), log.metrics(), summary)
    return runs


def describe_data(run: Run) -> str:
    """Which data a run was trained and validated on, in plain words."""
    if run.name == CLASSIFIER_RUN:
        where = Path(str(run.summary.get("data_source", "?"))).name
        if run.summary.get("profile") == "smoke":
            return f"Tiny ImageNet-200 layout, small test fixture ({where})"
        c = tiny_imagenet.OFFICIAL
        return (f"Tiny ImageNet-200, standard split: {c.classes * c.train_per_class:,} train / "
                f"{c.classes * c.val_per_class:,} val ({where})")
    source = run.summary.get("data_source")
    name = moon.describe_source(source) + (", not the real data set" if source == "generated" else "")
    return f"{name}: {run.summary.get('train_pairs', '?')} train / {run.summary.get('val_pairs', '?')} val pairs"


def overview(runs: dict[str, Run]) -> pd.DataFrame:
    """What was trained, on which data and machine, in which profile, and how long it took."""
    rows = []
    for name, run in runs.items():
        s = run.summary
        rows.append({"run": name, "model": SHORT[name], "data": describe_data(run), "device": s.get("device"),
                     "profile": s.get("profile"), "status": s.get("status"),
                     "epochs": f"{s.get('epochs_run')}/{s.get('epochs_planned')}", "best epoch": s.get("best_epoch"),
                     "training, min": s["wall_time_s"] / 60, "finished at": str(s.get("finished_at", ""))[:16]})
    return pd.DataFrame(rows).set_index("run")


def classification_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Top-1, top-5, macro-F1 and loss of the classifier's best epoch on the validation set."""
    run = runs[CLASSIFIER_RUN]
    b = run.best
    return pd.DataFrame([{"model": SHORT[run.name], "top-1": b["val_top1"], "top-5": b["val_top5"],
                          "macro-F1": b["val_macro_f1"], "val loss": b["val_loss"],
                          "best epoch": run.summary["best_epoch"], "params": run.summary["params_total"],
                          "training, min": run.summary["wall_time_s"] / 60}]).set_index("model")


def segmentation_table(runs: dict[str, Run], background_share: float | None = None) -> pd.DataFrame:
    """IoU / Dice / pixel accuracy of each segmentation run's best epoch (from summary.json), and the
    trivial all-background predictor (IoU = Dice = 0, pixel accuracy = background share)."""
    columns = ["model", "run", "IoU", "Dice", "pixel accuracy", "best epoch", "epochs", "params total",
               "params trained", "training, min"]
    rows = [{**segment.summary_row(name, runs[name].summary), "model": SHORT[name],
             "epochs": runs[name].summary.get("epochs_run")} for name in SEG_RUNS if name in runs]
    rows = [{k: row[k] for k in columns} for row in rows]
    if background_share is not None:
        rows.append({"model": "trivial: all background", "run": "—", "IoU": 0.0, "Dice": 0.0,
                     "pixel accuracy": background_share})
    return pd.DataFrame(rows).set_index("model")


def architecture_tables(paths: Paths) -> dict[str, pd.DataFrame]:
    """Per model, the per-stage (classifier) or per-level (U-Nets) table, rebuilt from the checkpoints' configs."""
    tables = {}
    if paths.weights(CLASSIFIER_RUN).exists():
        classifier = load_model(paths.weights(CLASSIFIER_RUN))
        tables["Classifier128"] = pd.DataFrame(classifier.stage_table()).set_index("stage")
    for name, title in (("unet_base", "UNetBase"), ("unet_backbone_finetune", "UNetBackbone")):
        if paths.weights(name).exists():
            tables[title] = pd.DataFrame(load_model(paths.weights(name)).level_table()).set_index("level")
    return tables


def parameter_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Parameters in total and trained (at the end of training) per run, against the assignment's limits."""
    limits = {CLASSIFIER_RUN: "≤ 5,000,000", "unet_base": "≤ 2,500,000 (±10%)"}
    return pd.DataFrame([{"run": n, "model": SHORT[n], "params total": r.summary["params_total"],
                          "params trained": r.summary["params_trainable"], "limit": limits.get(n, "—")}
                         for n, r in runs.items()]).set_index("run")


def plot_classifier_curves(run: Run):
    """Loss, top-1, top-5 and macro-F1 per epoch, train dashed and val solid."""
    from .plots import plot_history

    return plot_history(run.history, ["loss", "top1", "top5", "macro_f1"], title="Classifier128 on Tiny ImageNet-200")


def plot_segmentation_curves(runs: dict[str, Run]):
    """The segmentation runs on shared axes: one colour per run, val solid, train dashed; ★ best epoch."""
    names = [n for n in SEG_RUNS if n in runs]
    unfreeze = unfreeze_epoch(runs)
    fig, axes = plt.subplots(1, len(SEG_METRICS), figsize=(18, 4.2), squeeze=False)
    for ax, (key, title) in zip(axes[0], SEG_METRICS.items()):
        for name in names:
            run, colour = runs[name], COLOURS[name]
            epochs = [r["epoch"] for r in run.history]
            ax.plot(epochs, [r.get(f"train_{key}") for r in run.history], "--", color=colour, alpha=0.45, lw=1)
            ax.plot(epochs, [r.get(f"val_{key}") for r in run.history], "-", color=colour, lw=1.8,
                    label=SHORT[name])
            best = run.summary.get("best_epoch")
            if best is not None and run.best.get(f"val_{key}") is not None:
                ax.plot([best], [run.best[f"val_{key}"]], "*", color=colour, markersize=11, markeredgecolor="k")
        if unfreeze is not None:
            ax.axvline(unfreeze - 0.5, color=COLOURS["unet_backbone_finetune"], ls=":", lw=1)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Segmentation runs: val solid, train dashed, ★ best epoch by val IoU"
                 + (", dotted line: encoder of B unfrozen" if unfreeze is not None else ""))
    fig.tight_layout()
    return fig


def unfreeze_epoch(runs: dict[str, Run]) -> int | None:
    run = runs.get("unet_backbone_finetune")
    if run is None:
        return None
    epoch = run.config.get("recipe", {}).get("unfreeze_epoch")
    return epoch if epoch is not None and epoch <= len(run.history) else None


def load_segmentation_models(paths: Paths, names: Sequence[str] = SEG_RUNS) -> dict[str, torch.nn.Module]:
    """The best checkpoint of each segmentation run that has one, rebuilt from its stored config."""
    return {name: load_model(paths.weights(name)).eval() for name in names if paths.weights(name).exists()}


def pick_examples(masks: torch.Tensor, n: int = 5) -> list[int]:
    """``n`` validation images chosen without looking at any model: evenly spread over the rock-share
    quantiles (from few rocks to many), so every model is shown on the same, representative images."""
    share = masks.float().mean(dim=(1, 2, 3)).numpy()
    order = np.argsort(share, kind="stable")
    positions = np.linspace(0.1, 0.9, n) * (len(order) - 1)
    return [int(order[round(p)]) for p in positions]


def compare_masks(images: torch.Tensor, masks: torch.Tensor, probs: dict[str, torch.Tensor], indices: Sequence[int],
                  threshold: float = 0.5):
    """Rows: the chosen images; columns: input, ground truth, then every model's errors
    (TP green, FP red, FN blue) with its IoU on that image."""
    names = list(probs)
    ncols = 2 + len(names)
    fig, axes = plt.subplots(len(indices), ncols, figsize=(2.55 * ncols, 2.7 * len(indices)), squeeze=False)
    for r, i in enumerate(indices):
        truth = masks[i].bool()
        axes[r, 0].imshow(images[i].permute(1, 2, 0).numpy())
        axes[r, 0].set_title(f"input (rock {truth.float().mean():.1%})" if r == 0 else
                             f"rock {truth.float().mean():.1%}", fontsize=9)
        axes[r, 1].imshow(truth[0].numpy(), cmap="gray", vmin=0, vmax=1)
        for c, name in enumerate(names, start=2):
            pred = probs[name][i] >= threshold
            union = (pred | truth).sum().item()
            iou = (pred & truth).sum().item() / union if union else 1.0
            axes[r, c].imshow(segment.error_overlay(images[i], pred, truth))
            axes[r, c].set_title(f"{SHORT[name]}\nIoU {iou:.2f}" if r == 0 else f"IoU {iou:.2f}", fontsize=9)
        if r == 0:
            axes[r, 1].set_title("ground truth", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("The same validation images through every model: TP green, FP red, FN blue", y=1.0)
    fig.tight_layout()
    return fig


def recheck_table(runs: dict[str, Run], evaluations: dict[str, dict]) -> pd.DataFrame:
    """IoU logged at the best epoch against IoU recomputed now from ``weights/<run>.pt``: they agree when
    the checkpoints are the ones the logs describe."""
    rows = []
    for name, ev in evaluations.items():
        logged = runs[name].best.get("val_iou") if name in runs else None
        rows.append({"model": SHORT[name], "IoU logged": logged, "IoU from weights": ev["metrics"]["iou"],
                     "median per-image IoU": float(np.median(ev["per_image_iou"]))})
    return pd.DataFrame(rows).set_index("model")


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def conclusions(runs: dict[str, Run], background_share: float | None = None) -> str:
    """The report's conclusions (Markdown, Russian), every number read from the logs."""
    lines = []
    if CLASSIFIER_RUN in runs:
        b = runs[CLASSIFIER_RUN].best
        reached = "цель ≥ 50% достигнута" if b["val_top1"] >= 0.5 else "цель ≥ 50% НЕ достигнута"
        lines.append(f"**Классификатор.** Classifier128 на валидации Tiny ImageNet-200: top-1 "
                     f"{_fmt_pct(b['val_top1'])} ({reached}), top-5 {_fmt_pct(b['val_top5'])}, macro-F1 "
                     f"{_fmt_pct(b['val_macro_f1'])}; обучение {runs[CLASSIFIER_RUN].summary['wall_time_s'] / 60:.0f} мин.")
    seg = {n: runs[n] for n in SEG_RUNS if n in runs and runs[n].best.get("val_iou") is not None}
    if not seg:
        return "\n\n".join(lines + ["Журналов сегментации пока нет: выполните `02_unet_base.ipynb` и "
                                    "`03_unet_backbone.ipynb`."])
    iou = {n: r.best["val_iou"] for n, r in seg.items()}
    sources = {r.summary.get("data_source") for r in seg.values()}
    data = ("на **сгенерированных** данных (процедурный генератор `tinyseg.lunar_synth`, настоящий "
            "MOON_SEGMENTATION_BINARY недоступен); на реальных снимках числа будут другими"
            if sources == {"generated"} else "на настоящем MOON_SEGMENTATION_BINARY" if sources == {"real"}
            else f"на разных данных ({', '.join(map(str, sorted(sources, key=str)))}) — сравнение некорректно")
    lines.append(f"**Данные сегментации.** Все модели сегментации обучены и проверены {data}.")
    best = max(iou, key=iou.get)
    ranking = ", ".join(f"{SHORT[n]} {iou[n]:.3f}" for n in sorted(iou, key=iou.get, reverse=True))
    lines.append(f"**Лучшая модель** по val IoU — {SHORT[best]} (IoU {iou[best]:.3f}, Dice "
                 f"{seg[best].best['val_dice']:.3f}). Порядок по IoU: {ranking}.")

    def diff(a: str, b: str) -> str:
        d = iou[a] - iou[b]
        return f"{d:+.3f} IoU ({d / iou[b]:+.0%})" if iou[b] else f"{d:+.3f} IoU"

    if {"unet_backbone_finetune", "unet_base"} <= iou.keys():
        wins = iou["unet_backbone_finetune"] > iou["unet_base"]
        lines.append(f"**Backbone B против UNetBase:** {diff('unet_backbone_finetune', 'unet_base')} — "
                     + ("дообученный энкодер из Classifier128 лучше обычного U-Net." if wins else
                        "дообученный энкодер из Classifier128 НЕ лучше обычного U-Net при том же бюджете эпох."))
    pre = [n for n in ("unet_backbone_frozen", "unet_backbone_finetune") if n in iou]
    if "unet_backbone_scratch" in iou and pre:
        parts = "; ".join(f"{SHORT[n]}: {diff(n, 'unet_backbone_scratch')}" for n in pre)
        gain = all(iou[n] > iou["unet_backbone_scratch"] for n in pre)
        lines.append(f"**Что дало предобучение** (та же архитектура со случайной инициализацией энкодера как "
                     f"контроль): {parts}. " + ("Веса Tiny ImageNet помогают." if gain else
                                                 "Выигрыш от весов Tiny ImageNet есть не во всех вариантах."))
    if {"unet_base", "unet_backbone_scratch", "unet_backbone_finetune"} <= iou.keys():
        gap = iou["unet_base"] - iou["unet_backbone_scratch"]
        closed = iou["unet_backbone_finetune"] - iou["unet_backbone_scratch"]
        if gap > 0:
            lines.append(
                f"**Архитектура против весов.** Без предобучения архитектура UNetBackbone уступает UNetBase "
                f"{gap:.3f} IoU; предобучение с дообучением возвращает {closed:+.3f} IoU, то есть "
                f"{closed / gap:.0%} этого разрыва. "
                + ("Отставание B от UNetBase идёт от архитектуры энкодера, а не от весов. Вероятная причина: "
                   "Classifier128 рассчитан "
                   "на увеличенные 64-пиксельные снимки и уменьшает 128→32 двумя свёртками, так что на полном и "
                   "половинном разрешении, где видны мелкие камни, у него мало слоёв, а UNetBase держит там по "
                   "две свёртки." if closed < gap else "Предобучение перекрывает архитектурный разрыв целиком."))
    if {"unet_backbone_finetune", "unet_backbone_frozen"} <= iou.keys():
        lines.append(f"**Разморозка энкодера** (B против A): {diff('unet_backbone_finetune', 'unet_backbone_frozen')}.")
    if background_share is not None:
        acc = {n: r.best["val_pixel_acc"] for n, r in seg.items()}
        worst = min(acc, key=acc.get)
        lines.append(f"**Тривиальный предсказатель** «камней нет нигде»: IoU = Dice = 0, pixel accuracy = доля фона "
                     f"{background_share:.3f}. Самая слабая по IoU модель ({SHORT[min(iou, key=iou.get)]}) имеет IoU "
                     f"{min(iou.values()):.3f}; наименьшая pixel accuracy среди моделей — {acc[worst]:.3f} "
                     f"({SHORT[worst]}), на {acc[worst] - background_share:+.3f} выше тривиальной: при доле камней "
                     f"{1 - background_share:.1%} pixel accuracy мало что говорит, поэтому главная метрика — IoU.")
    minutes = {n: r.summary["wall_time_s"] / 60 for n, r in seg.items()}
    lines.append("**Время обучения** (включая валидацию каждой эпохи): "
                 + ", ".join(f"{SHORT[n]} {m:.1f} мин" for n, m in minutes.items()) + ".")
    return "\n\n".join(lines)


def validation_set(paths: Paths, profile: str) -> tuple[MoonData, torch.Tensor, str]:
    """The moon data and validation indices the segmentation runs used (their saved ``split.json``).

    Returns ``(data, val_indices, note)``; the note says which data it is and whether it is the
    data the runs were trained on.
    """
    root, source = moon.locate(paths, n=moon.PAIRS[profile])
    data = moon.load(root, source, paths)
    split_file = next((paths.run_dir(r) / "split.json" for r in SEG_RUNS
                       if (paths.run_dir(r) / "split.json").exists()), None)
    split = moon.Split.read(split_file) if split_file else moon.make_split(data)
    val_idx = split.indices(data)[1]  # names the pair numbers: fails clearly if the data differ
    logged = {s.get("data_source") for n in SEG_RUNS
              if (s := RunLog(paths.run_dir(n)).summary()) is not None}
    note = f"{moon.describe_source(source)} at {root}; {len(val_idx)} validation pairs from {split_file or 'a fresh split'}"
    if logged and logged != {source}:
        note += f" — WARNING: the runs were trained on {', '.join(map(str, logged))} data, this is {source}"
    return data, val_idx, note
