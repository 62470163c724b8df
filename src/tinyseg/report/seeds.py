"""Part 3's comparison over seeds: mean ± sd per run, paired confidence intervals of IoU differences,
results at equal training time, and what differs between the models.

Everything is read from the run logs: each seed's ``summary.json`` / ``metrics.jsonl`` and the
per-image counts in ``overlaps.json`` (:func:`tinyseg.segment.record_overlaps`), so the other seeds
need no weights. Runs are chosen by their role in the run table, never by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import runs as run_table
from ..paths import Paths
from ..runlog import RunLog
from ..runs import RunSpec
from .logs import Run
from .stats import Difference, mean_sd, paired_iou_difference

SETS = {"val": "валидация (замена)", "check": "реальные рендеры"}


@dataclass
class Seeds:
    """The finished seeds of one run: their logs and their per-image overlap counts."""

    spec: RunSpec
    runs: list[Run]  # seed 0 first
    overlaps: dict[str, dict]  # set → {"pairs", "intersection" (seeds×N), "union" (seeds×N)}

    @property
    def n(self) -> int:
        return len(self.runs)

    def iou(self, which: str = "val") -> list[float]:
        """Whole-set IoU of each seed's best weights on the set, from the per-image counts (so that the tables'
        means and the bootstrap differences agree exactly); on "val" without counts, the logged best epoch's."""
        o = self.overlaps.get(which)
        if o is None:
            return [r.best["val_iou"] for r in self.runs] if which == "val" else []
        return [float(v) for v in o["intersection"].sum(1) / np.maximum(o["union"].sum(1), 1)]

    def counts(self, which: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-image (intersection, union) of every seed (seeds × images), or None without counts."""
        o = self.overlaps.get(which)
        return None if o is None else (o["intersection"], o["union"])

    def minutes(self) -> list[float]:
        """Training time of each seed (with validation; summary.json's wall time, as in every other table)."""
        return [r.summary.wall_time_min for r in self.runs]

    def epoch_minutes(self) -> list[float]:
        """The summed epoch times (training + validation) of each seed: what the equal-time reading cuts on
        (it leaves out checkpoint writing and the live plot, which only seed 0 draws)."""
        return [float(elapsed_minutes(r)[-1]) for r in self.runs]

    def logged_iou(self) -> list[float]:
        """The val IoU logged at each seed's best epoch (the engine's metric)."""
        return [r.best["val_iou"] for r in self.runs]


def elapsed_minutes(run: Run) -> np.ndarray:
    """Minutes of training (with validation) at the end of each epoch."""
    return np.cumsum([r["seconds"] for r in run.history]) / 60


def plural(n: int, one: str, few: str, many: str) -> str:
    """``n`` with the Russian noun form for it: plural(3, "сид", "сида", "сидов") → «3 сида»."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} {one}"
    return f"{n} {few if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else many}"


def seeds_word(n: int) -> str:
    """«1 сид», «3 сида», «5 сидов»."""
    return plural(n, "сид", "сида", "сидов")


def interval(d: Difference) -> str:
    """``[low; high]`` of a difference's confidence interval, signed, 3 decimals."""
    return f"[{d.low:+.3f}; {d.high:+.3f}]"


def load_seeds(paths: Paths, spec: RunSpec) -> Seeds | None:
    """The finished seeds of ``spec`` (None if seed 0 has no finished log)."""
    found, overlaps = [], {}
    for run in spec.ids():
        log = RunLog(paths.run_dir(run))
        summary = log.summary()
        if summary is None or not summary.finished:
            continue
        found.append(Run(spec, log.config(), log.metrics(), summary))
        file = log.overlaps_path
        counts = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
        for which, c in counts.items():
            overlaps.setdefault(which, []).append(c)
    if not found or found[0].summary.run != spec.name:
        return None
    merged = {}
    for which, per_seed in overlaps.items():
        if len(per_seed) != len(found) or any(c["pairs"] != per_seed[0]["pairs"] for c in per_seed):
            continue  # a seed without counts, or evaluated on other pairs: not comparable
        merged[which] = {
            "pairs": per_seed[0]["pairs"],
            "intersection": np.array([c["intersection"] for c in per_seed], dtype=float),
            "union": np.array([c["union"] for c in per_seed], dtype=float),
        }
    return Seeds(spec, found, merged)


def segmentation_seeds(paths: Paths) -> dict[str, Seeds]:
    """Every segmentation run of the table with at least seed 0 finished."""
    out = {}
    for spec in run_table.of_task("segmentation"):
        seeds = load_seeds(paths, spec)
        if seeds is not None:
            out[spec.name] = seeds
    return out


def _pm(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "—"
    mean, sd = mean_sd(values)
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def seed_table(seeds: dict[str, Seeds]) -> pd.DataFrame:
    """Per run: seeds, val IoU and real-render IoU as mean ± sd over seeds, minutes of training."""
    if not seeds:
        return pd.DataFrame()
    rows = []
    for s in seeds.values():
        rows.append(
            {
                "модель": s.spec.short,
                "сидов": s.n,
                "IoU, валидация": _pm(s.iou("val")),
                "IoU, реальные рендеры": _pm(s.iou("check")),
                "IoU по сидам (валидация)": ", ".join(f"{v:.3f}" for v in s.iou("val")),
                "обучение, мин на сид": _pm(s.minutes(), 1),
            }
        )
    return pd.DataFrame(rows).set_index("модель")


def differences(seeds: dict[str, Seeds], which: str, reference_role: str = "plain") -> dict[str, Difference]:
    """Run − the reference run (by role) in whole-set IoU on ``which`` with a paired bootstrap 95% CI over
    images; each model's IoU is the mean of its seeds' IoUs (:func:`~.stats.paired_iou_difference`)."""
    roles = run_table.by_role(seeds)
    ref = seeds.get(roles.get(reference_role, ""))
    if ref is None or ref.counts(which) is None:
        return {}
    out = {}
    for name, s in seeds.items():
        if name == ref.spec.name or s.counts(which) is None:
            continue
        if s.overlaps[which]["pairs"] != ref.overlaps[which]["pairs"]:
            continue
        out[name] = paired_iou_difference(ref.counts(which), s.counts(which))
    return out


def difference_table(seeds: dict[str, Seeds], reference_role: str = "plain") -> pd.DataFrame:
    """Each run minus the reference (UNetBase) on the stand-in validation and the real renders: the
    difference of the seed means of IoU and its paired bootstrap 95% interval over images."""
    roles = run_table.by_role(seeds)
    ref = seeds.get(roles.get(reference_role, ""))
    if ref is None:
        return pd.DataFrame()
    rows = {}
    for which, label in SETS.items():
        for name, d in differences(seeds, which, reference_role).items():
            row = rows.setdefault(
                name,
                {"сравнение": f"{seeds[name].spec.short} − {ref.spec.short}", "сидов": f"{seeds[name].n} и {ref.n}"},
            )
            row[f"ΔIoU, {label}"] = f"{d.value:+.3f}"
            row[f"95% ДИ, {label}"] = interval(d) + (" *" if d.excludes_zero else "")
            row[f"изображений, {label}"] = d.images
    return pd.DataFrame(list(rows.values())).set_index("сравнение") if rows else pd.DataFrame()


def equal_time_budget(seeds: dict[str, Seeds]) -> float:
    """The shortest mean (over seeds) summed epoch time among the runs, in minutes: the budget every run is read at."""
    return min(float(np.mean(s.epoch_minutes())) for s in seeds.values())


def iou_within(run: Run, minutes: float) -> tuple[float, int]:
    """The best logged val IoU among the epochs finished within ``minutes`` of summed epoch time, and how many."""
    within = [r["val_iou"] for r, t in zip(run.history, elapsed_minutes(run)) if t <= minutes + 1e-9]
    return (max(within) if within else float("nan")), len(within)


def equal_time_table(seeds: dict[str, Seeds], minutes: float | None = None) -> pd.DataFrame:
    """Every run read at the same training time (default: the shortest run's mean time) and at its full
    length. A run cut short is read in the middle of its one-cycle schedule, so it is at a disadvantage;
    the full-length column is the equal-epochs comparison."""
    if not seeds:
        return pd.DataFrame()
    minutes = equal_time_budget(seeds) if minutes is None else minutes
    rows = []
    for s in seeds.values():
        cut = [iou_within(r, minutes) for r in s.runs]
        rows.append(
            {
                "модель": s.spec.short,
                f"IoU за {minutes:.1f} мин эпох": _pm([c[0] for c in cut]),
                f"эпох за {minutes:.1f} мин": f"{np.mean([c[1] for c in cut]):.0f} из "
                f"{np.mean([r.summary.epochs_run for r in s.runs]):.0f}",
                "IoU за все эпохи": _pm(s.logged_iou()),
                "мин на эпоху": f"{np.mean([m / r.summary.epochs_run for m, r in zip(s.epoch_minutes(), s.runs)]):.2f}",
            }
        )
    return pd.DataFrame(rows).set_index("модель")


def iou_over_time(seeds: dict[str, Seeds], minutes: float | None = None):
    """Validation IoU against training minutes (with validation) for every seed of every run: the runs
    compared at equal time are compared at one vertical line (``minutes``, default the shortest mean run)."""
    import matplotlib.pyplot as plt

    minutes = equal_time_budget(seeds) if minutes is None else minutes
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    for s in seeds.values():
        for k, run in enumerate(s.runs):
            elapsed = elapsed_minutes(run)
            iou = [r["val_iou"] for r in run.history]
            epochs = [r["epoch"] for r in run.history]
            label = f"{s.spec.short} ({seeds_word(s.n)})" if k == 0 else None
            for ax, x in zip(axes, (elapsed, epochs)):
                ax.plot(x, iou, color=s.spec.colour, lw=1.6 if k == 0 else 1, alpha=1 if k == 0 else 0.55, label=label)
    axes[0].axvline(minutes, color="0.3", ls=":", lw=1)
    axes[0].text(minutes, axes[0].get_ylim()[0], f" {minutes:.1f} мин", va="bottom", fontsize=9, color="0.3")
    axes[0].set(xlabel="минут эпох (обучение + валидация)", ylabel="IoU на валидации", title="IoU по времени обучения")
    axes[1].set(xlabel="эпоха", ylabel="IoU на валидации", title="IoU по эпохам")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=11, loc="lower right")
    fig.tight_layout()
    return fig


def summary_table(seeds: dict[str, Seeds], reference_role: str = "plain") -> pd.DataFrame:
    """The report's headline table: per segmentation run, IoU on the stand-in validation and on the real
    renders (mean ± sd over seeds) and the difference from UNetBase with its paired 95% interval."""
    if not seeds:
        return pd.DataFrame()
    roles = run_table.by_role(seeds)
    reference = seeds[roles[reference_role]].spec.short if reference_role in roles else reference_role
    diffs = {w: differences(seeds, w, reference_role) for w in SETS}
    rows = []
    for name, s in seeds.items():
        row = {
            "модель": s.spec.short,
            "сидов": s.n,
            "IoU, валидация (замена)": _pm(s.iou("val")),
            "IoU, реальные рендеры": _pm(s.iou("check")),
        }
        for which, label in (("val", "валидация"), ("check", "реальные")):
            d = diffs[which].get(name)
            row[f"Δ с {reference}, {label} [95% ДИ]"] = f"{d.value:+.3f} {interval(d)}" if d is not None else "—"
        rows.append(row)
    return pd.DataFrame(rows).set_index("модель")
