"""The run context that notebooks, tools and tasks share: profile, seed, device and precision, paths.

A notebook's first code cell calls :func:`start` and its last ``session.finish()``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from . import runs, words
from .checkpoint import seed_everything
from .device import Runtime, resolve_profile, select_runtime
from .paths import Paths, get_paths
from .runlog import RunLog


@dataclass
class Session:
    profile: str
    seed: int
    runtime: Runtime
    paths: Paths
    started: float = field(default_factory=time.time)

    def elapsed_min(self) -> float:
        return (time.time() - self.started) / 60

    def finish(self, notebook: str | None = None) -> None:
        """The notebook's closing line: the training time of its runs (``notebook``: the run table's runs it trains)
        from their logs, by the one definition (:func:`~tinyseg.runlog.training_minutes`), with the date and the
        machine; then how long this execution took, saying when the runs were reused rather than trained in it."""
        print(
            training_summary(self, notebook)
            if notebook
            else f"выполнение ноутбука: {words.minutes(self.elapsed_min())}"
        )


def training_summary(session: Session, notebook: str) -> str:
    """«Обучение в этом ноутбуке (по журналам запусков): …» for :meth:`Session.finish`."""
    found = []
    for spec in runs.of_notebook(notebook):
        for run in spec.ids():
            log = RunLog(session.paths.run_dir(run))
            summary = log.summary()
            if summary is not None:
                found.append((summary, log.training_minutes()))
    execution = words.minutes(session.elapsed_min())
    if not found:
        return f"выполнение ноутбука: {execution}; журналов обучения нет"
    total = sum(m for _, m in found)
    dates = sorted({d for s, _ in found if (d := words.date(s.finished_at))})
    machines = sorted({words.machine(s.device) for s, _ in found})
    reused = all(_before(s.finished_at, session.started) for s, _ in found)
    when = f"{dates[0]}–{dates[-1]}" if len(dates) > 1 else (dates[0] if dates else "")
    return (
        f"Обучение в этом ноутбуке (по журналам запусков): {words.minutes(total)} — "
        f"{words.plural(len(found), 'запуск', 'запуска', 'запусков')}, сумма времени эпох с валидацией; "
        f"обучено {when + ' ' if when else ''}на {', '.join(machines)}. "
        + (
            f"Это выполнение ноутбука: {execution} (законченные запуски взяты из журналов, не переобучались)."
            if reused
            else f"Это выполнение ноутбука вместе с обучением: {execution}."
        )
    )


def _before(iso: str, started: float) -> bool:
    """A run finished before the session started (reused from its logs, not trained in this execution)."""
    try:
        return datetime.fromisoformat(iso).timestamp() < started
    except (TypeError, ValueError):
        return False


def start(profile: str = "auto", seed: int = 0) -> Session:
    """Resolve the profile, pick device and precision, seed everything, say where things go."""
    profile = resolve_profile(profile)
    runtime = select_runtime(verbose=False)
    paths = get_paths()
    seed_everything(seed)
    try:  # a table cell is never cut short with "..." (pandas' default cuts at 50 characters)
        import pandas as pd

        pd.set_option("display.max_colwidth", None)
    except ImportError:
        pass
    try:  # crisp figures in the notebook and in its HTML/PDF export
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png", dpi=110)
    except ImportError:
        pass
    print(
        f"профиль: {profile} | сид: {seed}\nвычисления: {words.machine(runtime.describe())}, "
        f"{', '.join(runtime.describe().split(', ')[-2:])}\n"
        f"журналы запусков: {paths.relative(paths.runs_dir)}/ | веса: {paths.relative(paths.weights_dir)}/"
    )
    return Session(profile, seed, runtime, paths)
