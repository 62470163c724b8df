"""How the project writes for a reader (Russian): numbers, statuses, machines, dates, training time.

One place for the conventions every notebook line, table and figure follows:

* thousands are separated by a no-break space (``10 000``), never a comma;
* the decimal separator is the point (``0.675``), in tables, figures and prose alike;
* a mean ± sd whose sd rounds to zero at the shown precision says so (``± < 0.001``), never ``± 0.000``;
* the training time of a run is the sum of its logged epoch times, training and validation of every epoch
  (``metrics.jsonl``'s ``seconds``): :func:`tinyseg.runlog.training_minutes`, the one definition every table,
  sentence and notebook line uses;
* a run's status, its optimizer and schedule, the machine it ran on: in words (:data:`STATUS`, :func:`machine`).

No module of the project is imported here, so any layer may use it.
"""

from __future__ import annotations

import re
from datetime import datetime

NBSP = "\u00a0"  # between the groups of a number's thousands and between a number and its unit where it matters


def thousands(n: float | int) -> str:
    """``10000`` → ``10 000`` (no-break space between groups of three digits; integers only)."""
    return f"{int(round(n)):,}".replace(",", NBSP)


def limit(budget) -> str:
    """An assignment's parameter limit (:class:`tinyseg.models.ParamLimit`) in words: ``≤ 2 500 000 (±10%)``."""
    tolerance = getattr(budget, "tolerance", 0)
    return f"≤ {thousands(budget.limit)}" + (f" (±{tolerance:.0%})" if tolerance else "")


def plural(n: int, one: str, few: str, many: str) -> str:
    """``n`` with the Russian noun form for it: plural(3, "сид", "сида", "сидов") → «3 сида»."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{thousands(n)} {one}"
    return f"{thousands(n)} {few if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else many}"


def pm(mean: float, sd: float | None, digits: int = 3) -> str:
    """``mean ± sd`` at ``digits`` decimals; an sd that rounds to zero is ``± < 0.001`` (it was measured, and it is
    small), never ``± 0.000``; ``sd=None`` (one seed: not measured) gives the mean alone."""
    if sd is None:
        return f"{mean:.{digits}f}"
    if round(sd, digits) == 0:
        return f"{mean:.{digits}f} ± < {10**-digits:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


METRICS = {  # a logged metric's name (metrics.jsonl: train_<name>, val_<name>) as figures and tables show it
    "loss": "функция потерь",
    "top1": "top-1",
    "top5": "top-5",
    "macro_f1": "macro-F1",
    "iou": "IoU",
    "dice": "Dice",
    "pixel_acc": "pixel accuracy",
}
SPLITS = {"train": "обучение (аугментированные батчи)", "val": "валидация"}  # the two curves of every metric


def metric(name: str) -> str:
    return METRICS.get(name, name)


STATUS = {  # a run's status (summary.json) in words
    "completed": "завершён",
    "early_stopped": "остановлен ранней остановкой",
    "running": "идёт",
    "interrupted": "прерван",
    "diverged": "разошёлся (потери не конечны)",
}

OPTIMIZER = {"sgd": "SGD с моментом Нестерова", "adamw": "AdamW"}
SCHEDULE = {
    "onecycle": "один цикл (one-cycle): разогрев {warmup}, затем косинусный спад",
    "cosine": "разогрев {warmup}, затем косинусный спад",
    "constant": "постоянный шаг",
}


def status(value: str) -> str:
    return STATUS.get(value, value)


def optimizer(value: str) -> str:
    return OPTIMIZER.get(value, value)


def schedule(value: str, warmup: float) -> str:
    return SCHEDULE.get(value, value).format(warmup=f"{warmup:.0%} шагов")


def machine(description: str) -> str:
    """A runtime's description (:meth:`tinyseg.device.Runtime.describe`: ``cpu (AMD EPYC, family 26 model 2, 2
    threads), bf16, channels_last, torch 2.14.1+cu130``) in words: ``CPU AMD EPYC, 2 потока, bf16``."""
    m = re.match(r"(?P<kind>\w+) \((?P<name>[^)]*)\)(?:, (?P<precision>\w+))?", description or "")
    if m is None:
        return description or "?"
    name, precision = m["name"], m["precision"]
    if m["kind"] == "cpu":
        threads = re.search(r"(\d+) threads?", name)
        model = name.split(",")[0].strip()
        where = f"CPU {model}" + (f", {plural(int(threads[1]), 'поток', 'потока', 'потоков')}" if threads else "")
    else:
        where = f"GPU {name}"
    return where + (f", {precision}" if precision else "")


def date(iso: str) -> str:
    """An ISO time stamp (summary.json's ``finished_at``) as a date: ``26.11.2026``; "" when there is none."""
    try:
        return datetime.fromisoformat(iso).strftime("%d.%m.%Y")
    except (TypeError, ValueError):
        return ""


def minutes(value: float) -> str:
    """Minutes at one decimal: ``84.9 мин``."""
    return f"{value:.1f}{NBSP}мин"


def trained(finished_at: str, device: str, training_minutes: float) -> str:
    """«обучено 26.11.2026 на CPU AMD EPYC, 2 потока, bf16 за 84.9 мин» (the date from the log, the machine
    from the log, the training time by the one definition)."""
    when = date(finished_at)
    return f"обучено {when + ' ' if when else ''}на {machine(device)} за {minutes(training_minutes)}"
