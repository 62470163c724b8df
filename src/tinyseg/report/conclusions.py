"""The report's conclusions: sentences built from the logged numbers, so they stay true when the runs are redone.

Comparisons are chosen by the runs' roles in the run table (plain U-Net, frozen and fine-tuned
pretrained encoder, random-init control), never by run names.
"""

from __future__ import annotations

from .. import words
from ..runlog import training_minutes
from ..runs import by_role
from .logs import Run, data_kind, data_words, segmentation_runs


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _classifier(runs: dict[str, Run]) -> str | None:
    """The summary's sentence on the classifier: its size, data and result, its training time."""
    roles = by_role(runs)
    if "classifier" not in roles:
        return None
    run = runs[roles["classifier"]]
    b = run.best
    return (
        f"**Классификация.** Classifier128 ({run.summary.params_total / 1e6:.2f} млн параметров), обученный с нуля "
        f"на Tiny ImageNet-200, на {words.thousands(run.data.val if run.data else 0)} изображениях валидации: top-1 "
        f"{_fmt_pct(b['val_top1'])}, top-5 {_fmt_pct(b['val_top5'])}, macro-F1 {_fmt_pct(b['val_macro_f1'])}; "
        f"обучение {words.minutes(training_minutes(run.history))}."
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


def _verdict(d) -> str:
    """What an interval says, in one word: «значимо» when it excludes 0 at the shown precision, «незначимо» when it
    contains 0 (never "no different": an interval that contains 0 does not show equality)."""
    return "значимо" if d.excludes_zero else "незначимо"


def _signed(d) -> str:
    """``+0.041 [+0.031; +0.050] — значимо``: a difference, its 95% interval and what the interval says."""
    from .seeds import interval, signed

    return f"{signed(d.value)} {interval(d)} — {_verdict(d)}"


def _where(view, seeds) -> str:
    """A view of :func:`~.seeds.views` as the place of a claim: «на отдельно сгенерированном тестовом наборе
    замены», «на валидации замены (теста в журналах нет)», «на тестовой половине реальных рендеров (36 снимков)»."""
    from .seeds import every_run, half_indices

    words_ = data_words(every_run(seeds))
    if view.which == "test":
        return f"на {words_.test}"
    if view.which == "val":
        return f"на {words_.val} (теста в журналах нет)"
    pairs = next(s.overlaps["check"]["pairs"] for s in seeds.values() if "check" in s.overlaps)
    n = words.plural(len(half_indices(pairs, view.half)), "снимок", "снимка", "снимков")
    half = {"tuning": "половине настройки", "test": "тестовой половине"}.get(view.half)
    return f"на {half} реальных рендеров ({n})" if half else f"на всех реальных рендерах ({n})"


def _claimed(seeds) -> list:
    """The views the conclusions make claims on: the headline stand-in set and the real check set's test half
    (the tables show the tuning half and the whole set too)."""
    from .seeds import views

    shown = views(seeds)
    return [shown[0], *(v for v in shown if v.which == "check" and v.half == "test")]


def _place(view, seeds) -> str:
    """A view in a few words, for a claim after the protocol note has said what the sets are: «на валидации замены»,
    «на тесте замены», «на тестовой половине реальных рендеров»."""
    from .seeds import every_run

    words_ = data_words(every_run(seeds))
    if view.which == "test":
        return f"на {words_.test_short}"
    if view.which == "val":
        return f"на {words_.val_short}"
    half = {"tuning": "половине настройки", "test": "тестовой половине"}.get(view.half)
    return f"на {half} реальных рендеров" if half else "на всех реальных рендерах"


def _iou(s, view) -> str:
    """A run's IoU on a view as the text gives it: mean ± sd over its seeds, or the value of its one seed."""
    from .stats import mean_sd

    values = s.iou(view.which, view.half)
    mean, sd = mean_sd(values)
    return words.pm(mean, sd if len(values) > 1 else None)


def _how(d) -> str:
    """«выше» / «ниже» when the interval excludes 0, else «не значимо отличается от» (never "no different")."""
    return ("выше" if d.value > 0 else "ниже") if d.excludes_zero else "не значимо отличается от"


def _difference(seeds, view, reference: str, name: str):
    from .seeds import differences

    return differences(seeds, view.which, reference, view.half).get(name)


def conclusions(runs: dict[str, Run], seeds: dict | None = None, background_share: float | None = None) -> str:
    """The report's conclusions (Markdown, Russian): a few short paragraphs of what the results mean, every number
    read from the logs, none of the summary's sentences repeated — the classifier and what made it fast, what the
    pretrained encoder does on the training data and on real renders, and one paragraph of limitations (the
    training data, what was selected on what, the compute, the seeds, the metric)."""
    lines = [x for x in (_classifier_lesson(runs),) if x]
    seg = {n: r for n, r in segmentation_runs(runs).items() if r.best.get("val_iou") is not None}
    if not seg:
        data = _data(runs)
        return "\n\n".join(
            lines
            + ([data] if data and "нельзя" in data else [])
            + ["Журналов сегментации пока нет: выполните `02_unet_base.ipynb` и `03_unet_backbone.ipynb`."]
        )
    data = _data(runs)
    if data and "нельзя" in data:
        return "\n\n".join([*lines, data])
    if seeds:
        lines += [x for x in (_segmentation_lesson(seeds), _transfer_lesson(seeds)) if x]
    else:
        kind = data_kind(list(seg.values()))
        lines.append(
            "**Сегментация.** Модели обучены на "
            + (
                "настоящем MOON_SEGMENTATION_BINARY"
                if kind == "real"
                else "сгенерированной замене MOON_SEGMENTATION_BINARY"
            )
            + "; сравнение по сидам появится, когда будут журналы всех запусков."
        )
    lines.append(_limitations(runs, seeds or {}, background_share))
    return "\n\n".join(lines)


def _classifier_lesson(runs: dict[str, Run]) -> str | None:
    """What made the classifier work within its time, from its log: the cost of an epoch at each input size."""
    roles = by_role(runs)
    if "classifier" not in roles:
        return None
    run = runs[roles["classifier"]]
    minutes = training_minutes(run.history)
    by_size: dict[int, list[float]] = {}
    for r in run.history:
        if "size" in r:
            by_size.setdefault(int(r["size"]), []).append(r["seconds"] / 60)
    text = (
        f"**Классификатор.** Своя остаточная сеть на {run.summary.params_total / 1e6:.2f} млн параметров за "
        f"{run.summary.epochs_run} эпох ({words.minutes(minutes)} на {words.machine(run.summary.device)}) достигла "
        f"{_fmt_pct(run.best['val_top1'])} top-1."
    )
    if len(by_size) > 1:
        small, large = min(by_size), max(by_size)
        ratio = (sum(by_size[large]) / len(by_size[large])) / (sum(by_size[small]) / len(by_size[small]))
        share = len(by_size[small]) / len(run.history)
        text += (
            f" Уложиться в это время позволило прогрессивное увеличение входа: эпоха на {small} px стоила в "
            f"{ratio:.1f} раза меньше эпохи на {large} px, а на {small} px прошло {share:.0%} эпох; переход на "
            f"полный размер в конце сразу поднимает точность (кривые в разделе 4)."
        )
    return text


def _segmentation_lesson(seeds: dict) -> str | None:
    """What the pretrained encoder does on the data the models were trained on (the headline stand-in set): each
    model against UNetBase, and the pretrained ones against the random-init control."""
    roles = by_role(seeds)
    if "plain" not in roles:
        return None
    view = _claimed(seeds)[0]
    plain = seeds[roles["plain"]].spec.said
    parts = [
        f"{seeds[roles[r]].spec.said} {_signed(d)}"
        for r in ("finetuned", "frozen", "control")
        if r in roles and (d := _difference(seeds, view, "plain", roles[r])) is not None
    ]
    if not parts:
        return None
    text = f"**Сегментация.** {_place(view, seeds).capitalize()} разность IoU с {plain}: " + "; ".join(parts) + "."
    if "control" in roles:
        pretrained = [
            (seeds[roles[r]].spec.said, d)
            for r in ("finetuned", "frozen")
            if r in roles and (d := _difference(seeds, view, "control", roles[r])) is not None
        ]
        if pretrained:
            control = seeds[roles["control"]].spec.said
            text += (
                " Разность с той же архитектурой со случайным энкодером: "
                + "; ".join(f"{name} − {control} {_signed(d)}" for name, d in pretrained)
                + (
                    ". Значит, здесь выигрыш дают именно веса Tiny ImageNet, а не устройство сети."
                    if all(d.excludes_zero and d.value > 0 for _, d in pretrained)
                    else ". Вклад самих весов Tiny ImageNet здесь показан не для всех вариантов."
                )
            )
    return text


def _transfer_lesson(seeds: dict) -> str | None:
    """How far the results carry to real renders: the IoU ranges on both sets and what pretraining adds there."""
    from .seeds import every_run, headline_set

    head = headline_set(seeds)
    real = {n: s.iou("check") for n, s in seeds.items() if s.iou("check")}
    if not real:
        return None
    own = {n: seeds[n].iou(head) for n in real}
    lo_r, hi_r = min(min(v) for v in real.values()), max(max(v) for v in real.values())
    lo_v, hi_v = min(min(v) for v in own.values()), max(max(v) for v in own.values())
    text = (
        f"**Реальные снимки.** На реальных рендерах IoU всех моделей и сидов — {lo_r:.3f}–{hi_r:.3f} против "
        f"{lo_v:.3f}–{hi_v:.3f} {_place(_claimed(seeds)[0], seeds)}: "
        + ("обученные на замене модели" if data_kind(every_run(seeds)) != "real" else "модели")
        + " переносятся на реальные рендеры лишь частично."
    )
    roles = by_role(seeds)
    test_half = [v for v in _claimed(seeds) if v.which == "check"]
    if test_half and "finetuned" in roles and "control" in roles:
        d = _difference(seeds, test_half[0], "control", roles["finetuned"])
        if d is not None:
            text += (
                f" {_place(test_half[0], seeds).capitalize()} {seeds[roles['finetuned']].spec.said} − "
                f"{seeds[roles['control']].spec.said} {_signed(d)}"
                + (": вклад весов Tiny ImageNet на реальных снимках не показан." if not d.excludes_zero else ".")
            )
    return text


def _limitations(runs: dict[str, Run], seeds: dict, background_share: float | None) -> str:
    """One paragraph of what limits the conclusions, from the logs: the training data, what was selected on what,
    the compute, the seeds, the metric."""
    from .seeds import every_run, headline_set

    seg = list(segmentation_runs(runs).values()) or every_run(seeds)
    kind, version = data_kind(seg), _generator_version(seg)
    parts = []
    if kind == "generated":
        parts.append(
            "Модели сегментации обучены только на сгенерированной замене"
            + (f" (генератор версии {version})" if version else "")
            + ": настоящий MOON_SEGMENTATION_BINARY недоступен, реальные рендеры с очищенной разметкой служат лишь "
            "проверкой, и разрыв между заменой и реальными снимками — главный предел выводов."
        )
    if seeds and headline_set(seeds) == "val":
        parts.append(
            "По валидации шли ранняя остановка и все пробы, а отдельного тестового набора в журналах этих запусков нет, "
            "так что числа на валидации могут быть немного завышены."
        )
    if kind == "generated" and version is not None and version <= 2:
        parts.append(
            "Генератор этой версии выбирался пробами на всех реальных рендерах, поэтому и их тестовая половина для "
            "этих запусков не независима."
        )
    epochs = sorted({r.summary.epochs_planned for r in seg})
    machines = sorted({words.machine(r.summary.device) for r in [*runs.values(), *seg]})
    if epochs and machines:
        parts.append(
            f"Вычислений немного ({'; '.join(machines)}): U-Net обучались по "
            f"{'/'.join(words.plural(e, 'эпоха', 'эпохи', 'эпох') for e in epochs)}, пробы были короткими и с одним "
            "сидом."
        )
    single = [s.spec.said for s in seeds.values() if s.n == 1]
    many = [f"{s.spec.said} — {words.plural(s.n, 'сид', 'сида', 'сидов')}" for s in seeds.values() if s.n > 1]
    if single:
        parts.append(
            (f"Сидов: {', '.join(many)}; " if many else "")
            + f"{', '.join(single)} — по одному сиду, их разброс между сидами не измерен, и интервалы с ними "
            "учитывают только выбор снимков."
        )
    if background_share is not None:
        parts.append(
            f"Pixel accuracy почти ничего не говорит: предсказатель «камней нет нигде» получает {background_share:.3f} "
            "(доля фона), поэтому главная метрика — IoU."
        )
    return "**Ограничения.** " + " ".join(parts) if parts else ""


def part3(seeds: dict) -> str:
    """Part 3's conclusions (Markdown, Russian) from the seeds' logs: each pretrained variant against UNetBase and
    against the random-init control on the headline stand-in set (its test set, or the validation set said to stand
    in for it) and on the real check set's test half — mean ± sd over seeds, the difference and its 95% interval
    (hierarchical bootstrap over seeds and images), «значимо»/«незначимо» — and the equal-time reading. Every
    number is computed from the logs (see :mod:`.seeds`)."""
    from .seeds import equal_time_budget, every_run, iou_within
    from .stats import mean_sd

    roles = by_role(seeds)
    if "plain" not in roles:
        return "Журнала UNetBase нет: выполните `02_unet_base.ipynb`."
    claimed = _claimed(seeds)
    plain = seeds[roles["plain"]]
    lines = []
    for role in ("finetuned", "frozen"):
        if role not in roles:
            continue
        s = seeds[roles[role]]
        found = [(view, d) for view in claimed if (d := _difference(seeds, view, "plain", s.spec.name)) is not None]
        if not found:
            continue
        text = "; ".join(
            f"{_where(view, seeds) if k == 0 else _place(view, seeds)} {s.spec.said} {_how(d)} {plain.spec.said}: "
            f"{_iou(s, view)} против {_iou(plain, view)} IoU, разность {_signed(d)}"
            for k, (view, d) in enumerate(found)
        )
        lines.append(f"**{s.spec.short} против {plain.spec.short}.** {text[0].upper()}{text[1:]}.")
    if "control" in roles:
        control = seeds[roles["control"]].spec.said
        pre = []
        for role in ("finetuned", "frozen"):
            if role not in roles:
                continue
            said = seeds[roles[role]].spec.said
            found = [
                f"{_place(view, seeds)} {_signed(d)}"
                for view in claimed
                if (d := _difference(seeds, view, "control", roles[role])) is not None
            ]
            if found:
                pre.append(f"{said} − {control}: " + ", ".join(found))
        if pre:
            lines.append(
                "**Что дают веса Tiny ImageNet** (разность с той же архитектурой со случайным энкодером): "
                + "; ".join(pre)
                + "."
            )
    lines.append(
        "Интервалы — 95% иерархического бутстрэпа по сидам и снимкам; «значимо» — интервал не содержит нуля."
        + _halves_caveat(every_run(seeds))
    )
    if len(seeds) > 1:
        budget = equal_time_budget(seeds)
        at = {n: mean_sd([iou_within(r, budget)[0] for r in s.runs])[0] for n, s in seeds.items()}
        order = sorted(seeds, key=lambda n: -at[n])
        lines.append(
            f"**Равное время.** На отметке {words.minutes(budget)} обучения (столько в среднем длится самый быстрый "
            "запуск; время — сумма эпох с валидацией) лучший IoU на валидации: "
            + ", ".join(f"{seeds[n].spec.said} {at[n]:.3f}" for n in order)
            + ". Прерванный на этой отметке запуск находится посреди своего one-cycle расписания, поэтому для более "
            "медленных моделей такая оценка занижена."
        )
    single = [s.spec.said for s in seeds.values() if s.n == 1]
    if single:
        lines.append(
            f"{', '.join(single)} — по одному сиду: их разброс между сидами не измерен, и интервалы с ними "
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
    question on the headline stand-in set and the real check set's test half, what the Tiny ImageNet weights add,
    the segmentation data."""
    from .seeds import every_run, seeds_word, signed

    lines = [x for x in (_classifier(runs),) if x]
    roles = by_role(seeds)
    if "plain" in roles and "finetuned" in roles:
        plain, tuned = seeds[roles["plain"]], seeds[roles["finetuned"]]
        parts = []
        for view in _claimed(seeds):
            d = _difference(seeds, view, "plain", tuned.spec.name)
            if d is None:
                continue
            parts.append(
                f"{_where(view, seeds)} {tuned.spec.said} {_how(d)} {plain.spec.said}: {_iou(tuned, view)} против "
                f"{_iou(plain, view)} IoU (разность {_signed(d)})"
            )
        if parts:
            text = "; ".join(parts)
            lines.append(
                "**Главный вопрос части 3** — помогает ли сегментации энкодер из Classifier128 "
                f"(варианты: A — энкодер заморожен, B — энкодер дообучается, контроль — та же архитектура со "
                f"случайным энкодером). {text[0].upper()}{text[1:]}. У {tuned.spec.said} {seeds_word(tuned.n)}, у "
                f"{plain.spec.said} {seeds_word(plain.n)}; интервалы — 95% бутстрэпа по сидам и снимкам."
                + _halves_caveat(every_run(seeds))
            )
        else:
            lines.append(
                "**Главный вопрос части 3** — помогает ли энкодер из Classifier128 сегментации — по журналам "
                "пока не посчитан: парных подсчётов по снимкам нет (см. ниже)."
            )
        if "control" in roles:
            view = _claimed(seeds)[0]
            d = _difference(seeds, view, "control", tuned.spec.name)
            if d is not None:
                lines.append(
                    f"**Вклад весов Tiny ImageNet** {_place(view, seeds)}: {tuned.spec.said} − "
                    f"{seeds[roles['control']].spec.said} = {signed(d.value)} IoU, 95% ДИ "
                    f"{_signed(d).split(' ', 1)[1]}."
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
