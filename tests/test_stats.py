"""The statistics of the part-3 comparison: mean ± sd and the paired bootstrap of the IoU difference."""

import numpy as np
import pytest
import torch

from tinyseg.metrics import overlap_counts, per_image_iou
from tinyseg.report.stats import iou_difference, mean_sd


def test_mean_sd_uses_the_sample_standard_deviation():
    assert mean_sd([0.5, 0.6, 0.7]) == pytest.approx((0.6, 0.1))
    assert mean_sd([0.42]) == (0.42, 0.0)


def test_overlap_counts_sum_to_the_whole_set_iou():
    g = torch.Generator().manual_seed(0)
    pred, truth = torch.rand(6, 1, 16, 16, generator=g) > 0.6, torch.rand(6, 1, 16, 16, generator=g) > 0.7
    inter, union = overlap_counts(pred, truth)
    assert inter.sum() / union.sum() == pytest.approx(float((pred & truth).sum() / (pred | truth).sum()))
    assert per_image_iou(pred, truth) == pytest.approx(inter / union)


def test_paired_bootstrap_separates_a_real_difference_from_none():
    rng = np.random.default_rng(1)
    union = rng.integers(50, 200, size=80).astype(float)
    inter_a = union * rng.uniform(0.4, 0.6, size=80)
    same = iou_difference((inter_a, union), (inter_a, union))
    assert same.value == 0 and same.low == pytest.approx(0) and same.high == pytest.approx(0)
    better = iou_difference((inter_a, union), (inter_a * 1.1, union))  # +10% overlap on every image
    expected = (inter_a * 1.1).sum() / union.sum() - inter_a.sum() / union.sum()
    assert better.value == pytest.approx(expected) and better.excludes_zero and better.low > 0
    noisy = iou_difference((inter_a, union), (union * rng.uniform(0.4, 0.6, size=80), union))
    assert noisy.low < noisy.value < noisy.high and noisy.images == 80
    with pytest.raises(ValueError, match="same images"):
        iou_difference((inter_a, union), (inter_a[:5], union[:5]))


def test_seed_rows_give_the_difference_of_seed_means_for_unequal_seed_counts():
    rng = np.random.default_rng(1)
    inter_a = rng.integers(0, 10, (3, 40)).astype(float)
    inter_b = rng.integers(0, 10, (2, 40)).astype(float)
    a, b = (inter_a, inter_a + 5), (inter_b, inter_b + 5)
    d = iou_difference(a, b, resamples=2000)
    means = [np.mean(i.sum(1) / u.sum(1)) for i, u in (a, b)]
    assert d.value == pytest.approx(means[1] - means[0])
    assert d.low <= d.value <= d.high and d.images == 40
    one = iou_difference((inter_a[0], inter_a[0] + 5), (inter_b[0], inter_b[0] + 5), resamples=2000)
    assert one == iou_difference((inter_a[:1], inter_a[:1] + 5), (inter_b[:1], inter_b[:1] + 5), resamples=2000)
