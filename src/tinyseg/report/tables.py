"""The report's tables, built from the run logs and the checkpoints' configs."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..models import PARAM_LIMITS, count_parameters, load_model
from ..paths import Paths
from ..runlog import RunLog, read_overlaps
from ..runs import by_role
from .logs import Run, segmentation_runs, summary_row
from .recipes import schedule_text


def data_kind_words(dataset: str, kind: str) -> str:
    """What a data set is, in Russian: the real MOON_SEGMENTATION_BINARY is named as such (it has a generated
    stand-in), the stand-in as the stand-in; other data sets by their name."""
    from ..data import moon

    if kind == "generated":
        return f"СГЕНЕРИРОВАННАЯ замена {dataset}"
    return f"настоящий {dataset}" if kind == "real" and dataset == moon.NAME else dataset


def describe_data(run: Run) -> str:
    """Which data a run was trained and validated on, in plain words."""
    d = run.data
    if not d:
        return "?"
    if d.kind == "generated":
        return f"{data_kind_words(d.dataset, d.kind)} ({d.location}): {d.train:,} train / {d.val:,} val пар"
    what = data_kind_words(d.dataset, d.kind)
    what = f"{what}, маленький тестовый набор" if run.summary.profile == "smoke" else what
    return f"{what}: {d.train:,} train / {d.val:,} val ({Path(d.location).name})"


def overview(runs: dict[str, Run]) -> pd.DataFrame:
    """What was trained, on which data, in which profile, and how long it took (the device: :func:`devices`)."""
    rows = []
    for name, run in runs.items():
        s = run.summary
        rows.append(
            {
                "запуск": name,
                "модель": run.spec.short,
                "данные": describe_data(run),
                "профиль": s.profile,
                "статус": s.status,
                "эпох": f"{s.epochs_run}/{s.epochs_planned}",
                "лучшая эпоха": s.best_epoch,
                "обучение, мин": f"{s.wall_time_min:.1f}",
                "закончен (UTC)": s.finished_at[:16].replace("T", " "),
            }
        )
    return pd.DataFrame(rows).set_index("запуск")


def devices(runs: dict[str, Run]) -> str:
    """The machines the runs were trained on, once each (with the runs of each)."""
    by_device: dict[str, list[str]] = {}
    for name, run in runs.items():
        by_device.setdefault(str(run.summary.device), []).append(name)
    return "; ".join(f"{device}: {', '.join(names)}" for device, names in by_device.items())


def classification_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Top-1, top-5, macro-F1 and loss of each classifier's best epoch on the validation set."""
    rows = []
    for run in runs.values():
        if run.spec.task != "classification":
            continue
        b = run.best
        rows.append(
            {
                "модель": run.spec.short,
                "top-1": b["val_top1"],
                "top-5": b["val_top5"],
                "macro-F1": b["val_macro_f1"],
                "val loss": b["val_loss"],
                "лучшая эпоха": run.summary.best_epoch,
                "параметров": run.summary.params_total,
                "обучение, мин": run.summary.wall_time_min,
            }
        )
    return pd.DataFrame(rows).set_index("модель")


def segmentation_table(runs: dict[str, Run], background_share: float | None = None) -> pd.DataFrame:
    """IoU / Dice / pixel accuracy of each segmentation run's best epoch (from summary.json; seed 0), and the
    trivial all-background predictor (IoU = Dice = 0, pixel accuracy = background share)."""
    rows = []
    for run in segmentation_runs(runs).values():
        r = summary_row(run)
        rows.append(
            {
                "модель": run.spec.short,
                "запуск": r["run"],
                "IoU": r["IoU"],
                "Dice": r["Dice"],
                "pixel accuracy": r["pixel accuracy"],
                "лучшая эпоха": r["best epoch"],
                "эпох": run.summary.epochs_run,
                "параметров": r["params total"],
                "обучаемых": r["params trained"],
                "обучение, мин": r["training, min"],
            }
        )
    if background_share is not None:
        rows.append({"модель": TRIVIAL, "запуск": "—", "IoU": 0.0, "Dice": 0.0, "pixel accuracy": background_share})
    return pd.DataFrame(rows).set_index("модель")


TRIVIAL = "тривиальный: «камней нет нигде»"


STAGE_COLUMNS = {
    "blocks": "блоки",
    "channels": "каналов",
    "params": "параметров",
    "stride": "шаг (stride)",
    "output": "выход",
}


def _blocks(part: dict) -> str:
    """A classifier part's blocks in words: ``conv3×3 s2``, ``2× BasicBlock``, ``GAP + FC``."""
    if part["block"] == "conv3x3":
        return f"conv3×3 s{part['stride']}"
    if part["block"] == "head":
        return "GAP + FC"
    return f"{part['depth']}× {part['block']}"


def stage_table(model, size: int = 128) -> pd.DataFrame:
    """Classifier128 part by part (:meth:`~tinyseg.models.classifier.Classifier128.parts`) with Russian headers:
    blocks, channels, parameters (with thousands separators), stride and output size at a ``size`` input."""
    rows = []
    for part in model.parts():
        r = part["reduction"]
        rows.append(
            {
                "stage": "голова" if part["block"] == "head" else part["name"],
                "blocks": _blocks(part),
                "channels": part["channels"],
                "params": f"{part['params']:,}",
                "stride": r or "—",
                "output": f"{size // r}×{size // r}" if r else "1×1",
            }
        )
    return pd.DataFrame(rows).set_index("stage").rename_axis("часть сети").rename(columns=STAGE_COLUMNS)


def architecture_tables(paths: Paths, runs: dict[str, Run]) -> dict[str, pd.DataFrame]:
    """Per architecture (the classifier, the plain U-Net, the backbone U-Net), the per-stage or
    per-level table, rebuilt from the checkpoints' configs."""
    tables = {}
    roles = by_role(runs)
    for role in ("classifier", "plain", "finetuned"):
        name = roles.get(role)
        if name is None or not paths.weights(name).exists():
            continue
        model = load_model(paths.weights(name), RunLog(paths.run_dir(name)).weights_sha256())
        tables[runs[name].spec.model] = stage_table(model) if role == "classifier" else level_table(model)
    return tables


def parameter_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Parameters in total and trained (at the end of training) per run, against the assignment's limits."""
    rows = []
    for name, run in runs.items():
        limit = PARAM_LIMITS.get(run.spec.model)
        rows.append(
            {
                "запуск": name,
                "модель": run.spec.short,
                "параметров": f"{run.summary.params_total:,}",
                "обучаемых в конце": f"{run.summary.params_trainable:,}",
                "ограничение задания": str(limit) if limit else "—",
            }
        )
    return pd.DataFrame(rows).set_index("запуск")


def recheck_table(runs: dict[str, Run], evaluations: dict[str, dict]) -> pd.DataFrame:
    """IoU logged at the best epoch against IoU recomputed now from ``weights/<run>.pt``: they agree when
    the checkpoints are the ones the logs describe."""
    rows = []
    for name, ev in evaluations.items():
        rows.append(
            {
                "model": runs[name].spec.short if name in runs else name,
                "IoU logged": runs[name].best.get("val_iou") if name in runs else None,
                "IoU from weights": ev["metrics"]["iou"],
                "медиана IoU по снимкам": float(np.median(ev["per_image_iou"])),
            }
        )
    return pd.DataFrame(rows).set_index("model")


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
        model, s = load_model(paths.weights(name), RunLog(paths.run_dir(name)).weights_sha256()), runs[name].summary
        enc = model.encoder
        scale = getattr(enc, "input_scale", 1)
        rows[runs[name].spec.short] = {
            "параметров всего": f"{s.params_total:,}",
            "обучаемых в конце": f"{s.params_trainable:,}",
            "из них предобучено": f"{count_parameters(model.backbone)[0]:,}"
            if model.backbone is not None and runs[name].spec.init == "pretrained"
            else "0",
            "понижений ×2 (от входа U-Net)": int(np.log2(max(enc.reductions))),
            "вход энкодера": f"{128 * scale}×{128 * scale}" + (" (×2 билинейно)" if scale > 1 else ""),
            "skip-уровней": len(enc.out_channels) - 1,
            "ширины декодера": "-".join(str(c) for c in enc.out_channels[:-1]),
            "голова: вход, каналов": model.head.in_channels,
            "мин на эпоху (сид 0)": f"{sum(r['seconds'] for r in runs[name].history) / 60 / max(s.epochs_run, 1):.2f}",
        }
    return pd.DataFrame(rows)


LEVEL_COLUMNS = {
    "stride": "шаг (stride)",
    "resolution": "разрешение",
    "encoder": "энкодер: как получен уровень",
    "encoder channels": "каналов энкодера",
    "decoder channels": "каналов декодера",
    "encoder params": "параметров энкодера",
    "decoder params": "параметров декодера",
}


def _part(name: str, stride: int) -> str:
    """A classifier part in a U-Net encoder level: ``stem1 (conv, s2)``, ``stem2 (s2)``, ``stage1``."""
    if stride == 1:
        return name
    return f"{name} ({'conv, ' if name == 'stem1' else ''}s{stride})"


def encoder_level(level: dict) -> str:
    """How an encoder computes a level (its facts, :meth:`~tinyseg.models.base.Encoder.levels`), in words."""
    if "pool" in level:  # PlainEncoder
        return ("max-pool 2×2, " if level["pool"] else "") + f"{level['convs']}× conv 3×3"
    if level["source"] == "stem":  # ClassifierEncoder's light stem
        return f"new light stem: {level['convs']}× conv 3×3"
    scale = level["input_scale"]
    upsample = f"input ×{scale} (bilinear), " if scale > 1 else ""
    return upsample + " + ".join(_part(name, stride) for name, stride in level["parts"]) + " → 1×1"


def level_table(model, size: int = 128) -> pd.DataFrame:
    """A U-Net's levels (:meth:`~tinyseg.models.unet.UNet.levels`) and its head, with Russian headers; the
    parameter counts with thousands separators."""
    rows = [
        {
            "level": lv["level"],
            "stride": lv["reduction"],
            "resolution": f"{size // lv['reduction']}×{size // lv['reduction']}",
            "encoder": encoder_level(lv["encoder"]),
            "encoder channels": lv["encoder_channels"],
            "decoder channels": "— (дно)" if lv["decoder_channels"] is None else lv["decoder_channels"],
            "encoder params": lv["encoder_params"],
            "decoder params": lv["decoder_params"],
        }
        for lv in model.levels()
    ]
    head = model.head_facts()
    rows.append(
        {
            "level": "голова",
            "stride": 1,
            "resolution": f"{size}×{size}",
            "encoder": f"1×1 conv → {head['classes']} logit{'s' if head['classes'] > 1 else ''}",
            "encoder channels": "—",
            "decoder channels": head["classes"],
            "encoder params": 0,
            "decoder params": head["params"],
        }
    )
    df = pd.DataFrame(rows).set_index("level").rename(columns=LEVEL_COLUMNS).rename_axis("уровень")
    for col in ("параметров энкодера", "параметров декодера"):
        df[col] = df[col].map("{:,}".format)
    return df


def facts_table(data) -> pd.DataFrame:
    """What the moon data set holds, in Russian (what it is: the real set or the generated stand-in)."""
    f = data.facts()
    return pd.DataFrame(
        {
            "значение": [
                data_kind_words(data.source.dataset, data.kind),
                f["data"],
                f"{f['pairs']:,}",
                f["size"],
                f"{f['rock_fraction_mean']:.1%}",
                f"{f['rock_fraction_median']:.1%}",
                str(f["images_without_rocks"]),
            ]
        },
        index=pd.Index(
            [
                "что это",
                "данные",
                "пар изображение–маска",
                "размер после приведения",
                "доля пикселей камня, среднее",
                "доля пикселей камня, медиана",
                "снимков без камней",
            ],
            name="набор",
        ),
    )


def skip_schema(model, size: int = 128) -> pd.DataFrame:
    """Which feature map feeds which level of the backbone U-Net's decoder, at which scale: read from the
    encoder itself (its classifier stages' ``feature_info``, ``input_scale``, adapters and the light stem)."""
    enc = model.encoder
    scale = enc.input_scale
    last = len(enc.out_channels) - 1
    rows = []
    for i, (level, source) in enumerate(zip(enc.levels(), enc.sources())):
        how = encoder_level(level)
        r = enc.reductions[i]
        if source is None:
            source_map, adapter = f"{size}×{size} (вход U-Net)", "— (стем сам даёт карту)"
        else:
            side = size * scale // source[1]["reduction"]
            source_map = f"{side}×{side} (вход классификатора {size * scale}×{size * scale})"
            adapter = f"1×1 conv + BN + ReLU: {source[1]['num_chs']} → {enc.out_channels[i]}"
        rows.append(
            {
                "уровень U-Net": i,
                "источник": how,
                "карта источника": source_map,
                "адаптер": adapter,
                "каналов в декодер": enc.out_channels[i],
                "разрешение в U-Net": f"{size // r}×{size // r}",
                "куда идёт": "дно: вход декодера"
                if i == last
                else f"skip: конкатенация в блоке декодера {size // r}×{size // r}",
            }
        )
    return pd.DataFrame(rows).set_index("уровень U-Net")


def config_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Each run's configuration as logged in its ``config.json`` (what re-running it needs), one column per run."""
    cols = {}
    for name, run in runs.items():
        c = run.config
        t, info = c.train, c.info
        recipe, spec = (info.recipe, info.spec) if info else ({}, {})
        model = {k: v for k, v in c.model.items() if k in ("input_scale", "stem_channels")}
        col = {
            "модель": c.model.get("name", "—"),
            "вход энкодера, стем": ", ".join(f"{k}={v}" for k, v in model.items()) or "—",
            "профиль, сид": f"{info.profile}, {info.seed}" if info else "—",
            "эпох": t.epochs,
            "размер батча": c.batch_size or recipe.get("batch_size"),
            "оптимизатор": f"{t.optimizer}" + (" (Нестеров)" if t.optimizer == "sgd" else ""),
            "пиковый шаг": t.lr,
            "расписание": f"{t.schedule}, разогрев {t.warmup:.0%}",
            "weight decay": t.weight_decay,
            "ранняя остановка": t.patience or "—",
        }
        if "resolutions" in recipe:
            col["размер входа по эпохам"] = schedule_text(recipe["resolutions"], recipe["epochs"])
            col["label smoothing"] = recipe.get("label_smoothing")
        if "bce_weight" in recipe:
            col["потери"] = f"{recipe['bce_weight']:g}·BCE + {recipe['dice_weight']:g}·Dice"
        if spec.get("encoder_from"):
            col["энкодер"] = f"{spec['encoder_from']}, {'предобучен' if spec['init'] == 'pretrained' else 'случайный'}"
            col["разморозка"] = (
                "—"
                if not spec["frozen"]
                else "никогда"
                if spec["unfreeze_epoch"] is None
                else f"с эпохи {spec['unfreeze_epoch']}, шаг × {spec['encoder_lr_scale']:g}"
            )
        cols[name] = {k: "—" if v is None else str(v) for k, v in col.items()}
    return pd.DataFrame(cols).fillna("—")


def data_table(runs: dict[str, Run], paths: Paths) -> pd.DataFrame:
    """The data sets the runs used (from their logs) and the real check set: what, where, how many."""
    from ..data import moon

    rows, seen = [], set()
    for run in runs.values():
        d = run.data
        if not d or (d.dataset, d.location) in seen:
            continue
        seen.add((d.dataset, d.location))
        kind = {"real": "настоящий", "generated": "СГЕНЕРИРОВАННАЯ замена"}.get(d.kind, d.kind)
        rows.append(
            {
                "набор": d.dataset,
                "что это": kind,
                "где (относительно репозитория)": d.location,
                "train / val": f"{d.train:,} / {d.val:,}",
                "для чего": "обучение и валидация",
            }
        )
    tests = {(t["kind"], t["location"], t["pairs"]) for run in runs.values() if (t := _test_set(paths, run))}
    for kind, location, pairs in sorted(tests):
        rows.append(
            {
                "набор": "тестовый набор",
                "что это": "отдельно сгенерированный (другой сид, та же версия генератора)"
                if kind == "generated"
                else "фиксированная тестовая часть разбиения (split.json)",
                "где (относительно репозитория)": location,
                "train / val": f"— / {pairs:,}",
                "для чего": "только главные числа: ни обучения, ни выбора",
            }
        )
    if not tests and any(r.spec.task == "segmentation" for r in runs.values()):
        rows.append(
            {
                "набор": "тестовый набор",
                "что это": "в журналах запусков нет: они записаны до его появления",
                "где (относительно репозитория)": "—",
                "train / val": "—",
                "для чего": "главные числа — на валидации (см. примечание к сводной таблице)",
            }
        )
    check = moon.locate_check(paths)
    if check is not None:
        n = len(moon.find_pairs(check.location))
        rows.append(
            {
                "набор": "реальные рендеры (проверочный набор)",
                "что это": "настоящие рендеры, очищенная разметка (без многих мелких камней)",
                "где (относительно репозитория)": paths.relative(check.location),
                "train / val": f"— / {n}",
                "для чего": "только оценка, без обучения; половины: настройка (чётные позиции) и тест (нечётные)",
            }
        )
    return pd.DataFrame(rows).set_index("набор")


def _test_set(paths: Paths, run: Run) -> dict | None:
    """The test set a segmentation run is reported on: its data record's, else the one its overlaps.json counts
    were made on (a run logged before the test set existed, whose counts were completed from its weights)."""
    if run.data and run.data.test:
        return asdict(run.data.test)
    if run.spec.task != "segmentation":
        return None
    counts, _, _ = read_overlaps(RunLog(paths.run_dir(run.name)).overlaps_path)
    return ((counts or {}).get("test") or {}).get("data")
