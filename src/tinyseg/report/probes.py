"""The probes behind the recipes, read from their logs (``docs/*.jsonl``, written by ``tools/*_probe.py``):
one reader, tables and a summary in words for each kind. Summaries are Markdown strings."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..paths import Paths
from ..recipes import ClassifyRecipe
from ..runlog import read_jsonl
from ..runs import RunSpec
from .recipes import schedule_text

PROBES = {  # kind → the probe log, relative to the repository
    "classifier": "docs/classifier_probes.jsonl",  # tools/classifier_probe.py: the classifier's schedule
    "integration": "docs/seg_probes.jsonl",  # tools/seg_probe.py: how the backbone U-Net is built
    "generator": "docs/generator_probes.jsonl",  # tools/generator_probe.py: the stand-in's generator (version 3)
}


def load_probes(paths: Paths, kind: str) -> list[dict]:
    """The probes of ``kind`` (one dict per line of its log); empty when the file is absent."""
    if kind not in PROBES:
        raise KeyError(f"unknown probe kind {kind!r}; kinds: {', '.join(PROBES)}")
    return read_jsonl(paths.root / PROBES[kind])


# How the loss weighting was chosen (an earlier round's probe, kept as data: UNetBackbone A with the previous
# classifier, frozen, 8 epochs, stand-in version 1 with 1,000 pairs, seed 0; best val IoU).
LOSS_PROBES = (
    {"потери": "BCE + Dice (веса 1 и 1)", "val IoU": 0.465},
    {"потери": "BCE + Dice, пиксели камня в BCE с весом 3", "val IoU": 0.452},
    {"потери": "только BCE", "val IoU": 0.417},
)
LOSS_PROBE_SETUP = (
    "UNetBackbone A (энкодер — предыдущий Classifier128, заморожен), 8 эпох, сгенерированная замена "
    "версии 1 (1 000 пар), сид 0; лучший val IoU"
)


def classifier_probe_table(probes: Sequence[dict]):
    """The recipe probes as a table: schedule, budget, val metrics at 128 px."""
    rows = [
        {
            "проба": p["probe"],
            "размер входа по эпохам": schedule_text(p["recipe"]["resolutions"], p["epochs"]),
            "батчей в эпохе": p["steps_per_epoch"],
            "минут обучения": p["train_minutes"],
            "top-1, %": 100 * p["top1"],
            "top-1 с отражением, %": 100 * p["top1_flip"],
            "top-5, %": 100 * p["top5"],
        }
        for p in probes
    ]
    return (
        pd.DataFrame(rows)
        .set_index("проба")
        .style.format(
            {"минут обучения": "{:.1f}", "top-1, %": "{:.1f}", "top-1 с отражением, %": "{:.1f}", "top-5, %": "{:.1f}"}
        )
    )


def classifier_probe_summary(probes: Sequence[dict], recipe: ClassifyRecipe) -> str:
    """What the probes say, as Markdown with the numbers read from them: the committed baseline, the
    best probe at the same scale, and the full-length time each schedule would take, estimated
    from the probe's per-epoch times (training time × batches of a full epoch / batches of the probe,
    validation as measured)."""
    if not probes:
        return "*(пробы не найдены: `docs/classifier_probes.jsonl` отсутствует)*"
    rows = []
    for p in probes:
        full = 781 / p["steps_per_epoch"]
        est = sum(r_train * full + r_val for r_train, r_val in p.get("epoch_seconds", [])) / 60
        rows.append((p, est))
    best = max(probes, key=lambda p: p["top1"])
    first = probes[0]
    chosen = next(
        (
            p
            for p, _ in rows
            if [list(x) for x in p["recipe"]["resolutions"]] == [list(x) for x in recipe.resolutions]
            and p["epochs"] == recipe.epochs
        ),
        None,
    )
    lines = [
        (
            f"**Что показали пробы.** Прежнее расписание ({first['epochs']} эпох, «{first['probe']}») на ⅛ данных "
            f"за эпоху даёт {100 * first['top1']:.1f}% top-1; лучшее — «{best['probe']}» ({best['epochs']} эпох): "
            f"{100 * best['top1']:.1f}%."
        )
    ]
    if any(est for _, est in rows):
        lines.append(
            "Оценка полного запуска (время обучения пробы × 781/100 батчей плюс измеренная валидация): "
            + "; ".join(f"«{p['probe']}» ≈ {est:.0f} мин" for p, est in rows if est)
            + "."
        )
    if chosen is not None:
        lines.append(f"Полный запуск ниже использует расписание пробы «{chosen['probe']}».")
    else:
        lines.append(f"Полный запуск ниже: {recipe.epochs} эпох ({schedule_text(recipe.resolutions, recipe.epochs)}).")
    flip_gain = [100 * (p["top1_flip"] - p["top1"]) for p, _ in rows]
    lines.append(f"Отражение при тесте (TTA) меняет top-1 проб на {min(flip_gain):+.1f}…{max(flip_gain):+.1f} п.п.")
    return " ".join(lines)


PROBE_NOTES = {  # the probe log's notes (English) as the table shows them
    "timing overlapped a smoke test run on the same 2 cores: minutes too high": "время завышено: шло параллельно с тестом",
}
PROBE_LABELS = {  # what each probe changed, in words (tools/seg_probe.py names)
    "input_scale": "вход энкодера ×{}",
    "stem_channels": "лёгкий стем {} каналов",
    "encoder_lr_scale": "шаг энкодера × {}",
    "unfreeze_at": "разморозка после доли эпох {}",
}


def integration_probe_table(probes: Sequence[dict]):
    """The integration probes as a table: the run they vary, what changed, budget, best val IoU."""
    rows = []
    for p in probes:
        changes = {**p["changes"].get("model_args", {}), **{k: v for k, v in p["changes"].items() if k != "model_args"}}
        rows.append(
            {
                "проба": p["name"],
                "запуск-основа": p["run"],
                "изменение": "; ".join(PROBE_LABELS.get(k, k + " {}").format(v) for k, v in changes.items())
                or "— (как в таблице запусков до проб)",
                "эпоха разморозки": p["unfreeze_epoch"] or "—",
                "шаг энкодера": p["encoder_lr_scale"],
                "параметров": f"{p['params']:,}",
                "эпох": p["epochs"],
                "минут": p["minutes"],
                "лучший val IoU": p["val_iou"],
                "эпоха лучшего": p["best_epoch"],
                "примечание": PROBE_NOTES.get(p.get("note"), p.get("note") or ""),
            }
        )
    return (
        pd.DataFrame(rows)
        .set_index("проба")
        .style.format({"минут": "{:.1f}", "лучший val IoU": "{:.3f}", "шаг энкодера": "{:g}"})
    )


def integration_probe_summary(probes: Sequence[dict], chosen: RunSpec, tie: float = 0.01) -> str:
    """What the integration probes say, in a few sentences (Markdown, Russian) built from the probe log: the
    previous design, the best probe and the probe of the design the run table gives ``chosen``. Probes within
    ``tie`` IoU of the best count as equal (one seed, a short budget), and the simplest of them is chosen."""
    trials = [p for p in probes if p["run"] == chosen.name]
    if not trials:
        return "Проб для этого запуска в журнале нет."
    first, best = trials[0], max(trials, key=lambda p: p["val_iou"])
    mine = next(
        (
            p
            for p in trials
            if p["model_args"] == chosen.model_args
            and p["encoder_lr_scale"] == chosen.encoder_lr_scale
            and p["unfreeze_epoch"] == chosen.unfreeze_epoch(p["epochs"])
        ),
        None,
    )
    text = (
        f"Прежний способ встраивания («{first['name']}») дал IoU {first['val_iou']:.3f} за {first['minutes']:.1f} "
        f"мин, лучшая проба «{best['name']}» — {best['val_iou']:.3f} за {best['minutes']:.1f} мин."
    )
    reference = [p for p in probes if p["run"] != chosen.name]
    if reference:
        text += (
            " При том же бюджете "
            + ", ".join(f"{r['run']} — {r['val_iou']:.3f} за {r['minutes']:.1f} мин" for r in reference)
            + "."
        )
    if mine is None:
        return text + f" Способ, записанный для {chosen.short} в таблице запусков, пробами не измерялся."
    if mine is best:
        return text + f" {chosen.short} в таблице запусков использует этот способ («{mine['name']}»)."
    gap = best["val_iou"] - mine["val_iou"]
    verdict = (
        f"отстаёт от лучшей на {gap:.3f} IoU — меньше принятого порога {tie:.2f} для одного сида и короткого "
        f"бюджета, то есть считается равным ей, а из равных выбирается более простой и быстрый"
        if gap < tie
        else f"отстаёт от лучшей на {gap:.3f} IoU"
    )
    return (
        text
        + f" {chosen.short} в таблице запусков использует способ пробы «{mine['name']}» (IoU {mine['val_iou']:.3f}): она {verdict}."
    )


GENERATOR_LABELS = {  # what a generator probe changed, in words (lunar_synth.Style and SegmentAugment fields)
    "rock_density": "плотность камней {} на м²",
    "sun_elevation": "высота Солнца {}°",
    "ambient": "свет в тенях {}",
    "dark_rocks": "доля тёмных камней {}",
    "exposure": "экспозиция {}",
    "tone_gamma": "тоновая кривая, гамма {}",
    "pitch": "наклон камеры {}°",
    "hill_exponent": "рельеф: показатель {}",
    "rock_texture": "текстура камня {}",
    "facet_slope": "крутизна граней {}",
    "rock_lumps": "бугристость {}",
    "brightness": "аугм.: яркость ±{}",
    "contrast": "аугм.: контраст ±{}",
    "gamma": "аугм.: гамма ±{}",
    "noise": "аугм.: шум {}",
    "blur_p": "аугм.: размытие p={}",
}


def _range(value) -> str:
    return "–".join(f"{v:g}" for v in value) if isinstance(value, list | tuple) else f"{value:g}"


def generator_probe_table(probes: Sequence[dict]):
    """The generator probes as a table: what changed against the base version, the training seed, IoU on the
    probe's own stand-in validation, and zero-shot on the real check set's *tuning half*: IoU, the share of
    marked rocks of >= 10 px found, recall by size; the stand-in's rock share."""
    rows = []
    for p in probes:
        changes = {**p["changes"], **p.get("augment", {})}
        rows.append(
            {
                "проба": p["name"],
                "изменение (к версии {})".format(p["version"]): "; ".join(
                    GENERATOR_LABELS.get(k, k + " {}").format(_range(v)) for k, v in changes.items()
                )
                or "—",
                "сид обучения": p["train_seed"],
                "доля камня в заменителе": p["rock_share"],
                "IoU, своя валидация": p["stand_in_val_iou"],
                "IoU, настроечная половина": p["real_tuning_iou"],
                "найдено камней ≥ 10 px": p["real_tuning_found_ge10px"],
                "найдено по размеру 1–9 / 10–49 / 50–199 / ≥ 200 px": " / ".join(
                    f"{r['found']:.2f}" for r in p["real_tuning_rock_recall"]
                ),
            }
        )
    numbers = ["доля камня в заменителе", "IoU, своя валидация", "IoU, настроечная половина", "найдено камней ≥ 10 px"]
    return pd.DataFrame(rows).set_index("проба").style.format(dict.fromkeys(numbers, "{:.3f}"))
