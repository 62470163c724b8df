"""Statistics for comparing runs: mean ± sd over seeds and a paired bootstrap over images.

The IoU compared is the whole-set IoU (intersection and union summed over the images), as in every
table of the project. The paired bootstrap resamples *images* (the same resample for both models), so
the interval says how much the difference depends on which images happen to be in the set; the
spread over seeds (training noise) is shown separately as mean ± sd.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Difference:
    """``b − a`` in whole-set IoU with its bootstrap confidence interval."""

    value: float
    low: float
    high: float
    confidence: float
    images: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def paired_iou_difference(
    counts_a: tuple[np.ndarray, np.ndarray],
    counts_b: tuple[np.ndarray, np.ndarray],
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Difference:
    """Whole-set IoU of model b minus model a on the same images, with a paired percentile bootstrap CI.

    ``counts_*`` are per-image (intersection, union) arrays (:func:`tinyseg.metrics.overlap_counts`): one
    row per image (N), or one row per seed (seeds × N). With several seeds a model's IoU is the mean of
    its seeds' whole-set IoUs, so the value equals the difference of the seed means in the tables; each
    bootstrap resample draws the same images for every seed of both models.
    """
    inter_a, union_a, inter_b, union_b = (np.atleast_2d(np.asarray(x, dtype=float)) for x in (*counts_a, *counts_b))
    if inter_a.shape != union_a.shape or inter_b.shape != union_b.shape:
        raise ValueError("intersection and union counts of a model must have the same shape")
    if inter_a.shape[-1] != inter_b.shape[-1]:
        raise ValueError("the two models must be evaluated on the same images (per-image counts of equal length)")

    def iou(i, u):  # whole-set IoU per seed (and per resample), averaged over the seeds (axis 0)
        return (i.sum(-1) / np.maximum(u.sum(-1), 1)).mean(0)

    def statistic(images, axis=-1):
        # images: indices (N,) or resamples of them (B, N); every seed of both models sees the same images
        return iou(inter_b[..., images], union_b[..., images]) - iou(inter_a[..., images], union_a[..., images])

    value = float(statistic(np.arange(inter_a.shape[-1])))
    result = stats.bootstrap(
        (np.arange(inter_a.shape[-1]),),
        statistic,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Difference(value, float(ci.low), float(ci.high), confidence, inter_a.shape[-1])
