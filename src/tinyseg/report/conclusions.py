"""The report's conclusions: sentences built from the logged numbers, so they stay true when the runs are redone.

Comparisons are chosen by the runs' roles in the run table (plain U-Net, frozen and fine-tuned
pretrained encoder, random-init control), never by run names.
"""

from __future__ import annotations

from ..runs import by_role
from .logs import Run, data_kind, data_words, segmentation_runs


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _classifier(runs: dict[str, Run]) -> str | None:
    roles = by_role(runs)
    if "classifier" not in roles:
        return None
    run = runs[roles["classifier"]]
    b = run.best
    return (
        f"**Классификатор.** Classifier128 ({run.summary.params_total / 1e6:.2f} млн параметров), обученный с нуля "
        f"на Tiny ImageNet-200, на {run.data.val if run.data else 0:,} изображениях валидации: top-1 {_fmt_pct(b['val_top1'])}, top-5 "
        f"{_fmt_pct(b['val_top5'])}, macro-F1 {_fmt_pct(b['val_macro_f1'])}; обучение "
        f"{run.summary.wall_time_min:.0f} мин."
    )


def _data(runs: dict[str, Run]) -> str | None:
    seg = segmentation_runs(runs)
    if not seg:
        return None
    sources = {r.data.kind if r.data else None for r in seg.values()}
    if sources == {"generated"}:
        return (
            "**Данные сегментации.** Все модели сегментации обучены и проверены на **сгенерированной замене** "
            "MOON_SEGMENTATION_BINARY (процедурный генератор `tinyseg.data.lunar_synth`; настоящий набор "
            "недоступен); перенос на реальные снимки проверен на реальных рендерах с очищенными масками."
        )
    if sources == {"real"}:
        return (
            "**Данные сегментации.** Все модели сегментации обучены и проверены на настоящем MOON_SEGMENTATION_BINARY."
        )
    return (
        f"**Данные сегментации.** Модели обучены на разных данных ({', '.join(map(str, sorted(sources, key=str)))}): "
        "сравнивать их нельзя, переобучите их вместе."
    )


def conclusions(runs: dict[str, Run], seeds: dict | None = None, background_share: float | None = None) -> str:
    """The report's conclusions (Markdown, Russian), every number read from the logs: the classifier, the
    data, part 3 over seeds (:func:`part3`), the trivial predictor, and how far the stand-in carries to
    real renders."""
    lines = [x for x in (_classifier(runs), _data(runs)) if x]
    seg = {n: r for n, r in segmentation_runs(runs).items() if r.best.get("val_iou") is not None}
    if not seg:
        return "\n\n".join(
            lines + ["Журналов сегментации пока нет: выполните `02_unet_base.ipynb` и `03_unet_backbone.ipynb`."]
        )
    if seeds:
        from .seeds import headline_set

        lines.append(part3(seeds))
        head = headline_set(seeds)
        real = {n: s.iou("check") for n, s in seeds.items() if s.iou("check")}
        if real and max(max(v) for v in real.values()) < min(min(seeds[n].iou(head)) for n in real):
            val = {n: seeds[n].iou(head) for n in real}
            lo_r, hi_r = min(min(v) for v in real.values()), max(max(v) for v in real.values())
            lo_v, hi_v = min(min(v) for v in val.values()), max(max(v) for v in val.values())
            seed_runs = [r for s in seeds.values() for r in s.runs]
            generated = data_kind(seed_runs) != "real"
            words = data_words(seed_runs)
            where = words.test_short if head == "test" else words.val_short
            lines.append(
                f"**Перенос на реальные рендеры.** На {where} IoU моделей и сидов лежит в пределах "
                f"{lo_v:.3f}–{hi_v:.3f}, на реальных рендерах — {lo_r:.3f}–{hi_r:.3f}. Часть разрыва — "
                "очищенная разметка проверочного набора (многих мелких камней в ней нет, и найденные моделью "
                "считаются ошибкой)"
                + (", часть — отличие сгенерированных сцен от реальных" if generated else "")
                + "; это главный предел выводов о сегментации в этом проекте."
            )
    if background_share is not None:
        short = {n: r.spec.short for n, r in seg.items()}
        iou = {n: r.best["val_iou"] for n, r in seg.items()}
        acc = {n: r.best["val_pixel_acc"] for n, r in seg.items()}
        worst = min(acc, key=acc.get)
        lines.append(
            f"**Тривиальный предсказатель** «камней нет нигде»: IoU = Dice = 0, pixel accuracy = доля фона "
            f"{background_share:.3f}. Самая слабая по IoU модель (сид 0; {short[min(iou, key=iou.get)]}) имеет IoU "
            f"{min(iou.values()):.3f}; наименьшая pixel accuracy среди моделей — {acc[worst]:.3f} "
            f"({short[worst]}), {'на ' + format(acc[worst] - background_share, '.3f') + ' выше' if acc[worst] > background_share else 'не выше'} тривиальной: при доле камней "
            f"{1 - background_share:.1%} pixel accuracy мало что говорит, поэтому главная метрика — IoU."
        )
    return "\n\n".join(lines)


def _verdict(d, what: str) -> str:
    """What an interval says, in words ("незначимо" when it contains 0, never "no different")."""
    if d.excludes_zero:
        return (
            f"интервал целиком выше нуля: {what}"
            if d.low > 0
            else "интервал целиком ниже нуля: модель значимо уступает"
        )
    return "интервал содержит ноль: разница незначима"


def _where(view, seeds) -> str:
    """A view of :func:`~.seeds.views` as the place of a claim: «на отдельно сгенерированном тестовом наборе
    замены», «на валидации замены (теста в журналах нет)», «на тестовой половине реальных рендеров (36 снимков)»."""
    from .seeds import every_run, half_indices, plural

    words = data_words(every_run(seeds))
    if view.which == "test":
        return f"на {words.test}"
    if view.which == "val":
        return f"на {words.val} (теста в журналах нет)"
    pairs = next(s.overlaps["check"]["pairs"] for s in seeds.values() if "check" in s.overlaps)
    n = plural(len(half_indices(pairs, view.half)), "снимок", "снимка", "снимков")
    half = {"tuning": "половине настройки", "test": "тестовой половине"}.get(view.half)
    return f"на {half} реальных рендеров ({n})" if half else f"на всех реальных рендерах ({n})"


def _claimed(seeds) -> list:
    """The views the conclusions make claims on: the headline stand-in set and the real check set's test half
    (the tables show the tuning half and the whole set too)."""
    from .seeds import views

    shown = views(seeds)
    return [shown[0], *(v for v in shown if v.which == "check" and v.half == "test")]


def part3(seeds: dict) -> str:
    """Part 3's conclusions (Markdown, Russian) from the seeds' logs: mean ± sd, differences with UNetBase and 95%
    intervals (hierarchical bootstrap over seeds and images) on the headline stand-in set (its test set, or the
    validation set said to stand in for it) and on the real check set's test half, what pretraining adds over the
    random-init control there, and the equal-time reading. Every number is computed from the logs (see :mod:`.seeds`)."""
    from .seeds import differences, equal_time_budget, every_run, interval, iou_within, seeds_word
    from .stats import mean_sd

    roles = by_role(seeds)
    if "plain" not in roles:
        return "Журнала UNetBase нет: выполните `02_unet_base.ipynb`."
    plain = seeds[roles["plain"]]
    claimed = _claimed(seeds)

    def pm(s, view) -> str:
        mean, sd = mean_sd(s.iou(view.which, view.half))
        return f"{mean:.3f} ± {sd:.3f} ({seeds_word(s.n)})" if s.n > 1 else f"{mean:.3f} ({seeds_word(1)})"

    def compared(reference, role, what) -> list[str]:
        s, parts = seeds[roles[role]], []
        for view in claimed:
            d = differences(seeds, view.which, reference, view.half).get(s.spec.name)
            if d is None:
                continue
            ref = seeds[roles[reference]]
            parts.append(
                f"{_where(view, seeds)}: {s.spec.short} {pm(s, view)} против {ref.spec.short} {pm(ref, view)}; "
                f"разность {d.value:+.3f} IoU, 95% ДИ по сидам и снимкам {interval(d)} — {_verdict(d, what)}"
            )
        return parts

    lines = []
    for role, what in (("finetuned", "преимущество значимо"), ("frozen", "разница значима")):
        if role in roles and (parts := compared("plain", role, what)):
            text = "; ".join(parts)
            s = seeds[roles[role]]
            lines.append(f"**{s.spec.short} против {plain.spec.short}.** {text[0].upper()}{text[1:]}.")

    if "control" in roles:
        control = seeds[roles["control"]]
        pre = [
            p
            for role in ("frozen", "finetuned")
            if role in roles
            for p in compared("control", role, "вклад весов значим")
        ]
        if pre:
            lines.append(
                f"**Что дают веса Tiny ImageNet** (та же архитектура со случайной инициализацией энкодера, "
                f"{control.spec.short}): " + "; ".join(pre) + "."
            )

    if caveat := _halves_caveat(every_run(seeds)).strip():
        lines.append(caveat)

    if len(seeds) > 1:
        budget = equal_time_budget(seeds)
        at = {n: mean_sd([iou_within(r, budget)[0] for r in s.runs])[0] for n, s in seeds.items()}
        full = {n: mean_sd(s.logged_iou())[0] for n, s in seeds.items()}
        minutes = {n: mean_sd(s.minutes())[0] for n, s in seeds.items()}
        lines.append(
            "**Равное время** (на валидации: по ней идут кривые обучения). Время обучения (с валидацией) на сид: "
            + ", ".join(f"{s.spec.short} {minutes[n]:.1f} мин" for n, s in seeds.items())
            + f". Если читать каждый запуск на отметке {budget:.1f} мин суммарного времени эпох (самый быстрый "
            "запуск), лучший val IoU к этому моменту: "
            + ", ".join(f"{s.spec.short} {at[n]:.3f} (за все эпохи {full[n]:.3f})" for n, s in seeds.items())
            + ". Оборванный запуск читается посреди своего one-cycle расписания, поэтому для более "
            "медленных моделей эта оценка занижена."
        )
    single = [s.spec.short for s in seeds.values() if s.n == 1]
    if single:
        lines.append(
            f"Для {', '.join(single)} — по одному сиду: их разброс между сидами не измерен, и интервалы с ними "
            "учитывают только выбор снимков."
        )
    gaps = _gaps(seeds, list(seeds))
    if gaps:
        lines.append(gaps)
    return "\n\n".join(lines)


def _gaps(seeds: dict, names: list[str], references=("plain", "control"), missing: bool = True) -> str | None:
    """What the comparisons of ``names`` with the reference runs (by role) leave out (a seed's counts, an
    unfinished seed, other images; with ``missing``, the runs without a finished seed 0), as one paragraph;
    None when nothing is."""
    from .seeds import comparison_notes

    notes = [n for ref in references for name in names for n in comparison_notes(seeds, name, ref)]
    if missing:
        notes += [f"{s.spec.short}: {n}" for s in getattr(seeds, "missing", {}).values() for n in s.notes]
    if not notes:
        return None
    return (
        "**Не всё из журналов вошло в расчёт.** "
        + "; ".join(dict.fromkeys(notes))
        + ". Средние и интервалы посчитаны без этого."
    )


def headline(runs: dict[str, Run], seeds: dict) -> str:
    """The report's opening in a few sentences (Markdown, Russian), from the logs: the classifier, part 3's main
    question on the headline stand-in set and the real check set's test half, what the Tiny ImageNet weights add."""
    from .seeds import differences, every_run, interval, seeds_word
    from .stats import mean_sd

    lines = [x for x in (_classifier(runs),) if x]
    roles = by_role(seeds)
    if "plain" in roles and "finetuned" in roles:
        plain, tuned = seeds[roles["plain"]], seeds[roles["finetuned"]]
        parts = []
        for view in _claimed(seeds):
            d = differences(seeds, view.which, "plain", view.half).get(tuned.spec.name)
            if d is None:
                continue
            a = mean_sd(tuned.iou(view.which, view.half))[0]
            b = mean_sd(plain.iou(view.which, view.half))[0]
            numbers = f"{a:.3f} против {b:.3f} IoU (разность {d.value:+.3f}, 95% ДИ {interval(d)})"
            if d.excludes_zero:
                word = "выше" if d.low > 0 else "ниже"
                parts.append(f"{_where(view, seeds)} {tuned.spec.short} {word} {plain.spec.short}: {numbers}")
            else:
                parts.append(
                    f"{_where(view, seeds)} разница {tuned.spec.short} и {plain.spec.short} незначима: {numbers}"
                )
        if parts:
            lines.append(
                "**Главный вопрос части 3** — помогает ли энкодер из Classifier128 сегментации: "
                + "; ".join(parts)
                + f" (средние: {seeds_word(tuned.n)} и {seeds_word(plain.n)}; интервалы — бутстрэп по сидам и снимкам)."
                + _halves_caveat(every_run(seeds))
            )
        else:
            lines.append(
                "**Главный вопрос части 3** — помогает ли энкодер из Classifier128 сегментации — по журналам "
                "пока не посчитан: парных подсчётов по снимкам нет (см. ниже)."
            )
        if "control" in roles:
            view = _claimed(seeds)[0]
            d = differences(seeds, view.which, "control", view.half).get(tuned.spec.name)
            if d is not None:
                lines.append(
                    f"**Вклад весов Tiny ImageNet** ({tuned.spec.short} против той же архитектуры со "
                    f"случайным энкодером) {_where(view, seeds)}: {d.value:+.3f} IoU, 95% ДИ {interval(d)}"
                    + ("" if d.excludes_zero else " — незначимо")
                    + "."
                )
        gaps = _gaps(seeds, [tuned.spec.name], missing=False)
        if gaps:
            lines.append(gaps)
    else:
        missing = getattr(seeds, "missing", {})
        absent = [missing[n] for r, n in by_role(missing).items() if r in ("plain", "finetuned")]
        if absent:
            lines.append(
                "**Главный вопрос части 3** — помогает ли энкодер из Classifier128 сегментации — пока без ответа: "
                + "; ".join(f"{s.spec.short}: {n}" for s in absent for n in s.notes)
                + "."
            )
    data = _data(runs)
    if data:
        lines.append(data)
    return "\n\n".join(lines)


def protocol_note(seeds: dict) -> str:
    """What the tables' sets are and which choices looked at them (Markdown, Russian), from the logs: the
    stand-in's test set (or that the runs' logs have none, so that the validation set stands in for it), and
    which half of the real check set any choice looked at (the generator version of the runs' data record:
    version 2 was chosen on all 72 real renders, before the halves were fixed; from version 3 generator probes
    look at the tuning half only; see docs/protocol.md)."""
    from .seeds import every_run, half_indices, headline_set

    runs = every_run(seeds)
    if not runs:
        return ""
    words, lines = data_words(runs), []
    if headline_set(seeds) == "test":
        record = next(s.overlaps["test"].get("data") or {} for s in seeds.values() if "test" in s.overlaps)
        where = f" (`{record['location']}`, {record['pairs']} пар)" if record else ""
        lines.append(
            f"**Главные числа — на {words.test}**{where}: ни обучение, ни ранняя остановка, ни один выбор его не "
            f"видели; по {words.val} шли ранняя остановка и все пробы."
        )
    else:
        lacking = [s.spec.short for s in seeds.values() if s.n and s.counts("test") is None]
        lines.append(
            f"**Тестового набора в журналах нет** ({', '.join(lacking)}: запуски записаны до того, как он появился), "
            f"поэтому главные числа таблиц — на {words.val} (столбцы «…, теста нет»). По ней шли ранняя остановка "
            "и выбор настроек, поэтому эти числа могут быть завышены; числа на тестовом наборе дадут запуски, "
            "обученные заново."
        )
    pairs = next((s.overlaps["check"]["pairs"] for s in seeds.values() if "check" in s.overlaps), None)
    if pairs is not None:
        halves = (
            f"Реальные рендеры — в трёх частях: половина настройки ({len(half_indices(pairs, 'tuning'))} снимков на "
            f"чётных позициях по номеру), тестовая половина ({len(half_indices(pairs, 'test'))} на нечётных) и все "
            f"{len(pairs)}. Модели на них не обучались и порог (0.5) на них не выбирался."
        )
        version = _generator_version(runs)
        if data_kind(runs) == "real":
            halves += " Модели обучены на настоящем MOON_SEGMENTATION_BINARY: генератор замены в них не участвует."
        elif version is not None and version <= 2:
            halves += (
                f" Генератор замены версии {version}, на которой обучены эти модели, выбран пробами, оценёнными на "
                "всех реальных рендерах, до того как половины были зафиксированы: этот выбор видел обе половины, "
                "и независимого реального числа у этих запусков нет. С версии 3 пробы генератора смотрят только на "
                "половину настройки."
            )
        elif version is not None:
            halves += (
                f" Генератор замены версии {version} выбран пробами только на половине настройки "
                "(`docs/generator_probes.jsonl`); тестовая половина ни в одном выборе не участвовала — это "
                "независимое реальное число."
            )
        lines.append(halves)
    return "\n\n".join(lines)


def _halves_caveat(runs: list[Run]) -> str:
    """A sentence for claims on the real test half when it is not independent (generator version 2 or older was
    chosen on all real renders), else ""."""
    version = _generator_version(runs)
    if data_kind(runs) != "generated" or version is None or version > 2:
        return ""
    return (
        f" Тестовая половина реальных рендеров для этих запусков не независима: генератор версии {version} выбран "
        "пробами на всех реальных рендерах."
    )


def _generator_version(runs: list[Run]) -> int | None:
    """The generator version of the stand-in the segmentation runs were trained on (from their data records)."""
    from pathlib import Path

    from ..data import moon

    found = {moon.stand_in_name(Path(r.data.location).name) for r in runs if r.data and r.data.kind == "generated"}
    found.discard(None)
    return found.pop()[2] if len(found) == 1 else None
