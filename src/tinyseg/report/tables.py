"""The report's tables, built from the run logs and the checkpoints' configs."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from .. import words
from ..data import moon
from ..models import PARAM_LIMITS, count_parameters, load_model
from ..paths import Paths
from ..runlog import RunLog, read_overlaps, training_minutes
from ..runs import RUNS, by_role
from .logs import Run, segmentation_runs, summary_row
from .recipes import schedule_text


def data_kind_words(dataset: str, kind: str) -> str:
    """What a data set is, in Russian: the real MOON_SEGMENTATION_BINARY is named as such (it has a generated
    stand-in), the stand-in as the stand-in; other data sets by their name."""
    from ..data import moon

    if kind == "generated":
        return f"сгенерированная замена {dataset}"
    return f"настоящий {dataset}" if kind == "real" and dataset == moon.NAME else dataset


def describe_data(run: Run) -> str:
    """Which data a run was trained and validated on, in plain words (Russian, thousands with spaces)."""
    d = run.data
    if not d:
        return "?"
    what = data_kind_words(d.dataset, d.kind)
    what = f"{what}, маленький тестовый набор" if run.summary.profile == "smoke" else what
    return f"{what}: {words.thousands(d.train)} обучение / {words.thousands(d.val)} валидация"


def run_minutes(run: Run) -> float:
    """A run's training time by the one definition (:func:`~tinyseg.runlog.training_minutes`)."""
    return training_minutes(run.history)


def overview(runs: dict[str, Run]) -> pd.DataFrame:
    """How each run went, from its logs, one column per run (a table that fits a page): profile and seed, status,
    epochs, best epoch, training time (the one definition), date and machine (the data: :func:`data_table`)."""
    cols = {}
    for run in runs.values():
        s = run.summary
        cols[run.spec.short] = {
            "профиль, сид": f"{s.profile}, {s.seed}" if s.profile else "—",
            "статус": words.status(s.status),
            "эпох (лучшая)": f"{s.epochs_run} из {s.epochs_planned} ({s.best_epoch})",
            "обучение, мин": f"{run_minutes(run):.1f}",
            "дата (UTC)": words.date(s.finished_at) or "—",
            "машина": words.machine(s.device),
        }
    return pd.DataFrame(cols).rename_axis("журнал запуска")


def devices(runs: dict[str, Run]) -> str:
    """The machines the runs were trained on, once each (with the runs of each), in words."""
    by_device: dict[str, list[str]] = {}
    for run in runs.values():
        by_device.setdefault(words.machine(str(run.summary.device)), []).append(run.spec.short)
    return "; ".join(f"{device}: {', '.join(names)}" for device, names in by_device.items())


def classification_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Top-1, top-5, macro-F1 and loss of each classifier's best epoch on the validation set, its parameters and
    training time (the one definition)."""
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
                "потери на валидации": b["val_loss"],
                "эпох (лучшая)": f"{run.summary.epochs_run} ({run.summary.best_epoch})",
                "параметров": words.thousands(run.summary.params_total),
                "обучение, мин": run_minutes(run),
            }
        )
    return pd.DataFrame(rows).set_index("модель")


def segmentation_table(runs: dict[str, Run], background_share: float | None = None) -> pd.DataFrame:
    """IoU / Dice / pixel accuracy of each segmentation run's best epoch (from summary.json; seed 0) with its
    training time (the one definition), and the trivial all-background predictor (IoU = Dice = 0, pixel
    accuracy = background share)."""
    rows = []
    for run in segmentation_runs(runs).values():
        r = summary_row(run)
        rows.append(
            {
                "модель": run.spec.short,
                "IoU": r["IoU"],
                "Dice": r["Dice"],
                "pixel accuracy": r["pixel accuracy"],
                "обучение, мин": run_minutes(run),
            }
        )
    if background_share is not None:
        rows.append({"модель": TRIVIAL, "IoU": 0.0, "Dice": 0.0, "pixel accuracy": background_share})
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
        return f"свёртка 3×3, шаг {part['stride']}"
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
                "params": words.thousands(part["params"]),
                "stride": r or "—",
                "output": f"{size // r}×{size // r}" if r else "1×1",
            }
        )
    return pd.DataFrame(rows).set_index("stage").rename_axis("часть сети").rename(columns=STAGE_COLUMNS)


def architecture_tables(
    paths: Paths, runs: dict[str, Run], roles_shown: tuple[str, ...] = ("classifier", "plain", "finetuned")
) -> dict[str, pd.DataFrame]:
    """Per architecture (by the runs' roles: the classifier, the plain U-Net, the backbone U-Net), the per-stage or
    per-level table, rebuilt from the checkpoints' configs."""
    tables = {}
    roles = by_role(runs)
    for role in roles_shown:
        name = roles.get(role)
        if name is None or not paths.weights(name).exists():
            continue
        model = load_model(paths.weights(name), RunLog(paths.run_dir(name)).weights_sha256())
        tables[runs[name].spec.model] = stage_table(model) if role == "classifier" else level_table(model)
    return tables


def parameter_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Parameters in total and trained (at the end of training) per run, against the assignment's limits."""
    rows = []
    for run in runs.values():
        limit = PARAM_LIMITS.get(run.spec.model)
        rows.append(
            {
                "модель": run.spec.short,
                "архитектура": run.spec.model,
                "параметров": words.thousands(run.summary.params_total),
                "обучаемых в конце": words.thousands(run.summary.params_trainable),
                "ограничение задания": words.limit(limit) if limit else "—",
            }
        )
    return pd.DataFrame(rows).set_index("модель")


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
            "параметров всего": words.thousands(s.params_total),
            "обучаемых в конце": words.thousands(s.params_trainable),
            "из них предобучено": words.thousands(count_parameters(model.backbone)[0])
            if model.backbone is not None and runs[name].spec.init == "pretrained"
            else "0",
            "понижений ×2 (от входа U-Net)": int(np.log2(max(enc.reductions))),
            "вход энкодера": f"{128 * scale}×{128 * scale}" + (" (×2 билинейно)" if scale > 1 else ""),
            "skip-уровней": len(enc.out_channels) - 1,
            "ширины декодера": "-".join(str(c) for c in enc.out_channels[:-1]),
            "голова: вход, каналов": model.head.in_channels,
            "мин на эпоху (сид 0)": f"{run_minutes(runs[name]) / max(s.epochs_run, 1):.2f}",
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
    """A classifier part in a U-Net encoder level: ``stem1 (свёртка, шаг 2)``, ``stem2 (шаг 2)``, ``stage1``."""
    if stride == 1:
        return name
    return f"{name} ({'свёртка, ' if name == 'stem1' else ''}шаг {stride})"


def encoder_level(level: dict) -> str:
    """How an encoder computes a level (its facts, :meth:`~tinyseg.models.base.Encoder.levels`), in words."""
    if "pool" in level:  # PlainEncoder
        return ("max-pooling 2×2, " if level["pool"] else "") + f"{level['convs']}× свёртка 3×3"
    if level["source"] == "stem":  # ClassifierEncoder's light stem
        return f"новый лёгкий стем: {level['convs']}× свёртка 3×3"
    scale = level["input_scale"]
    upsample = f"вход ×{scale} (билинейно), " if scale > 1 else ""
    return upsample + " + ".join(_part(name, stride) for name, stride in level["parts"]) + " → адаптер 1×1"


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
            "encoder": f"свёртка 1×1 → {words.plural(head['classes'], 'логит', 'логита', 'логитов')}",
            "encoder channels": "—",
            "decoder channels": head["classes"],
            "encoder params": 0,
            "decoder params": head["params"],
        }
    )
    df = pd.DataFrame(rows).set_index("level").rename(columns=LEVEL_COLUMNS).rename_axis("уровень")
    for col in ("параметров энкодера", "параметров декодера"):
        df[col] = df[col].map(words.thousands)
    return df


def facts_table(data) -> pd.DataFrame:
    """What the moon data set holds, in Russian: what it is (the real set or the generated stand-in, with its
    generator version and seed), where, how many pairs, the size, the rock share."""
    f = data.facts()
    return pd.DataFrame(
        {
            "значение": [
                source_words(data.source),
                data.source.location.name if data.source.location else "—",
                words.thousands(f["pairs"]),
                f["size"],
                f"{f['rock_fraction_mean']:.1%}",
                f"{f['rock_fraction_median']:.1%}",
                str(f["images_without_rocks"]),
            ]
        },
        index=pd.Index(
            [
                "что это",
                "папка",
                "пар изображение–маска",
                "размер после приведения",
                "доля пикселей камня, среднее",
                "доля пикселей камня, медиана",
                "снимков без камней",
            ],
            name="набор",
        ),
    )


def source_words(source) -> str:
    """A data source (:class:`~tinyseg.data.Source`) in words: the real set, the generated stand-in with its
    generator version and seed (from its folder's name), the real check set."""
    from ..data import moon

    if source.kind == "generated":
        made = moon.stand_in_name(Path(source.location).name)
        how = f" (генератор версии {made[2]}, сид {made[1]})" if made else ""
        return f"{data_kind_words(source.dataset, 'generated')}{how}"
    if source.kind == "check":
        return "реальные рендеры с очищенной разметкой (только для оценки)"
    return data_kind_words(source.dataset, source.kind)


def data_intro(data, paths: Paths) -> str:
    """What data this submission's segmentation uses, said once (Markdown, Russian), from the data found now (the
    same the runs' logs name: a notebook over other data retrains them): the real set, or the generated stand-in with
    its generator version, seed and size, and what the generator draws."""
    pairs = data.pairs if hasattr(data, "pairs") else data
    source, n = pairs.source, words.thousands(len(pairs.numbers))
    where = paths.relative(source.location)
    if source.kind != "generated":
        return f"**Данные этой работы — {source_words(source)}**: {n} пар, папка `{where}`." + _test_words(data, paths)
    return (
        f"**Данные этой работы — {source_words(source)}**: {n} пар, папка `{where}`. Настоящего набора на машине "
        "проекта нет, поэтому его заменяет процедурный генератор `tinyseg.data.lunar_synth`, который пишет ту же "
        "структуру папок (`images/render/renderNNNN.png`, `images/ground/groundNNNN.png`, маски 0/255): рельеф с "
        "холмами и кратерами, камни со степенным распределением размеров, жёсткие тени, чёрное небо; маска отмечает "
        "все видимые камни. Насколько его сцены похожи на настоящие, показывает рисунок ниже."
        + _test_words(data, paths)
    )


def _test_words(data, paths: Paths) -> str:
    """The three parts of the data in a sentence: training and validation (what validation is for) and the test
    set no choice sees — the separately generated one, or the split's test part; empty for bare pairs."""
    if not hasattr(data, "pairs"):
        return ""
    parts = (
        f" Обучение — {words.thousands(len(data.train_idx))} пар, валидация — {words.thousands(len(data.val_idx))} "
        "(ранняя остановка, пробы, любой выбор)"
    )
    if data.held_out is not None:
        test = data.held_out.source
        made = moon.generated_set(test.location)
        how = f", сид {made[1]}, та же версия генератора" if made and test.kind == "generated" else ""
        return (
            parts + f"; **тест** — отдельно сгенерированные {words.thousands(len(data.held_out.numbers))} пар "
            f"(`{paths.relative(test.location)}`{how}): его не видела ни одна проба и ни один выбор, на нём — "
            "главные таблицы."
        )
    if len(data.test_idx):
        return (
            parts
            + f"; **тест** — отложенная часть разбиения, {words.thousands(len(data.test_idx))} пар: его не видел ни один выбор."
        )
    return parts + "; отдельного теста нет."


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
            source_map = f"{source[1]['num_chs']}×{side}×{side}"
            adapter = f"свёртка 1×1 + BN + ReLU: {source[1]['num_chs']} → {enc.out_channels[i]} кан."
        rows.append(
            {
                "уровень U-Net": i,
                "источник": how,
                "карта источника": source_map,
                "адаптер": adapter,
                "куда идёт": "дно декодера"
                if i == last
                else f"skip-соединение в блок декодера {size // r}×{size // r}",
            }
        )
    return pd.DataFrame(rows).set_index("уровень U-Net")


def config_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Each run's configuration as logged in its ``config.json`` (what re-running it needs), in words, one column
    per run (headed by its short label)."""
    cols = {}
    for run in runs.values():
        c = run.config
        t, info = c.train, c.info
        recipe, spec = (info.recipe, info.spec) if info else ({}, {})
        scale, stem = c.model.get("input_scale"), c.model.get("stem_channels")
        col = {
            "архитектура": c.model.get("name", "—"),
            "вход энкодера": "—"
            if scale is None
            else f"×{scale} (билинейно)" + (f", лёгкий стем {stem} кан." if stem else ", без лёгкого стема"),
            "эпох": t.epochs,
            "размер батча": c.batch_size or recipe.get("batch_size"),
            "оптимизатор": words.optimizer(t.optimizer),
            "пиковый шаг обучения": f"{t.lr:g}",
            "расписание шага": words.schedule(t.schedule, t.warmup),
            "weight decay": f"{t.weight_decay:g}",
            "ранняя остановка": f"{t.patience} эпох без улучшения" if t.patience else "нет",
        }
        if "resolutions" in recipe:
            col["размер входа по эпохам"] = schedule_text(recipe["resolutions"], recipe["epochs"])
            col["label smoothing"] = recipe.get("label_smoothing")
        if "bce_weight" in recipe:
            col["функция потерь"] = f"{recipe['bce_weight']:g}·BCE + {recipe['dice_weight']:g}·Dice"
        if spec.get("encoder_from"):
            source = RUNS.get(spec["encoder_from"])
            col["энкодер"] = f"из {source.model if source else spec['encoder_from']}, " + (
                "предобученный" if spec["init"] == "pretrained" else "случайный"
            )
            col["разморозка энкодера"] = (
                "заморожен не был"
                if not spec["frozen"]
                else "не размораживается"
                if spec["unfreeze_epoch"] is None
                else f"с эпохи {spec['unfreeze_epoch']}, шаг × {spec['encoder_lr_scale']:g}"
            )
        cols[run.spec.short] = {k: "—" if v is None else str(v) for k, v in col.items()}
    return pd.DataFrame(cols).fillna("—").rename_axis("настройка")


def runs_table(runs: dict[str, Run]) -> pd.DataFrame:
    """The appendix's one table of the runs, one column per run: how each was configured (:func:`config_table`)
    and how it went (:func:`overview`)."""
    return pd.concat([config_table(runs), overview(runs)]).rename_axis("запуск")


def data_table(runs: dict[str, Run], paths: Paths) -> pd.DataFrame:
    """The data sets the runs used (from their logs) and the real check set: what, where, how many, what for."""
    from ..data import moon

    rows, seen = [], set()
    for run in runs.values():
        d = run.data
        if not d or (d.dataset, d.location) in seen:
            continue
        seen.add((d.dataset, d.location))
        rows.append(
            {
                "набор": d.dataset,
                "что это": {"real": "настоящий", "generated": "сгенерированная замена"}.get(d.kind, d.kind),
                "где (относительно репозитория)": d.location,
                "обучение / валидация": f"{words.thousands(d.train)} / {words.thousands(d.val)}",
                "для чего": "обучение; валидация: ранняя остановка и пробы",
            }
        )
    tests = {(t["kind"], t["location"], t["pairs"]) for run in runs.values() if (t := _test_set(paths, run))}
    for kind, location, pairs in sorted(tests):
        rows.append(
            {
                "набор": TEST_SET,
                "что это": "сгенерирован отдельно (другой сид, та же версия генератора)"
                if kind == "generated"
                else "фиксированная тестовая часть разбиения",
                "где (относительно репозитория)": location,
                "обучение / валидация": f"— / {words.thousands(pairs)}",
                "для чего": "только главные числа: ни обучения, ни выбора",
            }
        )
    if not tests and any(r.spec.task == "segmentation" for r in runs.values()):
        rows.append(
            {
                "набор": TEST_SET,
                "что это": "в журналах этих запусков нет (записаны до его появления)",
                "где (относительно репозитория)": "—",
                "обучение / валидация": "—",
                "для чего": "главные числа — на валидации (см. примечание к сводной таблице)",
            }
        )
    check = moon.locate_check(paths)
    if check is not None:
        n = len(moon.find_pairs(check.location))
        rows.append(
            {
                "набор": "реальные рендеры",
                "что это": "проверочный набор; очищенная разметка (без многих мелких камней)",
                "где (относительно репозитория)": paths.relative(check.location),
                "обучение / валидация": f"— / {n}",
                "для чего": "только оценка; половина настройки (чётные позиции) и тестовая половина (нечётные)",
            }
        )
    return pd.DataFrame(rows).set_index("набор")


TEST_SET = "тестовый набор"


def _test_set(paths: Paths, run: Run) -> dict | None:
    """The test set a segmentation run is reported on: its data record's, else the one its overlaps.json counts
    were made on (a run logged before the test set existed, whose counts were completed from its weights)."""
    if run.data and run.data.test:
        return asdict(run.data.test)
    if run.spec.task != "segmentation":
        return None
    counts, _, _ = read_overlaps(RunLog(paths.run_dir(run.name)).overlaps_path)
    return ((counts or {}).get("test") or {}).get("data")
