"""The report's tables, built from the run logs and the checkpoints' configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..models import PARAM_LIMITS, load_model
from ..paths import Paths
from ..runs import by_role
from .logs import Run, segmentation_runs, summary_row


def describe_data(run: Run) -> str:
    """Which data a run was trained and validated on, in plain words."""
    d = run.data
    if not d:
        return "?"
    if d["kind"] == "generated":
        return (f"GENERATED stand-in for {d['dataset']} (tinyseg.data.lunar_synth), not the real data set: "
                f"{d['train']:,} train / {d['val']:,} val pairs")
    what = f"{d['dataset']} layout, small test fixture" if run.summary.get("profile") == "smoke" else d["dataset"]
    return f"{what}: {d['train']:,} train / {d['val']:,} val ({Path(d['location']).name})"


def overview(runs: dict[str, Run]) -> pd.DataFrame:
    """What was trained, on which data and machine, in which profile, and how long it took."""
    rows = []
    for name, run in runs.items():
        s = run.summary
        rows.append({"run": name, "model": run.spec.short, "data": describe_data(run), "device": s.get("device"),
                     "profile": s.get("profile"), "status": s.get("status"),
                     "epochs": f"{s.get('epochs_run')}/{s.get('epochs_planned')}", "best epoch": s.get("best_epoch"),
                     "training, min": s["wall_time_s"] / 60, "finished at": str(s.get("finished_at", ""))[:16]})
    return pd.DataFrame(rows).set_index("run")


def classification_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Top-1, top-5, macro-F1 and loss of each classifier's best epoch on the validation set."""
    rows = []
    for run in runs.values():
        if run.spec.task != "classification":
            continue
        b = run.best
        rows.append({"model": run.spec.short, "top-1": b["val_top1"], "top-5": b["val_top5"],
                     "macro-F1": b["val_macro_f1"], "val loss": b["val_loss"],
                     "best epoch": run.summary["best_epoch"], "params": run.summary["params_total"],
                     "training, min": run.summary["wall_time_s"] / 60})
    return pd.DataFrame(rows).set_index("model")


def segmentation_table(runs: dict[str, Run], background_share: float | None = None) -> pd.DataFrame:
    """IoU / Dice / pixel accuracy of each segmentation run's best epoch (from summary.json), and the
    trivial all-background predictor (IoU = Dice = 0, pixel accuracy = background share)."""
    columns = ["model", "run", "IoU", "Dice", "pixel accuracy", "best epoch", "epochs", "params total",
               "params trained", "training, min"]
    rows = [{**summary_row(run), "model": run.spec.short, "epochs": run.summary.get("epochs_run")}
            for run in segmentation_runs(runs).values()]
    rows = [{k: row[k] for k in columns} for row in rows]
    if background_share is not None:
        rows.append({"model": "trivial: all background", "run": "—", "IoU": 0.0, "Dice": 0.0,
                     "pixel accuracy": background_share})
    return pd.DataFrame(rows).set_index("model")


def architecture_tables(paths: Paths, runs: dict[str, Run]) -> dict[str, pd.DataFrame]:
    """Per architecture (the classifier, the plain U-Net, the backbone U-Net), the per-stage or
    per-level table, rebuilt from the checkpoints' configs."""
    tables = {}
    roles = by_role(runs)
    for role in ("classifier", "plain", "finetuned"):
        name = roles.get(role)
        if name is None or not paths.weights(name).exists():
            continue
        model = load_model(paths.weights(name))
        if role == "classifier":
            tables[runs[name].spec.model] = pd.DataFrame(model.stage_table()).set_index("stage")
        else:
            tables[runs[name].spec.model] = pd.DataFrame(model.level_table()).set_index("level")
    return tables


def parameter_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Parameters in total and trained (at the end of training) per run, against the assignment's limits."""
    rows = []
    for name, run in runs.items():
        limit = PARAM_LIMITS.get(run.spec.model)
        rows.append({"run": name, "model": run.spec.short, "params total": run.summary["params_total"],
                     "params trained": run.summary["params_trainable"], "limit": str(limit) if limit else "—"})
    return pd.DataFrame(rows).set_index("run")


def recheck_table(runs: dict[str, Run], evaluations: dict[str, dict]) -> pd.DataFrame:
    """IoU logged at the best epoch against IoU recomputed now from ``weights/<run>.pt``: they agree when
    the checkpoints are the ones the logs describe."""
    rows = []
    for name, ev in evaluations.items():
        rows.append({"model": runs[name].spec.short if name in runs else name,
                     "IoU logged": runs[name].best.get("val_iou") if name in runs else None,
                     "IoU from weights": ev["metrics"]["iou"],
                     "медиана IoU по снимкам": float(np.median(ev["per_image_iou"]))})
    return pd.DataFrame(rows).set_index("model")


def evaluation_table(evaluations: dict[str, dict], labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per model: IoU, Dice, pixel accuracy over all pixels, median per-image IoU and the rock
    recall per size class (from :func:`tinyseg.segment.evaluate_models`)."""
    rows = []
    for name, ev in evaluations.items():
        row = {"model": (labels or {}).get(name, name), "IoU": ev["metrics"]["iou"], "Dice": ev["metrics"]["dice"],
               "pixel accuracy": ev["metrics"]["pixel_acc"],
               "медиана IoU по снимкам": float(np.median(ev["per_image_iou"]))}
        for r in ev["rock_recall"]:
            row[f"найдено камней {r['size']} (n={r['rocks']})"] = r["found"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("model").rename_axis("модель")


def design_table(paths: Paths, runs: dict[str, Run]) -> pd.DataFrame:
    """What differs between the plain U-Net and the backbone U-Net, read from the checkpoints and logs:
    parameters (total, trained at the end), downsamplings, what the encoder sees, skip levels, decoder
    widths, the head's input, minutes per epoch."""
    rows = {}
    roles = by_role(runs)
    for role in ("plain", "frozen", "finetuned", "control"):
        name = roles.get(role)
        if name is None or not paths.weights(name).exists():
            continue
        model, s = load_model(paths.weights(name)), runs[name].summary
        enc = model.encoder
        scale = getattr(enc, "input_scale", 1)
        rows[runs[name].spec.short] = {
            "параметров всего": f"{s['params_total']:,}",
            "обучаемых в конце": f"{s['params_trainable']:,}",
            "из них предобучено": f"{sum(p.numel() for p in model.backbone.parameters()):,}"
            if model.backbone is not None and runs[name].spec.init == "pretrained" else "0",
            "понижений ×2 (от входа U-Net)": int(np.log2(max(enc.reductions))),
            "вход энкодера": f"{128 * scale}×{128 * scale}" + (" (×2 билинейно)" if scale > 1 else ""),
            "skip-уровней": len(enc.out_channels) - 1,
            "ширины декодера": "-".join(str(c) for c in enc.out_channels[:-1]),
            "голова: вход, каналов": model.head.in_channels,
            "мин на эпоху": f"{s['wall_time_s'] / 60 / max(s['epochs_run'], 1):.2f}"}
    return pd.DataFrame(rows)


LEVEL_COLUMNS = {"stride": "шаг (stride)", "resolution": "разрешение", "encoder": "энкодер: как получен уровень",
                 "encoder channels": "каналов энкодера", "decoder channels": "каналов декодера",
                 "encoder params": "параметров энкодера", "decoder params": "параметров декодера"}


def level_table(model) -> pd.DataFrame:
    """A U-Net's levels (:meth:`~tinyseg.models.unet.UNet.level_table`) with Russian headers; the
    parameter counts with thousands separators."""
    df = pd.DataFrame(model.level_table()).set_index("level").rename(columns=LEVEL_COLUMNS).rename_axis("уровень")
    df = df.rename(index={"head": "голова"}).replace({"каналов декодера": {"— (bottom)": "— (дно)"}})
    for col in ("параметров энкодера", "параметров декодера"):
        df[col] = df[col].map("{:,}".format)
    return df


def facts_table(data) -> pd.DataFrame:
    """What the moon data set holds, in Russian."""
    f = data.facts()
    return pd.DataFrame({"значение": [f["data"], f"{f['pairs']:,}", f["size"], f"{f['rock_fraction_mean']:.1%}",
                                      f"{f['rock_fraction_median']:.1%}", str(f["images_without_rocks"])]},
                        index=pd.Index(["данные", "пар изображение–маска", "размер после приведения",
                                        "доля пикселей камня, среднее", "доля пикселей камня, медиана",
                                        "снимков без камней"], name="набор"))



def skip_schema(model, size: int = 128) -> pd.DataFrame:
    """Which feature map feeds which level of the backbone U-Net's decoder, at which scale: read from the
    encoder itself (its classifier stages' ``feature_info``, ``input_scale``, adapters and the light stem)."""
    enc = model.encoder
    scale = getattr(enc, "input_scale", 1)
    stages = enc.backbone.feature_info
    offset = 1 if getattr(enc, "stem", None) is not None else 0
    last = len(enc.out_channels) - 1
    rows = []
    for i, (how, _) in enumerate(enc.levels()):
        r = enc.reductions[i]
        j = i - offset
        if j < 0:
            source_map, before, adapter = f"{size}×{size} (вход U-Net)", 3, "— (стем сам даёт карту)"
        else:
            side = size * scale // stages[j]["reduction"]
            source_map, before = f"{side}×{side} (вход классификатора {size * scale}×{size * scale})", stages[j]["num_chs"]
            adapter = f"1×1 conv + BN + ReLU: {before} → {enc.out_channels[i]}"
        rows.append({"уровень U-Net": i, "источник": how, "карта источника": source_map, "адаптер": adapter,
                     "каналов в декодер": enc.out_channels[i],
                     "разрешение в U-Net": f"{size // r}×{size // r}",
                     "куда идёт": "дно: вход декодера" if i == last else
                     f"skip: конкатенация в блоке декодера {size // r}×{size // r}"})
    return pd.DataFrame(rows).set_index("уровень U-Net")
