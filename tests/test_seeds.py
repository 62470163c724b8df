"""Part 3 over seeds: the run ids of seeds, mean ± sd, paired differences and equal-time reading, all from logs."""

import json
from dataclasses import replace

import numpy as np
import pytest
import run_logs
from run_logs import write_finished_run

from tinyseg import runs as run_table
from tinyseg.report import seeds as seed_report
from tinyseg.report.stats import iou_difference
from tinyseg.segment import OVERLAPS

# A run table of the test's own (patched in for tinyseg.runs.RUNS by the ``table`` fixture), so that the
# expectations are fixed numbers whatever the project's table says. Names unlike the project's: the code
# must find the runs by their roles.
CLS, BASE = run_logs.CLS, run_logs.PLAIN
TUNED = replace(run_logs.TUNED, model_args={"input_scale": 2, "stem_channels": 0}, encoder_lr_scale=0.3, seeds=3)


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setattr(run_table, "RUNS", {s.name: s for s in (CLS, BASE, TUNED)})
    assert run_table.by_role(run_table.RUNS) == {"classifier": "cls", "plain": "plain", "finetuned": "tuned"}


def test_seed_zero_keeps_the_run_name_and_other_seeds_get_their_own_folder():
    assert run_table.run_id("unet_base", 0) == "unet_base"
    assert run_table.run_id("unet_base", 2) == "unet_base-seed2"
    spec = run_table.RunSpec("x", "x", "x", "k", "02_unet_base.ipynb", "segmentation", "UNetBase", seeds=3)
    assert spec.ids() == ["x", "x-seed1", "x-seed2"]
    with pytest.raises(ValueError, match="seeds"):
        run_table.RunSpec("x", "x", "x", "k", "02_unet_base.ipynb", "segmentation", "UNetBase", seeds=0)


def write_seed(paths, run, ious, seconds, inter, union):
    """A finished run whose val IoU per epoch is ``ious`` and whose per-image counts are given."""
    history = [{"epoch": e + 1, "seconds": s, "val_iou": v} for e, (v, s) in enumerate(zip(ious, seconds))]
    log = write_finished_run(paths, run, history, params=(10, 10))
    counts = {
        "val": {"pairs": ["1", "2", "3"], "intersection": inter, "union": union},
        "check": {"pairs": ["0100", "0101"], "intersection": inter[:2], "union": union[:2]},
    }
    (log.dir / OVERLAPS).write_text(json.dumps(counts))


def test_seed_tables_read_every_seed_and_the_difference_is_that_of_the_seed_means(tmp_paths, table):
    # Plain: both of its 2 seeds, 60 s epochs; Tuned: 2 of its 3 seeds finished, 120 s epochs
    write_seed(tmp_paths, "plain", [0.50, 0.60], [60, 60], [5, 5, 5], [10, 10, 10])
    write_seed(tmp_paths, "plain-seed1", [0.40, 0.62], [60, 60], [7, 5, 5], [10, 10, 10])
    write_seed(tmp_paths, "tuned", [0.55, 0.70], [120, 120], [8, 6, 6], [10, 10, 10])
    write_seed(tmp_paths, "tuned-seed1", [0.58, 0.66], [120, 120], [6, 6, 6], [10, 10, 10])
    write_seed(tmp_paths, "unet_base", [0.9], [60], [9, 9, 9], [10, 10, 10])  # not in the table: ignored
    seeds = seed_report.segmentation_seeds(tmp_paths)
    assert list(seeds) == ["plain", "tuned"] and [s.n for s in seeds.values()] == [2, 2]
    b, t = seeds["plain"], seeds["tuned"]
    # IoU of each seed's best weights from its per-image counts: 15/30 and 17/30 on val, 10/20 and 12/20 on check
    assert b.iou("val") == pytest.approx([15 / 30, 17 / 30])
    assert b.iou("check") == pytest.approx([0.5, 0.6])
    assert t.iou("val") == pytest.approx([20 / 30, 18 / 30])
    assert b.logged_iou() == [0.60, 0.62]  # the engine's metric at the best epochs
    table = seed_report.seed_table(seeds)
    # no test counts in the logs: the headline column is the validation set, and it says so
    assert table.loc["Plain", "IoU, валидация, теста нет"] == "0.533 ± 0.047"  # mean 0.5333, sd 0.0471
    assert table.loc["Plain", "IoU, реальные, все (2)"] == "0.550 ± 0.071"
    assert table.loc["Plain", "IoU, реальные, настройка (1)"] == "0.600 ± 0.141"  # pair 0100 only: 5/10, 7/10
    assert (
        table.loc["Tuned", "сидов"] == 2 and table.loc["Tuned", "IoU по сидам (валидация, теста нет)"] == "0.667, 0.600"
    )

    d = seed_report.differences(seeds, "val")["tuned"]
    assert list(seed_report.differences(seeds, "val")) == ["tuned"]  # against the plain run, by role
    assert d == iou_difference(b.counts("val"), t.counts("val"))
    # the difference is that of the seed means of the whole-set IoUs from the counts: 19/30 − 16/30
    assert d.value == pytest.approx(0.1)

    # equal time: the shortest mean time is Plain's 2 minutes; Tuned has finished one 2-minute epoch by then
    assert seed_report.equal_time_budget(seeds) == pytest.approx(2.0)
    assert seed_report.iou_within(t.runs[0], 2.0) == (0.55, 1)
    eq = seed_report.equal_time_table(seeds)
    assert eq.loc["Tuned", "эпох за 2.0 мин"] == "1 из 2"


def test_a_seed_without_counts_leaves_the_set_out_rather_than_mixing(tmp_paths, table):
    write_seed(tmp_paths, "plain", [0.6], [60], [5, 5, 5], [10, 10, 10])
    write_seed(tmp_paths, "plain-seed1", [0.6], [60], [5, 5, 5], [10, 10, 10])
    with_counts = seed_report.load_seeds(tmp_paths, BASE)
    assert with_counts.n == 2 and with_counts.counts("val")[0].shape == (2, 3)
    (tmp_paths.run_dir("plain-seed1") / OVERLAPS).unlink()
    s = seed_report.load_seeds(tmp_paths, BASE)
    assert s.n == 2 and s.counts("val") is None and s.counts("check") is None


def test_part3_conclusions_quote_the_logged_numbers(tmp_paths, table):
    from tinyseg import report

    write_seed(tmp_paths, "plain", [0.50, 0.60], [60, 60], [5, 5, 4], [10, 10, 10])
    write_seed(tmp_paths, "tuned", [0.55, 0.70], [120, 120], [8, 9, 8], [10, 10, 10])
    seeds = seed_report.segmentation_seeds(tmp_paths)
    text = report.part3_conclusions(seeds)
    for which, half in (("val", None), ("check", "test")):  # the headline set and the real test half
        d = seed_report.differences(seeds, which, half=half)["tuned"]
        verdict = "значимо" if d.excludes_zero else "незначимо"
        assert f"разность {seed_report.signed(d.value)} {seed_report.interval(d)} — {verdict}" in text
    assert "Tuned выше Plain: 0.833 против 0.467 IoU" in text  # 25/30 and 14/30, one seed each
    assert "На валидации (теста в журналах нет)" in text and "не отличим" not in text
    assert "по сидам и снимкам" in text and "Равное время" in text and "2.0\u00a0мин" in text


def test_probe_summary_names_the_probe_whose_design_b_uses():
    from dataclasses import replace

    from tinyseg import report

    b = TUNED
    probe = {
        "run": b.name,
        "epochs": 8,
        "minutes": 4.0,
        "encoder_lr_scale": b.encoder_lr_scale,
        "unfreeze_epoch": b.unfreeze_epoch(8),
    }
    probes = [
        {**probe, "name": "old", "model_args": {"input_scale": 1}, "val_iou": 0.6243},
        {**probe, "name": "best", "model_args": {"input_scale": 2, "stem_channels": 16}, "val_iou": 0.6638},
        {**probe, "name": "simple", "model_args": {"input_scale": 2, "stem_channels": 0}, "val_iou": 0.6586},
    ]
    text = report.integration_probe_summary(probes, replace(b, model_args={"input_scale": 2, "stem_channels": 0}))
    assert "Прежний способ встраивания (проба 1: вход энкодера ×1" in text and "дал IoU 0.624" in text
    assert "лучшая проба 2 — 0.664" in text and "old" not in text  # probes by number and design, never by id
    assert "Выбран способ пробы 3 (IoU 0.659)" in text and "на 0.005 IoU" in text and "считается равной" in text
    text = report.integration_probe_summary(probes, replace(b, model_args={"input_scale": 2, "stem_channels": 16}))
    assert "Выбран этот способ (проба 2)" in text
    text = report.integration_probe_summary(probes, replace(b, encoder_lr_scale=1.0))  # a design no probe measured
    assert "пробами не измерялся" in text


def test_skip_schema_follows_the_encoder():
    from tinyseg.models import UNET_WIDTHS, create_model
    from tinyseg.report import skip_schema

    small = dict(num_classes=5, stem=(8, 8), widths=(8, 16, 16, 16), depths=(1, 1, 1, 1))
    model = create_model("UNetBackbone", classifier_config=small, input_scale=2, stem_channels=0)
    schema = skip_schema(model)
    sizes = ["128×128", "64×64", "32×32", "16×16"]
    assert list(schema["куда идёт"]) == [f"skip-соединение в блок декодера {s}" for s in sizes] + ["дно декодера"]
    assert [a.split("→ ")[1] for a in schema["адаптер"]] == [f"{c} кан." for c in UNET_WIDTHS]
    assert schema["карта источника"].iloc[0].endswith("×128×128")  # stem1 of the input upsampled to 256×256
    with_stem = skip_schema(create_model("UNetBackbone", classifier_config=small))
    assert with_stem["адаптер"].iloc[0].startswith("—") and len(with_stem) == 6


def test_the_worst_example_is_chosen_among_visible_rocks_only():
    import torch

    from tinyseg.report import example_picks

    iou = np.array([0.0, 0.1, 0.5, 0.9, 0.3])
    images = torch.full((5, 3, 8, 8), 120, dtype=torch.uint8)
    images[0] = 2  # an almost black frame: the lowest IoU, but not shown as "worst"
    masks = torch.zeros(5, 1, 8, 8, dtype=torch.uint8)
    masks[:, :, :4, :4] = 1
    masks[1] = 0  # no rock at all
    picks = example_picks(iou, images, masks)
    assert picks["лучший"] == 3 and picks["медианный"] == 4
    assert [v for k, v in picks.items() if k.startswith("худший")] == [4]  # not 0 (dark) nor 1 (no rock)
