"""The speed benchmark's arithmetic: the minutes-per-epoch estimate rests on training throughputs only."""

import pytest

from tinyseg import bench

TINY = '{"num_classes": 4, "stem": [4, 4], "widths": [4, 4, 4, 4], "depths": [1, 1, 1, 1]}'


def test_epoch_estimate_adds_the_augmentation_time():
    minutes, images_per_s = bench.epoch_estimate({"fp32": 100.0, "bf16@64": 400.0}, augment_images_per_s=400.0)
    assert images_per_s == pytest.approx(200.0)  # 1/400 + 1/400 s per image
    assert minutes == pytest.approx(bench.TRAIN_IMAGES / 200.0 / 60)


def test_the_gemm_figure_never_enters_the_epoch_estimate(monkeypatch, capsys):
    """A GEMM at 5,000 GFLOP/s is not 5,000 images/s: the estimate uses the measured images/s alone."""
    monkeypatch.setattr(bench, "train_throughput", lambda model, runtime, batch, steps, size=128: float(size))
    monkeypatch.setattr(bench, "gemm_gflops", lambda runtime, n=2048: 5000.0)
    monkeypatch.setattr(bench, "train_flops_per_image", lambda model, size=128: 1e9)
    monkeypatch.setattr(bench, "augment_throughput", lambda runtime, batch, steps: 1.0)
    results = bench.main(["--batch", "8", "--steps", "1", "--model", TINY])
    assert results["gemm_gflops"] == 5000.0
    expected, _ = bench.epoch_estimate({"throughput": 128.0}, augment_images_per_s=8.0)  # best: 128 images/s
    assert results["epoch_minutes"] == pytest.approx(expected)
    assert f"about {expected:.1f} min per Tiny ImageNet epoch" in capsys.readouterr().out
