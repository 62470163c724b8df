"""The report on the evidence protocol (docs/protocol.md): the stand-in's test set when every run has it (else the
validation set, said), the real check set by its halves, hierarchical bootstrap intervals over seeds and images,
the trivial predictor and recall by rock size on real renders, which half any choice looked at."""

import numpy as np
import pytest
import torch
from run_logs import CLS, PLAIN, TUNED, write_finished_run

from tinyseg import report
from tinyseg import runs as run_table
from tinyseg.data import moon
from tinyseg.report import seeds as seed_report
from tinyseg.report.logs import CheckEvaluation
from tinyseg.report.stats import iou_difference, ratio_interval
from tinyseg.runlog import OVERLAPS, DataRecord, write_json
from tinyseg.runs import RunSpec

CONTROL = RunSpec(
    "control",
    "A backbone U-Net from random weights",
    "Control",
    "tab:blue",
    "03_unet_backbone.ipynb",
    "segmentation",
    "UNetBackbone",
    encoder_from="cls",
)
VAL, TEST = ["1", "2", "3", "4"], ["0000", "0001", "0002"]
CHECK = ["0300", "0036", "0213", "0479"]  # number order 0036 0213 0300 0479: tuning = 0036, 0300; test = 0213, 0479
TEST_SET = {"kind": "generated", "location": "data/moon_synth/seed1-n3-v3", "pairs": 3, "identity": "t" * 16}


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setattr(run_table, "RUNS", {s.name: s for s in (CLS, PLAIN, TUNED, CONTROL)})


def write(paths, run, k, test=True, rocks=True, version=3):
    """A finished seed with counts on the validation set, the test set and the check set (k shifts them)."""
    record = DataRecord(moon.NAME, "generated", f"data/moon_synth/seed0-n8-v{version}", 4, 4, "x")
    write_finished_run(paths, run, [{"epoch": 1, "seconds": 60.0, "val_iou": 0.5}], data=record)
    counts = {
        "val": {"pairs": VAL, "intersection": [4 + k, 5, 3 + k, 6], "union": [10, 10, 10, 10]},
        "check": {"pairs": CHECK, "intersection": [1, 2 + k, k, 3], "union": [5, 6, 4, 7]},
    }
    if test:
        counts["test"] = {"pairs": TEST, "intersection": [2 + k, 3, 4], "union": [8, 8, 8], "data": TEST_SET}
    if rocks:
        counts["check"]["rocks"] = [[2, 1, 0, 0], [0, 2, 1, 0], [3, 0, 0, 1], [0, 1, 1, 0]]
        counts["check"]["found"] = [[1, 1, 0, 0], [0, k % 3, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0]]
    write_json(paths.run_dir(run) / OVERLAPS, counts)


def all_runs(paths, **kwargs):
    for k, run in enumerate(["plain", "plain-seed1", "tuned", "tuned-seed1", "control"]):
        write(paths, run, k, **kwargs)
    return seed_report.segmentation_seeds(paths)


def test_the_headline_is_the_test_set_and_the_real_check_set_is_shown_in_halves(tmp_paths, table):
    seeds = all_runs(tmp_paths)
    assert seed_report.headline_set(seeds) == "test"
    labels = [v.label for v in seed_report.views(seeds)]
    assert labels == ["тест (замена)", "реальные, настройка (2)", "реальные, тест (2)", "реальные, все (4)"]
    tuning = seeds["plain"].counts("check", "tuning")
    assert tuning[0].tolist() == [[1, 2], [1, 3]]  # pairs 0300 and 0036 (the even positions in number order)
    d = seed_report.differences(seeds, "check", half="test")["tuned"]
    assert d == iou_difference(seeds["plain"].counts("check", "test"), seeds["tuned"].counts("check", "test"))
    summary = report.summary_table(seeds)
    assert list(summary.columns) == [
        "сидов",
        "IoU, тест (замена)",
        "IoU, реальные, настройка (2)",
        "IoU, реальные, тест (2)",
        "IoU, реальные, все (4)",
        "Δ с Plain, тест (замена) [95% ДИ]",
        "Δ с Plain, реальные, тест (2) [95% ДИ]",
    ]
    test = seed_report.differences(seeds, "test")["tuned"]
    assert summary.loc["Tuned", "Δ с Plain, тест (замена) [95% ДИ]"] == seed_report.difference(test)
    differences = report.difference_table(seeds)
    assert list(differences.index) == ["Tuned − Plain", "Control − Plain", "Tuned − Control"]  # and vs the control
    note = report.protocol_note(seeds)
    assert "Главные числа — на отдельно сгенерированном тестовом наборе замены** (`data/moon_synth/seed1-n3-v3`" in note
    assert "версии 3 выбран пробами только на половине настройки" in note
    text = report.headline({}, seeds) + report.part3_conclusions(seeds)
    assert "на тестовой половине реальных рендеров (2 снимка)" in text and "не отличим" not in text
    # the data records predate the test set; the counts name it (completed from the weights): the data table says it
    data = report.data_table(report.load_runs(tmp_paths), tmp_paths)
    assert data.loc["тестовый набор", "где (относительно репозитория)"] == TEST_SET["location"]


def test_runs_without_test_counts_are_reported_on_validation_labelled_as_such(tmp_paths, table):
    seeds = all_runs(tmp_paths, test=False, version=2)
    assert seed_report.headline_set(seeds) == "val"
    assert seed_report.views(seeds)[0].label == "валидация (замена), теста нет"
    assert "IoU, валидация (замена), теста нет" in report.seed_table(seeds)
    note = report.protocol_note(seeds)
    assert "**Тестового набора в журналах нет** (Plain, Tuned, Control" in note
    assert "версии 2" in note and "видел обе половины" in note
    assert "а валидации сгенерированной замены (теста в журналах нет)" in report.headline({}, seeds)
    assert "не независима" in report.headline({}, seeds)
    # one run with test counts is not enough: the headline stays on validation for all
    write(tmp_paths, "plain", 0)
    write(tmp_paths, "plain-seed1", 1)
    assert seed_report.headline_set(seed_report.segmentation_seeds(tmp_paths)) == "val"


def test_counts_on_another_test_set_are_not_compared(tmp_paths, table):
    all_runs(tmp_paths)
    other = dict(TEST_SET, identity="o" * 16)
    counts = {
        "val": {"pairs": VAL, "intersection": [1, 1, 1, 1], "union": [10, 10, 10, 10]},
        "test": {"pairs": TEST, "intersection": [1, 1, 1], "union": [8, 8, 8], "data": other},
    }
    write_json(tmp_paths.run_dir("tuned-seed1") / OVERLAPS, counts)
    with pytest.warns(seed_report.SeedCountsWarning, match="holds counts on another 'test' set than seed 0"):
        seeds = seed_report.segmentation_seeds(tmp_paths)
    assert seeds["tuned"].counts("test") is None and seed_report.headline_set(seeds) == "val"


def test_the_real_renders_table_has_the_trivial_predictor_beside_the_models(tmp_paths, table):
    seeds = all_runs(tmp_paths)
    masks = torch.zeros(4, 1, 128, 128, dtype=torch.uint8)
    masks[0, 0, :64] = 1  # pair 0300: half of its pixels are rock
    check = moon.MoonData(torch.zeros(4, 3, 128, 128, dtype=torch.uint8), masks, CHECK, None, "check")
    real = report.real_table(seeds, check)
    trivial = real.loc[seed_report.TRIVIAL]
    assert list(trivial.index) == ["настройка (2)", "тест (2)", "все (4)"]
    assert trivial["pixel accuracy"].tolist() == ["0.750", "1.000", "0.875"] and trivial["IoU"].tolist() == ["0"] * 3
    plain = real.loc["Plain"]
    i, u = seeds["plain"].counts("check")
    dice = [2 * i[s].sum() / (i[s].sum() + u[s].sum()) for s in range(2)]
    assert plain.loc["все (4)", "Dice"] == f"{np.mean(dice):.3f} ± {np.std(dice, ddof=1):.3f}"
    assert plain.loc["все (4)", "pixel accuracy"].startswith(f"{1 - np.mean((u - i).sum(1)) / (4 * 128 * 128):.3f}")


def test_recall_by_size_has_intervals_over_seeds_and_images_and_falls_back_to_the_weights(tmp_paths, table):
    seeds = all_runs(tmp_paths)
    recall = report.recall_table(seeds)
    row = recall.loc[("Plain", "все (4)")]
    rocks, found = seeds["plain"].rocks()
    ten = ratio_interval(found[..., 1:].sum(-1), rocks[..., 1:].sum(-1))
    assert row["найдено камней ≥ 10 px"] == f"{ten.value:.2f} [{ten.low:.2f}; {ten.high:.2f}]"
    assert row["камней по классам"] == "5 / 4 / 2 / 1" and row["источник"] == "журналы, 2 сида"
    assert recall.loc[("Plain", "тест (2)"), "найдено камней 50–199 px"].startswith("0.00")  # pair 0479: 0 of 1
    # runs logged before the per-rock counts: read from seed 0's weights evaluated now, and said so
    seeds = all_runs(tmp_paths, rocks=False)
    assert report.recall_table(seeds).empty
    evaluation = {"rock_counts": (np.array([[1, 0, 0, 0]] * 4), np.array([[1, 0, 0, 0]] * 4))}
    real = CheckEvaluation(moon.MoonData(None, None, CHECK, None, "check"), {"plain": evaluation})
    fallback = report.recall_table(seeds, real)
    assert fallback.loc[("Plain", "все (4)"), "найдено камней 1–9 px"] == "1.00 [1.00; 1.00]"
    assert fallback.loc[("Plain", "все (4)"), "найдено камней 10–49 px"] == "—"  # no rock of that size
    assert fallback.loc[("Plain", "все (4)"), "источник"].startswith("веса сида 0")


def test_the_interval_includes_the_spread_between_seeds():
    images = np.full(50, 100.0)
    seeds_a = np.stack([images * f for f in (0.5, 0.6, 0.7)])  # seeds that differ, every image alike
    seeds_b = np.stack([images * 0.6] * 3)
    d = iou_difference((seeds_a, np.stack([images] * 3)), (seeds_b, np.stack([images] * 3)), resamples=2000)
    assert d.value == pytest.approx(0) and d.low < -0.03 and d.high > 0.03 and not d.excludes_zero
    assert d.seeds == (3, 3) and d.images == 50
    one = ratio_interval(images * 0.6, images)
    assert (one.value, one.low, one.high) == pytest.approx((0.6, 0.6, 0.6))
    assert np.isnan(ratio_interval(np.zeros(3), np.zeros(3)).value)
    unpaired = iou_difference((seeds_a, np.stack([images] * 3)), (seeds_b[:, :10], seeds_b[:, :10] / 0.6), paired=False)
    assert not unpaired.paired and unpaired.value == pytest.approx(0)
