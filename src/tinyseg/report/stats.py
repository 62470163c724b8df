"""Statistics for comparing runs: mean ± sd over seeds and a hierarchical bootstrap over seeds and images.

Every quantity here is a ratio of sums over the images of a set (the whole-set IoU: intersections over
unions; the recall of a rock size class: rocks found over rocks), computed per seed and averaged over the
seeds, as in every table of the project. Its uncertainty has two sources, and the bootstrap resamples both:

* **seeds** (training noise): each model's seeds are drawn with replacement (independently per model: seed k
  of one model has nothing to do with seed k of another);
* **images** (which images happen to be in the set): the images are drawn with replacement, the same draw
  for every seed of a model and, when two models are compared on the same images, for both models (paired
  by image). Seeds and images are crossed (every seed is evaluated on every image), so both are resampled
  at once in each replicate.

The interval is the percentile interval of the replicates. A model with one seed contributes no seed
variance (it cannot be measured): the tables say how many seeds each model has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000


@dataclass(frozen=True)
class Interval:
    """A ratio (whole-set IoU, a recall) averaged over seeds, with its bootstrap confidence interval."""

    value: float
    low: float
    high: float
    confidence: float
    images: int
    seeds: int


@dataclass(frozen=True)
class Difference:
    """``b − a`` in a ratio (whole-set IoU) with its bootstrap confidence interval."""

    value: float
    low: float
    high: float
    confidence: float
    images: int
    seeds: tuple[int, int] = (1, 1)  # of a and of b
    paired: bool = True  # the same images for both (one draw of images per replicate)

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely above or below zero at the precision the tables show (3 decimals: a bound
        shown as ±0.000 touches zero): the only case a table marks as significant."""
        return round(self.low, 3) > 0 or round(self.high, 3) < 0


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _rows(x) -> np.ndarray:
    """Counts as seeds × images (one image row for a single seed)."""
    return np.atleast_2d(np.asarray(x, dtype=float))


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    """The mean over seeds of each seed's ratio of sums over the images."""
    return float(np.mean(num.sum(-1) / np.maximum(den.sum(-1), 1)))


def _image_draws(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``n`` images is drawn in each replicate (resamples × n)."""
    return rng.multinomial(n, np.full(n, 1 / n), size=resamples).astype(float)


def _replicates(num: np.ndarray, den: np.ndarray, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ratio in each replicate: the images weighted by ``images`` (resamples × N), the seeds drawn with
    replacement, the seeds' ratios averaged."""
    per_seed = (num @ images.T) / np.maximum(den @ images.T, 1)  # seeds × resamples
    drawn = rng.integers(0, len(num), size=(len(num), images.shape[0]))  # seeds drawn per replicate
    return np.take_along_axis(per_seed, drawn, axis=0).mean(0)


def _bounds(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def ratio_interval(num, den, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """The ratio Σ num / Σ den over the images, averaged over the seeds (rows), with its hierarchical
    bootstrap interval (seeds, then images). ``num``/``den``: one row per image (N) or seeds × N. NaN when
    the denominator is zero everywhere (no rock of a size class, say)."""
    num, den = _rows(num), _rows(den)
    if num.shape != den.shape:
        raise ValueError("numerator and denominator counts must have the same shape")
    if den.sum() == 0:
        return Interval(float("nan"), float("nan"), float("nan"), confidence, num.shape[-1], len(num))
    rng = np.random.default_rng(seed)
    boot = _replicates(num, den, _image_draws(num.shape[-1], resamples, rng), rng)
    return Interval(_ratio(num, den), *_bounds(boot, confidence), confidence, num.shape[-1], len(num))


def iou_difference(
    counts_a: tuple[np.ndarray, np.ndarray],
    counts_b: tuple[np.ndarray, np.ndarray],
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
    paired: bool = True,
) -> Difference:
    """Whole-set IoU of model b minus model a, with a hierarchical bootstrap interval.

    ``counts_*`` are per-image (intersection, union) arrays (:func:`tinyseg.metrics.overlap_counts`): one row
    per image (N), or one row per seed (seeds × N). A model's IoU is the mean of its seeds' whole-set IoUs,
    so the value equals the difference of the seed means in the tables. Each replicate draws every model's
    seeds with replacement and the images with replacement: with ``paired`` (the two models evaluated on the
    same images, in the same order) one draw of images for both, else one per model.
    """
    inter_a, union_a, inter_b, union_b = (_rows(x) for x in (*counts_a, *counts_b))
    if inter_a.shape != union_a.shape or inter_b.shape != union_b.shape:
        raise ValueError("intersection and union counts of a model must have the same shape")
    if paired and inter_a.shape[-1] != inter_b.shape[-1]:
        raise ValueError(
            "paired: the two models must be evaluated on the same images (per-image counts of equal length)"
        )
    rng = np.random.default_rng(seed)
    draws_a = _image_draws(inter_a.shape[-1], resamples, rng)
    draws_b = draws_a if paired else _image_draws(inter_b.shape[-1], resamples, rng)
    boot = _replicates(inter_b, union_b, draws_b, rng) - _replicates(inter_a, union_a, draws_a, rng)
    return Difference(
        _ratio(inter_b, union_b) - _ratio(inter_a, union_a),
        *_bounds(boot, confidence),
        confidence,
        inter_a.shape[-1],
        (len(inter_a), len(inter_b)),
        paired,
    )
