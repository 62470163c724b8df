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
        lines.append(part3(seeds))
        real = {n: s.iou("check") for n, s in seeds.items() if s.iou("check")}
        if real and max(max(v) for v in real.values()) < min(min(seeds[n].iou("val")) for n in real):
            val = {n: seeds[n].iou("val") for n in real}
            lo_r, hi_r = min(min(v) for v in real.values()), max(max(v) for v in real.values())
            lo_v, hi_v = min(min(v) for v in val.values()), max(max(v) for v in val.values())
            seed_runs = [r for s in seeds.values() for r in s.runs]
            generated = data_kind(seed_runs) != "real"
            lines.append(
                f"**Перенос на реальные рендеры.** На {data_words(seed_runs).val_short} IoU моделей и сидов лежит в пределах "
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
    """What a paired interval says, in words."""
    if d.low > 0:
        return f"интервал целиком выше нуля: {what} не объясняется тем, какие снимки попали в выборку"
    if d.high < 0:
        return "интервал целиком ниже нуля: здесь модель уступает"
    return "интервал содержит ноль: на этих снимках разница не отличима от случайной"


def part3(seeds: dict) -> str:
    """Part 3's conclusions (Markdown, Russian) from the seeds' logs: mean ± sd, paired 95% intervals against
    UNetBase on the validation set (named by the runs' data records) and on the real renders, what pretraining adds over the random-init
    control, and the equal-time reading. Every number is computed from the logs (see :mod:`.seeds`)."""
    from .seeds import differences, equal_time_budget, interval, iou_within, plural, seeds_word
    from .stats import mean_sd

    roles = by_role(seeds)
    if "plain" not in roles:
        return "Журнала UNetBase нет: выполните `02_unet_base.ipynb`."
    plain = seeds[roles["plain"]]

    def pm(s, which="val") -> str:
        mean, sd = mean_sd(s.iou(which))
        return f"{mean:.3f} ± {sd:.3f} ({seeds_word(s.n)})" if s.n > 1 else f"{mean:.3f} ({seeds_word(1)})"

    lines = []
    val = data_words(r for s in seeds.values() for r in s.runs)  # the validation set, named by the runs' data
    vs_plain = {w: differences(seeds, w) for w in ("val", "check")}
    for role, what in (("finetuned", "преимущество"), ("frozen", "разница")):
        if role not in roles:
            continue
        s = seeds[roles[role]]
        parts = []
        for which, label in (("val", f"на {val.val}"), ("check", "на реальных рендерах")):
            d = vs_plain[which].get(s.spec.name)
            if d is None:
                continue
            parts.append(
                f"{label}: {s.spec.short} {pm(s, which)} против {plain.spec.short} {pm(plain, which)}; "
                f"разность {d.value:+.3f} IoU, 95% ДИ по снимкам {interval(d)} "
                f"({plural(d.images, 'снимок', 'снимка', 'снимков')}) — {_verdict(d, what)}"
            )
        if parts:
            text = "; ".join(parts)
            lines.append(f"**{s.spec.short} против {plain.spec.short}.** {text[0].upper()}{text[1:]}.")

    if "control" in roles:
        control = seeds[roles["control"]]
        vs_control = differences(seeds, "val", reference_role="control")
        pre = [
            f"{seeds[roles[r]].spec.short} {vs_control[roles[r]].value:+.3f} IoU {interval(vs_control[roles[r]])}"
            for r in ("frozen", "finetuned")
            if r in roles and roles[r] in vs_control
        ]
        if pre:
            lines.append(
                f"**Что дают веса Tiny ImageNet.** Та же архитектура со случайной инициализацией энкодера "
                f"({control.spec.short}) даёт на валидации {pm(control)}. Разность с ней: "
                + "; ".join(pre)
                + " (95% ДИ по снимкам)."
            )

    if len(seeds) > 1:
        budget = equal_time_budget(seeds)
        at = {n: mean_sd([iou_within(r, budget)[0] for r in s.runs])[0] for n, s in seeds.items()}
        full = {n: mean_sd(s.logged_iou())[0] for n, s in seeds.items()}
        minutes = {n: mean_sd(s.minutes())[0] for n, s in seeds.items()}
        lines.append(
            "**Равное время.** Время обучения (с валидацией) на сид: "
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
            f"Для {', '.join(single)} — по одному сиду: их разброс между сидами не измерен, и выводы о них "
            "опираются только на интервал по снимкам."
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
    """The report's opening in three or four sentences (Markdown, Russian), from the logs."""
    from .seeds import differences, interval, seeds_word
    from .stats import mean_sd

    lines = [x for x in (_classifier(runs),) if x]
    roles = by_role(seeds)
    if "plain" in roles and "finetuned" in roles:
        plain, tuned = seeds[roles["plain"]], seeds[roles["finetuned"]]
        parts = []
        val = data_words(r for s in seeds.values() for r in s.runs)  # the validation set, named by the runs' data
        for which, label in (("val", f"на {val.val}"), ("check", "на реальных рендерах")):
            d = differences(seeds, which).get(tuned.spec.name)
            if d is None:
                continue
            word = "выше" if d.low > 0 else "ниже" if d.high < 0 else "не отличим от"
            parts.append(
                f"{label} {tuned.spec.short} {word} {plain.spec.short}: "
                f"{mean_sd(tuned.iou(which))[0]:.3f} против {mean_sd(plain.iou(which))[0]:.3f} IoU "
                f"(разность {d.value:+.3f}, 95% ДИ {interval(d)})"
            )
        if parts:
            lines.append(
                "**Главный вопрос части 3** — помогает ли энкодер из Classifier128 сегментации: "
                + "; ".join(parts)
                + f" (средние: {seeds_word(tuned.n)} и {seeds_word(plain.n)})."
            )
        else:
            lines.append(
                "**Главный вопрос части 3** — помогает ли энкодер из Classifier128 сегментации — по журналам "
                "пока не посчитан: парных подсчётов по снимкам нет (см. ниже)."
            )
        if "control" in roles:
            d = differences(seeds, "val", reference_role="control").get(tuned.spec.name)
            if d is not None:
                lines.append(
                    f"**Вклад весов Tiny ImageNet** ({tuned.spec.short} против той же архитектуры со "
                    f"случайным энкодером) на {val.val_short}: {d.value:+.3f} IoU, 95% ДИ {interval(d)}."
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
