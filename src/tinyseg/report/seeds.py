"""Part 3's comparison over seeds: mean ± sd per run, differences with hierarchical bootstrap intervals
(seeds and images), the real check set by its halves, recall by rock size, results at equal training time.

Everything is read from the run logs: each seed's ``summary.json`` / ``metrics.jsonl`` and the
per-image counts in ``overlaps.json`` (:func:`tinyseg.segment.record_overlaps`), so the other seeds
need no weights. Runs are chosen by their role in the run table, never by name.

What the tables report on (the protocol, ``docs/protocol.md``): the headline set of the stand-in is its
separately generated **test** set when every compared run has counts there, else the validation set, labelled
as such (runs logged before the test set existed); the real check set is reported as its tuning half, its test
half and all of it (:func:`views`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import runs as run_table
from ..data import moon
from ..metrics import ROCK_SIZES, size_label
from ..paths import Paths
from ..runlog import OVERLAPS_PROBLEMS, RunLog, training_minutes
from ..runlog import read_overlaps as runlog_read_overlaps
from ..runs import RunSpec
from ..words import plural, pm
from .logs import Run, data_words
from .stats import Difference, Interval, iou_difference, mean_sd, ratio_interval
from .tables import TRIVIAL

SETS = {"val": "валидация", "test": "тест", "check": "реальные рендеры"}  # the sets with per-image counts
HALVES = {"tuning": "настройка", "test": "тест"}  # the real check set's halves (moon.check_half_indices)
NOTE = "примечание"  # the tables' column for what is missing (only when something is)
NO_TEST = "теста нет"  # how the headline column says that it shows the validation set instead


class SeedCountsWarning(UserWarning):
    """A seed of a run is missing, unfinished, or its per-image counts are missing, unreadable or not
    comparable: the tables and the conclusions leave them out and say so."""


@dataclass
class Seeds:
    """The finished seeds of one run: their logs and their per-image overlap counts; ``notes`` (Russian,
    shown in the tables) say what is left out and why. A run whose seed 0 is not finished is an empty
    ``Seeds`` (no runs) with the note saying so (:func:`segmentation_seeds`)."""

    spec: RunSpec
    runs: list[Run]  # seed 0 first
    # set → {"pairs", "intersection" (seeds×N), "union" (seeds×N)}; "check" may add "rocks" and "found" (seeds×N×size
    # classes), "test" the record of the test set ("data")
    overlaps: dict[str, dict]
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.runs)

    def iou(self, which: str = "val", half: str | None = None) -> list[float]:
        """Whole-set IoU of each seed's best weights on the set (or a half of the real check set), from the
        per-image counts (so that the tables' means and the bootstrap differences agree exactly); on "val"
        without counts, the logged best epoch's."""
        counts = self.counts(which, half)
        if counts is None:
            return [r.best["val_iou"] for r in self.runs] if which == "val" and half is None else []
        inter, union = counts
        return [float(v) for v in inter.sum(1) / np.maximum(union.sum(1), 1)]

    def counts(self, which: str, half: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-image (intersection, union) of every seed (seeds × images), or None without counts; ``half``:
        only the images of that half of the real check set (:func:`~tinyseg.data.moon.check_half_indices`)."""
        o = self.overlaps.get(which)
        if o is None:
            return None
        at = half_indices(o["pairs"], half)
        return o["intersection"][:, at], o["union"][:, at]

    def rocks(self, half: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The real check set's ground-truth rocks and rocks found, per seed, image and size class (seeds ×
        images × classes), or None when a seed's counts lack them (runs logged before they were recorded)."""
        o = self.overlaps.get("check")
        if o is None or "rocks" not in o:
            return None
        at = half_indices(o["pairs"], half)
        return o["rocks"][:, at], o["found"][:, at]

    def minutes(self) -> list[float]:
        """Training time of each seed by the one definition (:func:`~tinyseg.runlog.training_minutes`: the summed
        epoch times, training + validation), as in every other table; the equal-time reading cuts on it too."""
        return [training_minutes(r.history) for r in self.runs]

    epoch_minutes = minutes  # the same quantity: there is one definition of training time

    def logged_iou(self) -> list[float]:
        """The val IoU logged at each seed's best epoch (the engine's metric)."""
        return [r.best["val_iou"] for r in self.runs]


def half_indices(pairs: list[str], half: str | None) -> np.ndarray:
    """Positions of ``half`` of the real check set among ``pairs`` (all of them for None)."""
    return np.arange(len(pairs)) if half is None else moon.check_half_indices(list(pairs), half)


@dataclass(frozen=True)
class View:
    """A set the tables report on: a set of the per-image counts (``which``), or a ``half`` of the real check set."""

    which: str
    half: str | None = None
    label: str = ""


def set_label(which: str, runs) -> str:
    """The name of set ``which`` in tables and notes: the validation and test sets named by the data the ``runs``
    (Run objects) were trained on ("валидация (замена)", "тест (замена)"), the real renders as they are."""
    words = data_words(runs)
    return {"val": words.label, "test": words.test_label}.get(which, SETS.get(which, which))


def every_run(seeds: dict[str, Seeds]) -> list[Run]:
    return [r for s in seeds.values() for r in s.runs]


def headline_set(seeds: dict[str, Seeds]) -> str:
    """The stand-in set the headline numbers are on: "test" when every run with a finished seed has counts on
    the test set, else "val" (runs logged before the test set existed: the tables say so)."""
    found = [s for s in seeds.values() if s.n]
    return "test" if found and all(s.counts("test") is not None for s in found) else "val"


def views(seeds: dict[str, Seeds]) -> list[View]:
    """What the tables report on, in order: the headline stand-in set (:func:`headline_set`; the validation set
    labelled as standing in for the test set), then, when the runs have counts on the real check set, its
    tuning half, its test half and all of it (with their sizes)."""
    runs, head = every_run(seeds), headline_set(seeds)
    label = set_label(head, runs) + ("" if head == "test" else f", {NO_TEST}")
    out = [View(head, None, label)]
    check = next((s.overlaps["check"]["pairs"] for s in seeds.values() if "check" in s.overlaps), None)
    if check is not None:
        for half in (*HALVES, None):
            n = len(half_indices(check, half))
            out.append(View("check", half, f"реальные, {HALVES[half]} ({n})" if half else f"реальные, все ({n})"))
    return out


def elapsed_minutes(run: Run) -> np.ndarray:
    """Minutes of training (with validation) at the end of each epoch."""
    return np.cumsum([r["seconds"] for r in run.history]) / 60


def seeds_word(n: int) -> str:
    """«1 сид», «3 сида», «5 сидов»."""
    return plural(n, "сид", "сида", "сидов")


def signed(x: float) -> str:
    """A difference at 3 decimals with its sign; one that rounds to zero is ``0.000`` (never ``-0.000``)."""
    return "0.000" if round(x, 3) == 0 else f"{x:+.3f}"


def interval(d: Difference) -> str:
    """``[low; high]`` of a difference's confidence interval, signed, 3 decimals."""
    return f"[{signed(d.low)}; {signed(d.high)}]"


def load_seeds(paths: Paths, spec: RunSpec) -> Seeds | None:
    """The finished seeds of ``spec`` (None if seed 0 has no finished log). Each seed's per-image counts
    are aligned to seed 0's images by pair name; a set is left out of the counts when a seed lacks it (file
    missing, empty, unreadable) or was evaluated on other images, and every such gap, like an unfinished
    seed, is a note of the result and a :class:`SeedCountsWarning` naming the seed and the file."""
    found, per_seed, notes = [], [], []
    for seed, run in enumerate(spec.ids()):
        log = RunLog(paths.run_dir(run))
        summary = log.summary()
        if summary is None or not summary.finished:
            if seed == 0:
                return None
            _note(notes, run, *_unfinished(paths, spec, seed, log, summary))
            continue
        found.append(Run(spec, log.config(), log.metrics(), summary))
        counts, problem = read_overlaps(log.overlaps_path)
        if problem is not None:
            file = paths.relative(log.overlaps_path)
            _note(
                notes,
                run,
                f"у сида {seed} нет подсчётов по снимкам ({file}: {problem[1]})",
                f"{file} {problem[0]}; the paired intervals of {spec.name} leave its counts out. "
                + _rebuild_advice(paths, spec, seed),
            )
        per_seed.append((seed, run, paths.relative(log.overlaps_path), counts or {}))
    merged = {}
    for which in dict.fromkeys(w for *_, c in per_seed for w in c):  # the sets, in the order the files list them
        rows = _aligned_rows(paths, spec, which, per_seed, notes, set_label(which, found))
        if rows is not None:
            merged[which] = {"pairs": rows[0]["pairs"], "data": rows[0].get("data")}
            for key in PER_IMAGE:  # the per-rock counts only when every seed has them
                if all(key in c for c in rows):
                    merged[which][key] = np.array([c[key] for c in rows], dtype=float)
    return Seeds(spec, found, merged, notes)


PER_IMAGE = ("intersection", "union", "truth", "predicted", "rocks", "found")  # per-image entries in overlaps.json


def read_overlaps(file: Path) -> tuple[dict | None, tuple[str, str] | None]:
    """A seed's ``overlaps.json``: its counts, or None and why not (English, Russian)."""
    counts, kind, why = runlog_read_overlaps(file)
    return (counts, None) if kind is None else (None, (why, OVERLAPS_PROBLEMS[kind]))


def _aligned_rows(
    paths: Paths, spec: RunSpec, which: str, per_seed: list, notes: list[str], label: str
) -> list[dict] | None:
    """Every seed's counts on set ``which`` (named ``label`` in the notes) in seed 0's order of images (matched
    by pair name), or None with a note when a seed has no counts there or was evaluated on other images."""
    rows, first, first_data = [], None, None
    for seed, run, file, counts in per_seed:
        c = counts.get(which)
        if c is None:
            if counts:  # a file without counts at all has its note already
                _note(
                    notes,
                    run,
                    f"у сида {seed} нет подсчётов на наборе «{label}» ({file})",
                    f"{file} has no counts on {which!r}; the paired intervals of {spec.name} on it leave "
                    "the run out. " + _rebuild_advice(paths, spec, seed),
                )
            return None
        pairs, data = [str(p) for p in c["pairs"]], (c.get("data") or {}).get("identity")
        if first is None:
            first, first_data = pairs, data
        elif data != first_data:  # the same pair numbers of another generated test set are other images
            _note(
                notes,
                run,
                f"сид {seed} оценён на другом наборе «{label}» (содержимое {data}, у сида 0 — {first_data}; {file})",
                f"{file} holds counts on another {which!r} set than seed 0 (content {data}, seed 0's {first_data}): "
                "the set is left out. " + _rebuild_advice(paths, spec, seed),
            )
            return None
        elif pairs != first:
            if set(pairs) != set(first):
                common = len(set(pairs) & set(first))
                _note(
                    notes,
                    run,
                    f"сид {seed} оценён на других снимках набора «{label}» ({common} общих из {len(first)} "
                    f"и {len(pairs)}; {file})",
                    f"{file} lists other pairs on {which!r} than seed 0 ({common} in common of {len(first)} and "
                    f"{len(pairs)}): the seeds were evaluated on different images, so the set is left out. "
                    + _rebuild_advice(paths, spec, seed),
                )
                return None
            order = {p: i for i, p in enumerate(pairs)}
            c = {**c, **{k: [c[k][order[p]] for p in first] for k in PER_IMAGE if k in c}}
        rows.append({"pairs": first, **{k: c[k] for k in (*PER_IMAGE, "data") if k in c}})
    return rows


def _unfinished(paths: Paths, spec: RunSpec, seed: int, log: RunLog, summary) -> tuple[str, str]:
    """An extra seed that is not finished: the note and the warning."""
    where = paths.relative(log.dir)
    if summary is None:
        return (
            f"сид {seed} не обучен (нет {where})",
            f"{where} has no finished log: the tables use the finished seeds only. Run the seeds cell of "
            f"{spec.notebook} (segment.train_seeds) to train it.",
        )
    state = f"{summary.status} after epoch {summary.epochs_run} of {summary.epochs_planned}"
    return (
        f"сид {seed} не завершён ({summary.status}, эпох {summary.epochs_run} из {summary.epochs_planned}; {where})",
        f"{where} is not finished ({state}): the tables use the finished seeds only. Run the seeds cell of "
        f"{spec.notebook} again (segment.train_seeds) to resume it.",
    )


def _rebuild_advice(paths: Paths, spec: RunSpec, seed: int) -> str:
    """How a seed's counts are made again: from its weights, which only seed 0 has committed."""
    run = run_table.run_id(spec.name, seed)
    weights = paths.relative(paths.weights(run))
    if seed == 0:
        return (
            f"Run the training cell of {spec.notebook} again: segment.train rebuilds the counts from {weights} "
            f"(restore it with git checkout -- {weights} if it is missing)."
        )
    return (
        f"Run the seeds cell of {spec.notebook} again: segment.train_seeds rebuilds the counts from {weights} "
        f"when that working file is here; without it, delete {paths.relative(paths.run_dir(run))} to retrain "
        f"seed {seed} (the weights of other seeds are never committed)."
    )


def _note(notes: list[str], run: str, note: str, message: str) -> None:
    """Keep ``note`` (Russian, for the tables) and warn with ``message`` (what to do), naming the seed's run."""
    notes.append(note)
    warnings.warn(f"{run}: {message}", SeedCountsWarning, stacklevel=3)


class SeedSet(dict):
    """Run name → :class:`Seeds` of the segmentation runs with seed 0 finished, in the run table's order;
    ``missing`` holds an empty :class:`Seeds` (its note says why) for each other run of the table, and
    indexing such a run gives it, so that a table of it shows the gap instead of a ``KeyError``."""

    def __init__(self, found: dict[str, Seeds], missing: dict[str, Seeds]):
        super().__init__(found)
        self.missing = missing

    def __missing__(self, name: str) -> Seeds:
        if name in self.missing:
            return self.missing[name]
        raise KeyError(f"{name!r} is not a segmentation run of the run table ({', '.join(self) or 'none found'})")


def segmentation_seeds(paths: Paths, names: Sequence[str] | None = None) -> SeedSet:
    """Every segmentation run of the table with at least seed 0 finished (the others in ``.missing``); with
    ``names``, only those runs (a notebook about one model reads, and warns about, no other run's seeds)."""
    found, missing = {}, {}
    for spec in run_table.of_task("segmentation"):
        if names is not None and spec.name not in names:
            continue
        seeds = load_seeds(paths, spec)
        if seeds is not None:
            found[spec.name] = seeds
        else:
            missing[spec.name] = Seeds(spec, [], {}, [_missing(paths, spec)])
    return SeedSet(found, missing)


def _missing(paths: Paths, spec: RunSpec) -> str:
    """Why a run has no finished seed 0 (Russian, for the tables)."""
    log = RunLog(paths.run_dir(spec.name))
    summary = log.summary()
    if summary is None:
        return f"запуска нет ({paths.relative(log.dir)}): выполните {spec.notebook}"
    return (
        f"сид 0 не завершён ({summary.status}, эпох {summary.epochs_run} из {summary.epochs_planned}; "
        f"{paths.relative(log.dir)}): выполните ячейку обучения в {spec.notebook} ещё раз"
    )


def _pm(values: list[float], digits: int = 3) -> str:
    """Mean ± sd over seeds (:func:`tinyseg.words.pm`: never «± 0.000»); the value alone for one seed."""
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "—"
    mean, sd = mean_sd(values)
    return pm(mean, sd if len(values) > 1 else None, digits)


def seed_table(seeds: dict[str, Seeds]) -> pd.DataFrame:
    """Per run: seeds, IoU on every set of :func:`views` (the headline stand-in set, the real check set's
    halves and all of it) as mean ± sd over seeds, each seed's IoU on the headline set, minutes of training;
    a run without a finished seed 0 (given, or missing from a :class:`SeedSet`) is a row saying so, and what
    is left out of a run (a seed's counts, an unfinished seed) is its "примечание"."""
    runs = [*seeds.values(), *getattr(seeds, "missing", {}).values()]
    if not runs:
        return pd.DataFrame()
    shown = views(seeds)
    rows = []
    for s in runs:
        row = {"модель": s.spec.short, "сидов": s.n}
        row.update({f"IoU, {v.label}": _pm(s.iou(v.which, v.half)) for v in shown})
        row[f"IoU по сидам ({shown[0].label})"] = ", ".join(f"{v:.3f}" for v in s.iou(shown[0].which)) or "—"
        row["обучение, мин на сид"] = _pm(s.minutes(), 1)
        if s.notes:
            row[NOTE] = "; ".join(s.notes)
        rows.append(row)
    return _frame(rows, "модель")


def _frame(rows: list[dict], index: str) -> pd.DataFrame:
    """The rows as a table; with notes, the cells a row lacks read "—"."""
    frame = pd.DataFrame(rows).set_index(index)
    return frame.fillna("—") if NOTE in frame else frame


def _aligned(ref: dict, other: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """``other``'s counts (seeds × N) in the order of ``ref``'s images, matched by pair name; None when the
    two were evaluated on different images (other pairs, or another test set of the same pair numbers)."""
    if (ref.get("data") or {}).get("identity") != (other.get("data") or {}).get("identity"):
        return None
    if other["pairs"] == ref["pairs"]:
        return other["intersection"], other["union"]
    if sorted(other["pairs"]) != sorted(ref["pairs"]):
        return None
    order = [{p: i for i, p in enumerate(other["pairs"])}[p] for p in ref["pairs"]]
    return other["intersection"][:, order], other["union"][:, order]


def _other_images(ref: Seeds, s: Seeds, which: str) -> str | None:
    """The note when two runs both have counts on ``which`` but on different images."""
    if ref.counts(which) is None or s.counts(which) is None:
        return None
    if _aligned(ref.overlaps[which], s.overlaps[which]) is not None:
        return None
    return f"{s.spec.short} и {ref.spec.short} оценены на разных снимках набора «{set_label(which, ref.runs + s.runs)}»"


def differences(
    seeds: dict[str, Seeds], which: str, reference_role: str = "plain", half: str | None = None
) -> dict[str, Difference]:
    """Run − the reference run (by role) in whole-set IoU on ``which`` (``half``: of the real check set) with a
    95% interval of the hierarchical bootstrap (seeds, then images; paired by image: :func:`~.stats.iou_difference`);
    each model's IoU is the mean of its seeds' IoUs. The images are matched by pair name; a run evaluated on
    other images than the reference is left out (with a :class:`SeedCountsWarning`; :func:`comparison_notes`
    says so in the tables)."""
    roles = run_table.by_role(seeds)
    ref = seeds.get(roles.get(reference_role, ""))
    if ref is None or ref.counts(which) is None:
        return {}
    at = half_indices(ref.overlaps[which]["pairs"], half)
    out = {}
    for name, s in seeds.items():
        if name == ref.spec.name or s.counts(which) is None:
            continue
        counts = _aligned(ref.overlaps[which], s.overlaps[which])
        if counts is None:
            warnings.warn(
                f"{name} and {ref.spec.name} were evaluated on different images of {which!r} (their overlaps.json "
                "list other pairs or another test set): their difference there is left out",
                SeedCountsWarning,
                stacklevel=2,
            )
            continue
        out[name] = iou_difference(ref.counts(which, half), (counts[0][:, at], counts[1][:, at]))
    return out


def comparison_notes(seeds: dict[str, Seeds], name: str, reference_role: str = "plain") -> list[str]:
    """What is left out of the comparison of run ``name`` with the reference run (by role): the notes of
    both, and the sets on which the two were evaluated on different images."""
    roles = run_table.by_role(seeds)
    ref, s = seeds.get(roles.get(reference_role, "")), seeds[name]
    if ref is None or ref is s:
        return [f"{s.spec.short}: {n}" for n in s.notes]
    notes = [f"{x.spec.short}: {n}" for x in (s, ref) for n in x.notes]
    return notes + [n for which in SETS if (n := _other_images(ref, s, which))]


# the comparisons of the difference table: (reference role, roles compared with it); every run is compared with
# the plain U-Net, the pretrained ones also with the same architecture from random weights (what pretraining adds)
COMPARISONS = (("plain", None), ("control", ("frozen", "finetuned")))


def difference(d: Difference | None) -> str:
    """A difference in a table cell: ``+0.041 [+0.033; +0.048] *`` (the mark only when the interval excludes 0)."""
    return "—" if d is None else f"{signed(d.value)} {interval(d)}" + (" *" if d.excludes_zero else "")


def difference_table(seeds: dict[str, Seeds]) -> pd.DataFrame:
    """Each run minus UNetBase, and each pretrained run minus the random-init control, on every set of
    :func:`views`: the difference of the seed means of IoU and its 95% interval (hierarchical bootstrap over
    seeds and images), marked * only when the interval excludes 0. What is left out (a seed's counts, a
    missing run) is said in the column "примечание" of the row it concerns."""
    missing = getattr(seeds, "missing", {})
    roles = run_table.by_role(seeds)
    if roles.get("plain") is None:
        absent = run_table.by_role(missing).get("plain")
        if absent is None:
            return pd.DataFrame()
        return pd.DataFrame(
            {NOTE: ["; ".join(missing[absent].notes)]}, index=pd.Index([missing[absent].spec.short], name="сравнение")
        )
    shown, rows = views(seeds), {}
    for reference_role, compared in COMPARISONS:
        ref = seeds.get(roles.get(reference_role, ""))
        if ref is None:
            continue
        names = [n for n in seeds if n != ref.spec.name and (compared is None or seeds[n].spec.role in compared)]
        diffs = {v: differences(seeds, v.which, reference_role, v.half) for v in shown}
        for name in names:
            row = {"сравнение": f"{seeds[name].spec.short} − {ref.spec.short}", "сидов": f"{seeds[name].n} и {ref.n}"}
            row.update({f"ΔIoU [95% ДИ], {v.label}": difference(diffs[v].get(name)) for v in shown})
            if notes := comparison_notes(seeds, name, reference_role):
                row[NOTE] = "; ".join(notes)
            rows[row["сравнение"]] = row
        if reference_role == "plain":
            for s in missing.values():
                rows[f"{s.spec.short} − {ref.spec.short}"] = {
                    "сравнение": f"{s.spec.short} − {ref.spec.short}",
                    "сидов": f"0 и {ref.n}",
                    NOTE: "; ".join(s.notes),
                }
    return _frame(list(rows.values()), "сравнение") if rows else pd.DataFrame()


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
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.0))
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
    axes[0].set(xlabel="время обучения, мин (сумма эпох с валидацией)", ylabel="IoU на валидации")
    axes[0].set_title("IoU по времени обучения", fontsize=11)
    axes[1].set(xlabel="эпоха", ylabel="IoU на валидации")
    axes[1].set_title("IoU по эпохам", fontsize=11)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


def summary_table(seeds: dict[str, Seeds], reference_role: str = "plain") -> pd.DataFrame:
    """The report's headline table: per segmentation run, IoU (mean ± sd over seeds) on every set of :func:`views`
    (the stand-in's test set, or its validation set labelled as standing in for it; the real check set's tuning
    half, test half and all of it), and the difference from UNetBase with its 95% interval (hierarchical
    bootstrap over seeds and images) on the headline stand-in set and on the real test half."""
    if not seeds:
        return pd.DataFrame()
    roles = run_table.by_role(seeds)
    reference = seeds[roles[reference_role]].spec.short if reference_role in roles else reference_role
    shown = views(seeds)
    compared = [shown[0], *(v for v in shown if v.which == "check" and v.half == "test")]
    diffs = {v: differences(seeds, v.which, reference_role, v.half) for v in compared}
    ref = seeds.get(roles.get(reference_role, ""))
    rows = []
    for name, s in seeds.items():
        row = {"модель": s.spec.short, "сидов": s.n}
        row.update({f"IoU, {v.label}": _pm(s.iou(v.which, v.half)) for v in shown})
        row.update({f"Δ с {reference}, {v.label} [95% ДИ]": difference(diffs[v].get(name)) for v in compared})
        notes = list(s.notes) + [n for w in SETS if ref is not None and (n := _other_images(ref, s, w))]
        if notes:
            row[NOTE] = "; ".join(notes)
        rows.append(row)
    for s in getattr(seeds, "missing", {}).values():
        rows.append({"модель": s.spec.short, "сидов": 0, NOTE: "; ".join(s.notes)})
    return _frame(rows, "модель")


PARTS = {"tuning": "настройка", "test": "тест", None: "все"}  # the real check set's parts, in the tables' rows


def _part(pairs: list[str], half: str | None) -> str:
    return f"{PARTS[half]} ({len(half_indices(pairs, half))})"


def real_table(seeds: dict[str, Seeds], check=None) -> pd.DataFrame:
    """The models on the real check set, zero-shot, by part (tuning half, test half, all): IoU, Dice and pixel
    accuracy (mean ± sd over seeds, from the per-image counts at 128×128), and, when the check set's data is
    given (``check``: its masks), the trivial predictor «no rock anywhere» (IoU = Dice = 0, pixel accuracy =
    the share of background pixels) beside them. Rows: (модель, часть)."""
    found = {n: s for n, s in seeds.items() if s.counts("check") is not None}
    if not found:
        return pd.DataFrame()
    pairs = next(iter(found.values())).overlaps["check"]["pairs"]
    pixels = moon.SIZE * moon.SIZE
    rows = []
    for s in found.values():
        for half in PARTS:
            inter, union = s.counts("check", half)
            i, u, n = inter.sum(1), union.sum(1), inter.shape[1]
            rows.append(
                {
                    "модель": s.spec.short,
                    "часть": _part(s.overlaps["check"]["pairs"], half),
                    "сидов": s.n,
                    "IoU": _pm(list(i / np.maximum(u, 1))),
                    "Dice": _pm(list(2 * i / np.maximum(i + u, 1))),
                    "pixel accuracy": _pm(list(1 - (u - i) / (n * pixels))),
                }
            )
    rock = dict(zip(check.numbers, check.masks.flatten(1).sum(1).tolist())) if check is not None else {}
    if rock and all(p in rock for p in pairs):
        truth = np.array([rock[p] for p in pairs], dtype=float)
        for half in PARTS:
            part = truth[half_indices(pairs, half)]
            rows.append(
                {
                    "модель": TRIVIAL,
                    "часть": _part(pairs, half),
                    "сидов": "—",
                    "IoU": "0",
                    "Dice": "0",
                    "pixel accuracy": f"{1 - part.sum() / (len(part) * check.masks[0].numel()):.3f}",
                }
            )
    return pd.DataFrame(rows).set_index(["модель", "часть"])


def recall_table(seeds: dict[str, Seeds], real=None) -> pd.DataFrame:
    """Recall by rock size on the real check set by part (tuning half, test half, all): the share of the marked
    rocks with at least half of their pixels predicted, per size class at 128×128 and for all rocks of ≥ 10 px,
    with the 95% interval of the hierarchical bootstrap (seeds, then images). From the per-rock counts of every
    seed in overlaps.json; a run whose logs lack them is read from its seed-0 weights evaluated now (``real``:
    :class:`~tinyseg.report.logs.CheckEvaluation`, its ``rock_counts``), which the column "источник" says.
    Rows: (модель, часть)."""
    rows = []
    for s in seeds.values():
        source = _rock_source(s, real)
        if source is None:
            continue
        pairs, rocks, found, where = source
        for half in PARTS:
            at = half_indices(pairs, half)
            r, f = rocks[:, at], found[:, at]
            row = {"модель": s.spec.short, "часть": _part(pairs, half)}
            for k, (lo, hi) in enumerate(ROCK_SIZES):
                row[f"найдено камней {size_label(lo, hi)}"] = _interval_cell(ratio_interval(f[..., k], r[..., k]))
            row["найдено камней ≥ 10 px"] = _interval_cell(ratio_interval(f[..., 1:].sum(-1), r[..., 1:].sum(-1)))
            row["камней по классам"] = " / ".join(str(int(x)) for x in r[0].sum(0))
            row["источник"] = where
            rows.append(row)
    return pd.DataFrame(rows).set_index(["модель", "часть"]) if rows else pd.DataFrame()


LOGS = "журналы"  # recall_table's "источник" of per-rock counts read from the runs' logs


def _rock_source(s: Seeds, real) -> tuple[list[str], np.ndarray, np.ndarray, str] | None:
    """(pairs, rocks, found (seeds × images × classes), where from) of a run's per-rock counts on the check set."""
    if (counts := s.rocks()) is not None:
        return s.overlaps["check"]["pairs"], *counts, f"{LOGS}, {seeds_word(s.n)}"
    if real is None or s.spec.name not in real.evaluations or "rock_counts" not in real.evaluations[s.spec.name]:
        return None
    rocks, found = real.evaluations[s.spec.name]["rock_counts"]
    return list(real.data.numbers), rocks[None], found[None], "веса сида 0"


def _interval_cell(x: Interval) -> str:
    return "—" if np.isnan(x.value) else f"{x.value:.2f} [{x.low:.2f}; {x.high:.2f}]"
