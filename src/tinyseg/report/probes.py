"""The probes behind the recipes, read from their logs (``docs/*.jsonl``, written by ``tools/*_probe.py``):
one reader, tables and a summary in words for each kind. Summaries are Markdown strings."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .. import runs as run_table
from .. import words
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


# How the loss weighting was chosen (an earlier probe, kept as data: UNetBackbone A whose frozen encoder was an
# earlier, weaker version of Classifier128, 8 epochs, stand-in version 1 with 1,000 pairs, seed 0; best val IoU).
LOSS_PROBES = (
    {"функция потерь": "BCE + Dice (веса 1 и 1)", "лучший IoU на валидации": 0.465},
    {"функция потерь": "BCE + Dice, пиксели камня в BCE с весом 3", "лучший IoU на валидации": 0.452},
    {"функция потерь": "только BCE", "лучший IoU на валидации": 0.417},
)
LOSS_PROBE_SETUP = (
    "Проба проводилась раньше основных запусков: UNetBackbone A с замороженным энкодером из более ранней и слабой "
    "версии Classifier128, 8 эпох, сгенерированная замена версии 1 (1\u00a0000 пар), сид 0; в таблице — лучший IoU на "
    "валидации. Выбранные веса (1 и 1) остались и в нынешнем рецепте."
)
CLASSIFIER_PROBE_NAMES = {  # the classifier probe log's ids in words
    "baseline": "прежнее расписание",
    "long_mixed": "удлинённое, три размера",
    "long_64": "почти всё на 64 px",
}


def _probe_name(p: dict) -> str:
    return CLASSIFIER_PROBE_NAMES.get(p["probe"], p["probe"])


def classifier_probe_table(probes: Sequence[dict]):
    """The recipe probes as a table: what each schedule is (in words), the schedule, epochs and minutes, val
    metrics at 128 px."""
    rows = [
        {
            "проба": _probe_name(p),
            "размер входа по эпохам": schedule_text(p["recipe"]["resolutions"], p["epochs"]),
            "эпох": p["epochs"],
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
    """What the probes say, as Markdown with the numbers read from them: the earlier schedule, the best probe at the
    same scale, the full-length time each schedule would take, estimated from the probe's per-epoch times
    (training time × batches of a full epoch / batches of the probe, validation as measured), and whether the full
    run's schedule is one of the probes or, when it is not, that it was not probed (a shortened variant, say)."""
    if not probes:
        return "*(пробы не найдены: `docs/classifier_probes.jsonl` отсутствует)*"
    rows = []
    for p in probes:
        full = 781 / p["steps_per_epoch"]
        est = sum(r_train * full + r_val for r_train, r_val in p.get("epoch_seconds", [])) / 60
        rows.append((p, est))
    best = max(probes, key=lambda p: p["top1"])
    first = probes[0]
    schedule = schedule_text(recipe.resolutions, recipe.epochs)
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
            f"**Что показали пробы.** Прежнее расписание ({first['epochs']} эпох) на ⅛ данных за эпоху даёт "
            f"{100 * first['top1']:.1f}% top-1; лучшее — «{_probe_name(best)}» ({best['epochs']} эпох): "
            f"{100 * best['top1']:.1f}%."
        )
    ]
    if any(est for _, est in rows):
        lines.append(
            "Оценка времени полного запуска (время обучения пробы × 781/100 батчей плюс измеренная валидация): "
            + "; ".join(f"«{_probe_name(p)}» ≈ {est:.0f} мин" for p, est in rows if est)
            + "."
        )
    if chosen is not None:
        lines.append(f"Полный запуск ниже использует расписание пробы «{_probe_name(chosen)}».")
    else:
        sizes = [s for _, s in sorted(recipe.resolutions)]
        shortened = sizes == [s for _, s in sorted(best["recipe"]["resolutions"])] and recipe.epochs < best["epochs"]
        lines.append(
            f"Полный запуск ниже — {recipe.epochs} эпох ({schedule})"
            + (
                f": те же размеры, что у лучшей пробы, но укорочено с {best['epochs']} эпох; сам этот вариант "
                "пробами не измерялся."
                if shortened
                else "; это расписание пробами не измерялось."
            )
        )
    flip_gain = [100 * (p["top1_flip"] - p["top1"]) for p, _ in rows]
    lines.append(
        f"Отражение при тесте (TTA) меняет top-1 проб на {min(flip_gain):+.1f}…{max(flip_gain):+.1f} "
        "процентного пункта."
    )
    return " ".join(lines)


PROBE_NOTES = {  # the probe log's notes (English) as the table shows them
    "timing overlapped a smoke test run on the same 2 cores: minutes too high": "время завышено: шло параллельно с тестом",
    "timing of epochs 3–4 overlapped the test suite on the same 2 cores: minutes too high": "время завышено: эпохи 3–4 шли параллельно с тестами",
    "timing of epoch 5 overlapped a short test run on the same 2 cores: minutes a little high": "время чуть завышено: эпоха 5 шла параллельно с тестом",
}


def integration_design(p: dict) -> str:
    """A backbone probe's design in words, from what it logged: the encoder's input, the light stem, the encoder's
    learning-rate scale, the unfreeze epoch; a probe of another model (the plain U-Net for reference) by its model."""
    spec = run_table.RUNS.get(p["run"])
    if spec is not None and spec.encoder_from is None:
        return f"{spec.short} (для сравнения, то же число эпох)"
    args = p["model_args"]
    stem = args.get("stem_channels", 16)
    parts = [
        f"вход энкодера ×{args.get('input_scale', 1)}",
        f"лёгкий стем {stem} кан." if stem else "без лёгкого стема",
        f"шаг энкодера × {p['encoder_lr_scale']:g}",
        f"разморозка с эпохи {p['unfreeze_epoch']}" if p["unfreeze_epoch"] else "без разморозки",
    ]
    return ", ".join(parts)


def integration_probe_table(probes: Sequence[dict]):
    """The integration probes as a table, one row per probe in the order they were run: the design in words
    (:func:`integration_design`), parameters, minutes and the best val IoU; the budget (epochs) is said once above
    it, and a note column appears only when a probe has a note."""
    rows = []
    for k, p in enumerate(probes, start=1):
        rows.append(
            {
                "№": k,
                "способ встраивания": integration_design(p),
                "параметров": words.thousands(p["params"]),
                "минут": p["minutes"],
                "лучший IoU на валидации": p["val_iou"],
                "примечание": PROBE_NOTES.get(p.get("note"), p.get("note") or ""),
            }
        )
    frame = pd.DataFrame(rows).set_index("№")
    if not frame["примечание"].any():
        frame = frame.drop(columns="примечание")
    return frame.style.format({"минут": "{:.1f}", "лучший IoU на валидации": "{:.3f}"})


def integration_probe_summary(probes: Sequence[dict], chosen: RunSpec, tie: float = 0.01) -> str:
    """What the integration probes say, in a few sentences (Markdown, Russian) built from the probe log: the
    previous design, the best probe and the probe of the design the run table gives ``chosen``. Probes within
    ``tie`` IoU of the best count as equal (one seed, a short budget), and the simplest of them is chosen."""
    trials = [p for p in probes if p["run"] == chosen.name]
    if not trials:
        return "Проб для этого запуска в журнале нет."
    number = {id(p): k for k, p in enumerate(probes, start=1)}
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
        f"Все пробы — {first['epochs']} эпох, один сид. Прежний способ встраивания (проба {number[id(first)]}: "
        f"{integration_design(first)}) дал IoU {first['val_iou']:.3f} за {first['minutes']:.1f} мин, лучшая "
        f"проба {number[id(best)]} — {best['val_iou']:.3f} за {best['minutes']:.1f} мин."
    )
    reference = [p for p in probes if p["run"] != chosen.name]
    if reference:
        text += (
            " При том же числе эпох "
            + ", ".join(f"{_short(r['run'])} — {r['val_iou']:.3f} за {r['minutes']:.1f} мин" for r in reference)
            + "."
        )
    if mine is None:
        return text + f" Способ, выбранный для {chosen.short}, пробами не измерялся."
    shared = [s for s in run_table.of_task(chosen.task) if s is not chosen and s.model_args == chosen.model_args]
    also = (
        f" Вход энкодера и стем этой пробы общие для всех вариантов {chosen.model}; шаг энкодера и разморозка "
        f"относятся только к {chosen.short}."
        if shared
        else ""
    )
    if mine is best:
        return text + f" Выбран этот способ (проба {number[id(mine)]}).{also}"
    gap = best["val_iou"] - mine["val_iou"]
    verdict = (
        f"отстаёт от лучшей на {gap:.3f} IoU — меньше принятого порога {tie:.2f} для одного сида и короткого "
        f"обучения, то есть считается равной ей, а из равных выбирается более простой и быстрый способ"
        if gap < tie
        else f"отстаёт от лучшей на {gap:.3f} IoU"
    )
    return text + f" Выбран способ пробы {number[id(mine)]} (IoU {mine['val_iou']:.3f}): она {verdict}.{also}"


def _short(run: str) -> str:
    spec = run_table.RUNS.get(run)
    return spec.short if spec is not None else run


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


# ---------------------------------------------------------------- the equal search of issue 25 (docs/protocol.md)

TUNING_TIE = 0.01  # docs/protocol.md: a setting replaces the default only when it beats it by this much
TUNING_COST = 2.0  # ... and does not more than double the time per epoch (else a finding, not carried over)


def tuning_probes(probes: Sequence[dict], run: str, data_location: str) -> list[dict]:
    """The probes of ``run`` on the data the final runs use (``data_location``, as the probe log names it): the
    equal search of docs/protocol.md. Probes on other data (an earlier stand-in) are history."""
    return [p for p in probes if p["run"] == run and p.get("data_location") == data_location]


def tuning_knob(p: dict, default_lr: float) -> str:
    """What one tuning probe changed, in words (Russian); ``по умолчанию`` for the default itself."""
    changes = p.get("changes") or {}
    parts = []
    if lr := changes.get("recipe_overrides", {}).get("lr"):
        parts.append(f"пиковый шаг ×{lr / default_lr:g} ({lr:g})")
    args = changes.get("model_args", {})
    widths = args.get("channels") or args.get("adapter_channels")
    if widths:
        parts.append(("ширины " if "channels" in args else "ширины адаптеров ") + "-".join(map(str, widths)))
    if "input_scale" in args and args["input_scale"] != run_table.get(p["run"]).model_args.get("input_scale", 1):
        scale = args["input_scale"]
        parts.append(f"вход ×{scale}" + (" с лёгким стемом" if args.get("stem_channels") else ""))
    if "unfreeze_at" in changes:
        parts.append(f"разморозка после {100 * changes['unfreeze_at']:.0f}% эпох (с эпохи {p['unfreeze_epoch']})")
    if "encoder_lr_scale" in changes:
        parts.append(f"шаг энкодера ×{changes['encoder_lr_scale']:g}")
    return ", ".join(parts) or "по умолчанию"


def _simpler(p: dict, default: dict) -> bool:
    """Is the probe's setting the simpler one (one learning rate for the whole model instead of a scaled one)?"""
    return p.get("encoder_lr_scale", 1.0) == 1.0 != default.get("encoder_lr_scale", 1.0)


def tuning_decisions(trials: Sequence[dict], tie: float = TUNING_TIE, cost: float = TUNING_COST) -> list[dict]:
    """The rule of docs/protocol.md applied to each probe against the default (the probe without changes): ``delta``
    (val IoU − the default's), ``time`` (minutes per epoch relative to a default probe timed on the same machine,
    the probe log's ``device``; None when there is none) and ``verdict``: ``default``, ``adopted`` (beats it by ≥
    ``tie``; a simpler setting: not beaten by ≥ ``tie``), ``finding`` (would be adopted but costs more than
    ``cost``× the time per epoch) or ``kept`` (the default stays)."""
    defaults = [p for p in trials if not p.get("changes")]
    if not defaults:
        raise ValueError("no probe of the default settings (changes {}) among the tuning probes")
    default = defaults[0]
    per_epoch = {p.get("device"): p["minutes"] / p["epochs"] for p in reversed(defaults)}  # the first per machine
    out = []
    for p in trials:
        delta = p["val_iou"] - default["val_iou"]
        reference = per_epoch.get(p.get("device"))
        time = (p["minutes"] / p["epochs"]) / reference if reference else None
        if p is default:
            verdict = "default"
        else:
            wins = delta > -tie if _simpler(p, default) else delta >= tie
            verdict = "kept" if not wins else "finding" if time is not None and time > cost else "adopted"
        out.append({"probe": p, "delta": delta, "time": time, "verdict": verdict})
    return out


VERDICTS = {
    "default": "исходная настройка",
    "adopted": "принята",
    "finding": "лучше, но дороже вдвое и более: не переносится",
    "kept": "не принята",
}


def _verdict_words(decision: dict, tie: float = TUNING_TIE) -> str:
    """The rule's verdict in words; a probe that was not adopted says whether it lost or gained too little."""
    words = VERDICTS[decision["verdict"]]
    if decision["verdict"] == "kept":
        words += " (хуже исходной)" if decision["delta"] < 0 else f" (выигрыш меньше {tie:g})"
    return words


def tuning_probe_table(trials: Sequence[dict], default_lr: float):
    """One model's tuning probes as a table: the knob in words, best val IoU, the difference from the default,
    minutes and the time per epoch relative to the default, and the rule's verdict."""
    rows = [
        {
            "изменение": tuning_knob(d["probe"], default_lr),
            "лучший IoU на валидации": d["probe"]["val_iou"],
            "разница с исходной": d["delta"],
            "минут": d["probe"]["minutes"],
            "время эпохи, × исходной": d["time"],
            "решение по правилу": _verdict_words(d),
            "примечание": PROBE_NOTES.get(d["probe"].get("note"), d["probe"].get("note") or ""),
        }
        for d in tuning_decisions(trials)
    ]
    frame = pd.DataFrame(rows).set_index("изменение")
    if not frame["примечание"].any():
        frame = frame.drop(columns="примечание")
    return frame.style.format(
        {
            "лучший IoU на валидации": "{:.3f}",
            "разница с исходной": lambda v: f"{v:+.3f}".replace("-0.000", "+0.000"),
            "минут": "{:.1f}",
            "время эпохи, × исходной": lambda v: "—" if v is None or v != v else f"{v:.1f}",
        }
    )


def tuning_summary(trials: Sequence[dict], spec: RunSpec, default_lr: float) -> str:
    """The search's outcome for one model in a sentence or two (Markdown, Russian): the default's score, what the
    rule adopted (or that nothing beat the default by the threshold), findings not carried over."""
    if not trials:
        return (
            f"Проб настройки {spec.short} на этих данных нет (`tools/seg_probe.py` их не запускал): рецепт — "
            "исходный, без поиска."
        )
    decisions = tuning_decisions(trials)
    default = next(d["probe"] for d in decisions if d["verdict"] == "default")
    adopted = [tuning_knob(d["probe"], default_lr) for d in decisions if d["verdict"] == "adopted"]
    findings = [d for d in decisions if d["verdict"] == "finding"]
    text = (
        f"{spec.short}: {words.plural(len(decisions), 'проба', 'пробы', 'проб')} по {default['epochs']} эпох, "
        "исходная настройка — IoU "
        f"{default['val_iou']:.3f} на валидации. "
    )
    text += (
        "Правило приняло: " + "; ".join(adopted) + "."
        if adopted
        else f"Ни одно изменение не улучшило IoU на {TUNING_TIE:.2f} и больше: исходная настройка остаётся."
    )
    for d in findings:
        text += (
            f" Находка: «{tuning_knob(d['probe'], default_lr)}» даёт {d['delta']:+.3f} IoU, но эпоха идёт в "
            f"{d['time']:.1f} раза дольше — в финальные запуски не переносится (сравнение вариантов — при близкой "
            "цене эпохи)."
        )
    return text
