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


def paired_iou_difference(counts_a: tuple[np.ndarray, np.ndarray], counts_b: tuple[np.ndarray, np.ndarray],
                          confidence: float = 0.95, resamples: int = 10_000, seed: int = 0) -> Difference:
    """Whole-set IoU of model b minus model a on the same images, with a paired percentile bootstrap CI.

    ``counts_*`` are per-image (intersection, union) arrays (:func:`tinyseg.segment.overlap_counts`).
    """
    inter_a, union_a = (np.asarray(x, dtype=float) for x in counts_a)
    inter_b, union_b = (np.asarray(x, dtype=float) for x in counts_b)
    if not len(inter_a) == len(union_a) == len(inter_b) == len(union_b):
        raise ValueError("the two models must be evaluated on the same images (per-image counts of equal length)")

    def statistic(ia, ua, ib, ub, axis=-1):
        return ib.sum(axis) / np.maximum(ub.sum(axis), 1) - ia.sum(axis) / np.maximum(ua.sum(axis), 1)

    value = float(statistic(inter_a, union_a, inter_b, union_b))
    result = stats.bootstrap((inter_a, union_a, inter_b, union_b), statistic, paired=True, vectorized=True,
                             confidence_level=confidence, n_resamples=resamples, method="percentile",
                             rng=np.random.default_rng(seed))
    ci = result.confidence_interval
    return Difference(value, float(ci.low), float(ci.high), confidence, len(inter_a))
