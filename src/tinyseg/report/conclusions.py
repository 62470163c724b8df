"""The report's conclusions: sentences built from the logged numbers, so they stay true when the runs are redone.

Comparisons are chosen by the runs' roles in the run table (plain U-Net, frozen and fine-tuned
pretrained encoder, random-init control), never by run names.
"""

from __future__ import annotations

from ..runs import by_role
from .logs import Run, segmentation_runs


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def conclusions(runs: dict[str, Run], background_share: float | None = None) -> str:
    """The report's conclusions (Markdown, Russian), every number read from the logs."""
    lines = []
    roles = by_role(runs)
    if "classifier" in roles:
        b = runs[roles["classifier"]].best
        lines.append(f"**Классификатор.** Classifier128 на валидации Tiny ImageNet-200: top-1 "
                     f"{_fmt_pct(b['val_top1'])}, top-5 {_fmt_pct(b['val_top5'])}, macro-F1 "
                     f"{_fmt_pct(b['val_macro_f1'])}; обучение {runs[roles['classifier']].summary['wall_time_s'] / 60:.0f} мин.")
    seg = {n: r for n, r in segmentation_runs(runs).items() if r.best.get("val_iou") is not None}
    if not seg:
        return "\n\n".join(lines + ["Журналов сегментации пока нет: выполните `02_unet_base.ipynb` и "
                                    "`03_unet_backbone.ipynb`."])
    iou = {n: r.best["val_iou"] for n, r in seg.items()}
    sources = {r.data.get("kind") for r in seg.values()}
    data = ("на **сгенерированных** данных (процедурный генератор `tinyseg.data.lunar_synth`, настоящий "
            "MOON_SEGMENTATION_BINARY недоступен); на реальных снимках числа будут другими"
            if sources == {"generated"} else "на настоящем MOON_SEGMENTATION_BINARY" if sources == {"real"}
            else f"на разных данных ({', '.join(map(str, sorted(sources, key=str)))}) — сравнение некорректно")
    lines.append(f"**Данные сегментации.** Все модели сегментации обучены и проверены {data}.")
    short = {n: r.spec.short for n, r in seg.items()}
    best = max(iou, key=iou.get)
    ranking = ", ".join(f"{short[n]} {iou[n]:.3f}" for n in sorted(iou, key=iou.get, reverse=True))
    lines.append(f"**Лучшая модель** по val IoU — {short[best]} (IoU {iou[best]:.3f}, Dice "
                 f"{seg[best].best['val_dice']:.3f}). Порядок по IoU: {ranking}.")

    def diff(a: str, b: str) -> str:
        d = iou[a] - iou[b]
        return f"{d:+.3f} IoU ({d / iou[b]:+.0%})" if iou[b] else f"{d:+.3f} IoU"

    role = {r: n for r, n in by_role(seg).items()}  # role → run with a logged IoU
    if {"finetuned", "plain"} <= role.keys():
        wins = iou[role["finetuned"]] > iou[role["plain"]]
        lines.append(f"**{short[role['finetuned']]} против {short[role['plain']]}:** "
                     f"{diff(role['finetuned'], role['plain'])} — "
                     + ("дообученный энкодер из Classifier128 лучше обычного U-Net." if wins else
                        "дообученный энкодер из Classifier128 НЕ лучше обычного U-Net при том же бюджете эпох."))
    pre = [role[r] for r in ("frozen", "finetuned") if r in role]
    if "control" in role and pre:
        control = role["control"]
        parts = "; ".join(f"{short[n]}: {diff(n, control)}" for n in pre)
        gain = all(iou[n] > iou[control] for n in pre)
        lines.append(f"**Что дало предобучение** (та же архитектура со случайной инициализацией энкодера как "
                     f"контроль): {parts}. " + ("Веса Tiny ImageNet помогают." if gain else
                                                 "Выигрыш от весов Tiny ImageNet есть не во всех вариантах."))
    if {"plain", "control", "finetuned"} <= role.keys():
        gap = iou[role["plain"]] - iou[role["control"]]
        closed = iou[role["finetuned"]] - iou[role["control"]]
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
    if {"finetuned", "frozen"} <= role.keys():
        lines.append(f"**Разморозка энкодера** (B против A): {diff(role['finetuned'], role['frozen'])}.")
    if background_share is not None:
        acc = {n: r.best["val_pixel_acc"] for n, r in seg.items()}
        worst = min(acc, key=acc.get)
        lines.append(f"**Тривиальный предсказатель** «камней нет нигде»: IoU = Dice = 0, pixel accuracy = доля фона "
                     f"{background_share:.3f}. Самая слабая по IoU модель ({short[min(iou, key=iou.get)]}) имеет IoU "
                     f"{min(iou.values()):.3f}; наименьшая pixel accuracy среди моделей — {acc[worst]:.3f} "
                     f"({short[worst]}), на {acc[worst] - background_share:+.3f} выше тривиальной: при доле камней "
                     f"{1 - background_share:.1%} pixel accuracy мало что говорит, поэтому главная метрика — IoU.")
    minutes = {n: r.summary["wall_time_s"] / 60 for n, r in seg.items()}
    lines.append("**Время обучения** (включая валидацию каждой эпохи): "
                 + ", ".join(f"{short[n]} {m:.1f} мин" for n, m in minutes.items()) + ".")
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
    UNetBase on the stand-in validation and on the real renders, what pretraining adds over the random-init
    control, and the equal-time reading. Every number is computed from the logs (see :mod:`.seeds`)."""
    from .seeds import differences, equal_time_budget, iou_within
    from .stats import mean_sd

    roles = by_role(seeds)
    if "plain" not in roles:
        return "Журнала UNetBase нет: выполните `02_unet_base.ipynb`."
    plain = seeds[roles["plain"]]

    def pm(s, which="val") -> str:
        values = s.iou(which)
        mean, sd = mean_sd(values)
        return f"{mean:.3f} ± {sd:.3f} ({s.n} сид{'а' if 1 < s.n < 5 else 'ов' if s.n >= 5 else ''})" \
            if s.n > 1 else f"{mean:.3f} (1 сид)"

    lines = []
    vs_plain = {w: differences(seeds, w) for w in ("val", "check")}
    for role, what in (("finetuned", "преимущество"), ("frozen", "разница")):
        if role not in roles:
            continue
        s = seeds[roles[role]]
        parts = []
        for which, label in (("val", "на валидации сгенерированной замены"), ("check", "на реальных рендерах")):
            d = vs_plain[which].get(s.spec.name)
            if d is None:
                continue
            parts.append(f"{label}: {s.spec.short} {pm(s, which)} против {plain.spec.short} {pm(plain, which)}; "
                         f"разность {d.value:+.3f} IoU, 95% ДИ по снимкам [{d.low:+.3f}; {d.high:+.3f}] "
                         f"({d.images} снимков) — {_verdict(d, what)}")
        if parts:
            lines.append(f"**{s.spec.short} против {plain.spec.short}.** " + "; ".join(parts) + ".")

    if "control" in roles:
        control = seeds[roles["control"]]
        pre = []
        for role in ("frozen", "finetuned"):
            if role in roles:
                d = differences(seeds, "val", reference_role="control").get(roles[role])
                if d is not None:
                    pre.append(f"{seeds[roles[role]].spec.short} {d.value:+.3f} IoU [{d.low:+.3f}; {d.high:+.3f}]")
        if pre:
            lines.append(f"**Что дают веса Tiny ImageNet.** Та же архитектура со случайной инициализацией энкодера "
                         f"({control.spec.short}) даёт на валидации {pm(control)}. Разность с ней: "
                         + "; ".join(pre) + " (95% ДИ по снимкам).")

    if len(seeds) > 1:
        budget = equal_time_budget(seeds)
        at = {n: mean_sd([iou_within(r, budget)[0] for r in s.runs])[0] for n, s in seeds.items()}
        full = {n: mean_sd(s.iou("val"))[0] for n, s in seeds.items()}
        minutes = {n: mean_sd(s.minutes())[0] for n, s in seeds.items()}
        lines.append("**Равное время.** Время обучения (с валидацией) на сид: "
                     + ", ".join(f"{s.spec.short} {minutes[n]:.1f} мин" for n, s in seeds.items())
                     + f". Если читать каждый запуск на отметке {budget:.1f} мин (самый короткий запуск), "
                     + ", ".join(f"{s.spec.short} {at[n]:.3f}" for n, s in seeds.items())
                     + " (против " + ", ".join(f"{full[n]:.3f}" for n in seeds) + " за все эпохи). "
                     "Оборванный запуск читается посреди своего one-cycle расписания, поэтому эта оценка для "
                     "более медленных моделей занижена.")
    single = [s.spec.short for s in seeds.values() if s.n == 1]
    if single:
        lines.append(f"Для {', '.join(single)} — по одному сиду: их разброс между сидами не измерен, и выводы о них "
                     "опираются только на интервал по снимкам.")
    return "\n\n".join(lines)
