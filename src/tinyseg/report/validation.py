"""The validation set as the report shows it, holding only the pairs it shows or re-runs the weights on.

Every segmentation run logs, per validation image, the rock pixels of the intersection and the union of its best
weights' prediction (threshold 0.5) with the mask, of the mask (``truth``) and of the prediction (``predicted``),
and the pixels of an image (``pixels``): ``runs/<run>/overlaps.json``, :func:`tinyseg.segment.record_overlaps`.
From these counts alone the report has the whole set's IoU, Dice, pixel accuracy and share of background
(:func:`metrics_from_counts`) and chooses the images of the mask figure by their rock share
(:func:`~.figures.pick_by_share`). As images it needs only a fixed, model-independent part of the validation
pairs to re-run the weights on (:data:`RECHECK_PAIRS`, compared with the logged counts of the same pairs:
:func:`recheck_table`) and the pairs the mask figure shows: on a fresh clone, where the generated stand-in is not
on disk, only they are rendered (:func:`validation_sample`). Logs written before the counts had ``truth`` fall
back to the whole validation set (:func:`~.logs.validation_set`), as the report did before, and say so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .. import runs as run_table
from ..data import moon
from ..data.moon import MoonData
from ..device import Runtime
from ..inference import predict
from ..metrics import overlap_counts, rock_mask
from ..paths import Paths
from ..runlog import RunLog, read_overlaps
from ..words import plural
from .figures import pick_by_share, pick_examples
from .logs import Run, StandInPairs, recorded_validation, validation_set
from .seeds import signed

RECHECK_PAIRS = 32  # the weights are re-run on the first pairs of split.json's validation list (all models alike)
SHOWN = 4  # images of the mask figure
SHARE_COUNTS = ("truth", "predicted", "pixels")  # what the counts need besides intersection and union


def metrics_from_counts(counts: dict, at: Sequence[int] | None = None) -> dict[str, float | None]:
    """Whole-set metrics of a set's per-image counts (a set of ``overlaps.json``, or :func:`image_counts`), over
    all its images or those at positions ``at``: IoU = ΣI/ΣU, Dice = 2ΣI/(ΣP+ΣT), pixel accuracy =
    1 − (ΣP+ΣT−2ΣI)/(N·pixels) and the share of background = 1 − ΣT/(N·pixels) (the pixel accuracy of «no rock
    anywhere»), the keys of :func:`~tinyseg.metrics.evaluate_masks`; an empty sum gives 0 as there. Each is None
    when the counts lack what it needs (logs written before ``truth``, ``predicted`` and ``pixels``)."""

    def total(key: str) -> float:
        values = np.asarray(counts[key], dtype=float)
        return float((values if at is None else values[list(at)]).sum())

    n = len(counts["intersection"]) if at is None else len(at)
    inter, union = total("intersection"), total("union")
    has_both = "truth" in counts and "predicted" in counts
    area = n * counts["pixels"] if counts.get("pixels") else 0
    truth = total("truth") if "truth" in counts else None
    both = truth + total("predicted") if has_both else None
    return {
        "iou": inter / union if union else 0.0,
        "dice": (2 * inter / both if both else 0.0) if has_both else None,
        "pixel_acc": 1 - (both - 2 * inter) / area if has_both and area else None,
        "background_share": 1 - truth / area if truth is not None and area else None,
    }


def image_counts(pred: torch.Tensor, masks: torch.Tensor) -> dict:
    """Per-image counts of boolean predictions against masks (N×1×H×W), in the form ``overlaps.json`` logs them:
    ``intersection``, ``union``, ``truth``, ``predicted`` and ``pixels``."""
    inter, union = overlap_counts(pred, masks)
    return {
        "intersection": inter.astype(int).tolist(),
        "union": union.astype(int).tolist(),
        "truth": masks.bool().sum(dim=(1, 2, 3)).tolist(),
        "predicted": pred.bool().sum(dim=(1, 2, 3)).tolist(),
        "pixels": int(masks[0].numel()) if len(masks) else 0,
    }


def logged_validation_counts(paths: Paths, names: Sequence[str] | None = None) -> dict[str, dict]:
    """Each segmentation run's (seed 0, or ``names``) logged counts on the validation set, for those that have a
    readable ``overlaps.json`` with a "val" set."""
    names = names if names is not None else [s.name for s in run_table.of_task("segmentation")]
    found = {}
    for name in names:
        counts, _, _ = read_overlaps(RunLog(paths.run_dir(name)).overlaps_path)
        if counts and isinstance(counts.get("val"), dict):
            found[name] = counts["val"]
    return found


def has_share_counts(counts: dict) -> bool:
    """Whether a set's counts hold the rock pixels of every mask and prediction and the image's pixels."""
    n = len(counts["pairs"])
    return (
        all(k in counts for k in SHARE_COUNTS)
        and len(counts["truth"]) == len(counts["predicted"]) == n
        and isinstance(counts["pixels"], int)
        and counts["pixels"] > 0
    )


def _select(counts: dict, numbers: Sequence[str]) -> dict | None:
    """The per-image counts of pairs ``numbers`` (in that order), or None when the counts lack one of them."""
    at = {str(x): i for i, x in enumerate(counts["pairs"])}
    if any(x not in at for x in numbers):
        return None
    index = [at[x] for x in numbers]
    per_image = ("intersection", "union", "truth", "predicted")
    return {
        "pairs": list(numbers),
        **{k: [counts[k][i] for i in index] for k in per_image if k in counts},
        **({"pixels": counts["pixels"]} if "pixels" in counts else {}),
    }


@dataclass
class ValidationSample:
    """The validation pairs the report holds in memory and what it does with them: ``images``/``masks`` of the
    pairs ``numbers``; ``recheck``: positions of the pairs the weights are re-run on; ``shown``: positions of the
    mask figure's images; ``logged``: each run's logged validation counts (seed 0); ``background_share``: of the
    whole validation set. ``data`` is what the figure of real against generated scenes draws from (the whole
    set, or :class:`~.logs.StandInPairs` standing for it); ``from_logs``: the share and the picks came from the
    logged counts (else from the masks of the whole set, loaded as before)."""

    data: MoonData
    numbers: list[str]
    images: torch.Tensor
    masks: torch.Tensor
    recheck: list[int]
    shown: list[int]
    background_share: float | None
    pairs: int  # validation pairs in all
    from_logs: bool
    note: str
    logged: dict[str, dict] = field(default_factory=dict)

    def predict(self, models: dict[str, torch.nn.Module], runtime: Runtime) -> dict[str, torch.Tensor]:
        """Every model's rock probabilities on the pairs in memory (as at validation)."""
        return {name: predict(model, self.images, runtime, activation=torch.sigmoid) for name, model in models.items()}


def validation_sample(paths: Paths, profile: str, recheck: int = RECHECK_PAIRS, shown: int = SHOWN) -> ValidationSample:
    """The validation set of the segmentation runs as the report uses it (see the module's docstring): with logged
    counts that hold ``truth`` and ``pixels``, only the first ``recheck`` pairs of ``split.json``'s validation list
    and the ``shown`` pairs picked by rock share are loaded (rendered, on a fresh clone: nothing else is); without
    them the whole validation set is, as before (:func:`~.logs.validation_set`), which one printed line says."""
    record, split_file = recorded_validation(paths)
    logged = logged_validation_counts(paths)
    split = moon.Split.read(split_file) if record is not None and split_file is not None else None
    counts = next(
        (c for c in logged.values() if split and has_share_counts(c) and set(map(str, c["pairs"])) == set(split.val)),
        None,
    )
    if counts is None:
        if split is None or not logged:
            why = "журналов сегментации с подсчётами по снимкам нет"
        elif any(has_share_counts(c) for c in logged.values()):
            why = f"подсчёты в журналах относятся к другим снимкам, чем валидация {paths.relative(split_file)}"
        else:
            why = "в журналах запусков нет пикселей камня по снимкам валидации (записаны до их учёта)"
        return _whole_set(paths, profile, shown, logged, why)
    val = list(split.val)
    truth = _select(counts, val)
    picks = [val[i] for i in pick_by_share(np.array(truth["truth"]) / counts["pixels"], shown)]
    needed = list(dict.fromkeys(val[:recheck] + picks))
    if moon.recorded_stand_in(paths, record) is not None:
        pairs = moon.stand_in_pairs(paths, record, needed)  # reads the folder when it is there, else renders these
        population = sorted(split.train + split.val, key=lambda x: (int(x), x))
        data = StandInPairs(
            pairs.images, pairs.masks, pairs.numbers, pairs.source, pairs.where, population, record, paths
        )
    else:  # real data: where the logs say, read whole (nothing to render)
        pairs = data = moon.load(moon.locate_recorded(paths, record), paths)
    at = {x: i for i, x in enumerate(pairs.numbers)}
    if missing := [x for x in needed if x not in at]:
        raise moon.MoonDataError(
            f"the validation pairs {missing[:10]} of {paths.relative(split_file)} are not in {pairs.where}"
        )
    index = torch.tensor([at[x] for x in needed], dtype=torch.long)
    images, masks = pairs.images[index], pairs.masks[index]
    now = masks.bool().sum(dim=(1, 2, 3)).tolist()
    expected = _select(counts, needed)["truth"]
    if differ := [x for x, a, b in zip(needed, now, expected) if a != b]:
        warnings.warn(
            f"validation pairs {differ[:10]} of {pairs.where} have other masks than the runs logged (rock pixels "
            "differ from overlaps.json's 'truth'): the data are not those the runs were validated on",
            stacklevel=2,
        )
    note = (
        f"{pairs.where}; {len(needed)} of the {len(val)} validation pairs of {paths.relative(split_file)} loaded: "
        f"{len(val[:recheck])} to re-run the weights on, {len(set(picks))} shown; the rest read from the logged counts"
    )
    return ValidationSample(
        data,
        needed,
        images,
        masks,
        list(range(len(val[:recheck]))),
        [needed.index(x) for x in picks],
        metrics_from_counts(counts)["background_share"],
        len(val),
        True,
        note,
        logged,
    )


def _whole_set(paths: Paths, profile: str, shown: int, logged: dict[str, dict], why: str) -> ValidationSample:
    """The fallback for logs without the rock pixels per image (``why``, Russian): the whole validation set, as
    before, said in one printed line."""
    data, val_idx, note = validation_set(paths, profile)
    images, masks = data.images[val_idx], data.masks[val_idx]
    n = len(val_idx)
    print(
        f"{why}: как раньше, вся валидация ({plural(n, 'пара', 'пары', 'пар')}) загружена целиком, веса "
        "проверяются на всех её снимках"
    )
    return ValidationSample(
        data,
        [data.numbers[i] for i in val_idx.tolist()],
        images,
        masks,
        list(range(n)),
        pick_examples(masks, n=shown),
        1 - masks.float().mean().item() if n else None,
        n,
        False,
        note,
        logged,
    )


def recheck_table(runs: dict[str, Run], sample: ValidationSample, probs: dict[str, torch.Tensor]) -> pd.DataFrame:
    """The best weights of ``weights/`` against their logs: each model's IoU on the recheck pairs of ``sample``
    recomputed now from ``probs`` (:meth:`ValidationSample.predict`) and from the per-image counts its run logged
    for the same pairs, their difference (zero when the checkpoints are the ones the logs describe, up to a few
    pixels bf16 may flip) and on how many of the pairs the counts differ; beside them the whole validation set's
    IoU logged at the best epoch. Formatted for reading (Russian headers, 3 decimals, «—» where a log lacks it)."""
    n = len(sample.recheck)
    numbers = [sample.numbers[i] for i in sample.recheck]
    on = f"IoU по {plural(n, 'снимку', 'снимкам', 'снимкам')}"
    rows = []
    for name, p in probs.items():
        now = image_counts(rock_mask(p[sample.recheck]), sample.masks[sample.recheck])
        logged = _select(sample.logged[name], numbers) if name in sample.logged else None
        iou_now = metrics_from_counts(now)["iou"]
        iou_logged = metrics_from_counts(logged)["iou"] if logged is not None else None
        run = runs.get(name)
        best = run.best.get("val_iou") if run is not None else None
        differ = (
            sum(
                (a, b) != (c, d)
                for a, b, c, d in zip(now["intersection"], now["union"], logged["intersection"], logged["union"])
            )
            if logged is not None
            else None
        )
        rows.append(
            {
                "модель": run.spec.short if run is not None else name,
                "IoU всей валидации (журнал, лучшая эпоха)": "—" if best is None else f"{best:.3f}",
                f"{on}: журнал": "—" if iou_logged is None else f"{iou_logged:.3f}",
                f"{on}: веса сейчас": f"{iou_now:.3f}",
                "разница": "—" if iou_logged is None else signed(iou_now - iou_logged),
                "снимков с расхождением": "—" if differ is None else f"{differ} из {n}",
            }
        )
    return pd.DataFrame(rows).set_index("модель")
