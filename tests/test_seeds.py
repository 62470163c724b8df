"""Part 3 over seeds: the run ids of seeds, mean ± sd, paired differences and equal-time reading, all from logs."""

import json

import numpy as np
import pytest

from tinyseg import runs as run_table
from tinyseg.report import seeds as seed_report
from tinyseg.report.stats import paired_iou_difference
from tinyseg.runlog import RunLog
from tinyseg.segment import OVERLAPS


def test_seed_zero_keeps_the_run_name_and_other_seeds_get_their_own_folder():
    assert run_table.run_id("unet_base", 0) == "unet_base"
    assert run_table.run_id("unet_base", 2) == "unet_base-seed2"
    spec = run_table.RunSpec("x", "x", "x", "k", "02_unet_base.ipynb", "segmentation", "UNetBase", seeds=3)
    assert spec.ids() == ["x", "x-seed1", "x-seed2"]
    with pytest.raises(ValueError, match="seeds"):
        run_table.RunSpec("x", "x", "x", "k", "02_unet_base.ipynb", "segmentation", "UNetBase", seeds=0)


def write_seed(paths, run, ious, seconds, inter, union):
    """A finished run whose val IoU per epoch is ``ious`` and whose per-image counts are given."""
    log = RunLog(paths.run_dir(run))
    log.start({"train": {"run": run}, "info": {"spec": {}}})
    history = [{"epoch": e + 1, "seconds": s, "val_iou": v} for e, (v, s) in enumerate(zip(ious, seconds))]
    for record in history:
        log.append_metrics(record)
    best = max(history, key=lambda r: r["val_iou"])
    log.write_summary({"run": run, "status": "completed", "best_epoch": best["epoch"], "best": best,
                       "epochs_run": len(history), "epochs_planned": len(history), "params_total": 10,
                       "params_trainable": 10, "wall_time_s": float(sum(seconds))})
    counts = {"val": {"pairs": ["1", "2", "3"], "intersection": inter, "union": union},
              "check": {"pairs": ["a", "b"], "intersection": inter[:2], "union": union[:2]}}
    (log.dir / OVERLAPS).write_text(json.dumps(counts))


def test_seed_tables_read_every_seed_and_the_difference_is_that_of_the_seed_means(tmp_paths):
    base, tuned = run_table.get("unet_base"), run_table.get("unet_backbone_finetune")
    # UNetBase: 2 seeds, 60 s epochs; B: 2 seeds, 120 s epochs
    write_seed(tmp_paths, base.name, [0.50, 0.60], [60, 60], [5, 5, 5], [10, 10, 10])
    write_seed(tmp_paths, run_table.run_id(base.name, 1), [0.40, 0.62], [60, 60], [7, 5, 5], [10, 10, 10])
    write_seed(tmp_paths, tuned.name, [0.55, 0.70], [120, 120], [8, 6, 6], [10, 10, 10])
    write_seed(tmp_paths, run_table.run_id(tuned.name, 1), [0.58, 0.66], [120, 120], [6, 6, 6], [10, 10, 10])
    seeds = {n: s for n, s in seed_report.segmentation_seeds(tmp_paths).items()
             if n in (base.name, tuned.name)}
    assert [s.n for s in seeds.values()] == [min(base.seeds, 2), min(tuned.seeds, 2)]
    b = seeds[base.name]
    # IoU of each seed's best weights from its per-image counts: 15/30 and 17/30 on val, 10/20 and 12/20 on check
    assert b.iou("val") == pytest.approx([15 / 30, 17 / 30][:b.n])
    assert b.iou("check") == pytest.approx([0.5, 0.6][:b.n])
    table = seed_report.seed_table(seeds)
    if b.n == 2:
        assert table.loc[base.short, "IoU, валидация"] == "0.533 ± 0.047"  # mean 0.5333, sd 0.0471

    d = seed_report.differences(seeds, "val")[tuned.name]
    expected = paired_iou_difference(b.counts("val"), seeds[tuned.name].counts("val"))
    assert d == expected
    t = seeds[tuned.name]
    # the difference is that of the seed means of the whole-set IoUs from the counts
    assert d.value == pytest.approx(sum([20 / 30, 18 / 30][:t.n]) / t.n - sum([15 / 30, 17 / 30][:b.n]) / b.n)

    # equal time: the shortest mean time is UNetBase's 2 minutes; B has finished one 2-minute epoch by then
    assert seed_report.equal_time_budget(seeds) == pytest.approx(2.0)
    assert seed_report.iou_within(t.runs[0], 2.0) == (0.55, 1)
    eq = seed_report.equal_time_table(seeds)
    assert eq.loc[tuned.short, "эпох за 2.0 мин"] == "1 из 2"


def test_a_seed_without_counts_leaves_the_set_out_rather_than_mixing(tmp_paths):
    base = run_table.get("unet_base")
    if base.seeds < 2:
        pytest.skip("UNetBase has one seed")
    write_seed(tmp_paths, base.name, [0.6], [60], [5, 5, 5], [10, 10, 10])
    write_seed(tmp_paths, run_table.run_id(base.name, 1), [0.6], [60], [5, 5, 5], [10, 10, 10])
    (tmp_paths.run_dir(run_table.run_id(base.name, 1)) / OVERLAPS).unlink()
    s = seed_report.load_seeds(tmp_paths, base)
    assert s.n == 2 and s.counts("val") is None


def test_part3_conclusions_quote_the_logged_numbers(tmp_paths):
    from tinyseg import report

    base, tuned = run_table.get("unet_base"), run_table.get("unet_backbone_finetune")
    write_seed(tmp_paths, base.name, [0.50, 0.60], [60, 60], [5, 5, 4], [10, 10, 10])
    write_seed(tmp_paths, tuned.name, [0.55, 0.70], [120, 120], [8, 9, 8], [10, 10, 10])
    seeds = seed_report.segmentation_seeds(tmp_paths)
    text = report.part3_conclusions(seeds)
    for which in ("val", "check"):
        d = seed_report.differences(seeds, which)[tuned.name]
        assert f"разность {d.value:+.3f} IoU, 95% ДИ по снимкам [{d.low:+.3f}; {d.high:+.3f}]" in text
    assert f"{tuned.short} 0.833 (1 сид) против {base.short} 0.467 (1 сид)" in text  # 25/30 and 14/30
    assert "Равное время" in text and "2.0 мин" in text and "4.0 мин" in text


def test_probe_summary_names_the_probe_whose_design_b_uses():
    from dataclasses import replace

    from tinyseg import segment

    b = run_table.get("unet_backbone_finetune")
    probe = {"run": b.name, "epochs": 8, "minutes": 4.0, "encoder_lr_scale": b.encoder_lr_scale,
             "unfreeze_epoch": b.unfreeze_epoch(8)}
    probes = [{**probe, "name": "old", "model_args": {"input_scale": 1}, "val_iou": 0.6243},
              {**probe, "name": "best", "model_args": {"input_scale": 2, "stem_channels": 16}, "val_iou": 0.6638},
              {**probe, "name": "simple", "model_args": {"input_scale": 2, "stem_channels": 0}, "val_iou": 0.6586}]
    text = segment.probe_summary(probes, replace(b, model_args={"input_scale": 2, "stem_channels": 0}))
    assert "«old») дал IoU 0.624" in text and "«best» — 0.664" in text
    assert "«simple» (IoU 0.659)" in text and "на 0.005 IoU" in text and "считается равным" in text
    text = segment.probe_summary(probes, replace(b, model_args={"input_scale": 2, "stem_channels": 16}))
    assert "использует этот способ («best»)" in text and b.short in text


def test_skip_schema_follows_the_encoder():
    from tinyseg.models import create_model
    from tinyseg.report import skip_schema

    small = dict(num_classes=5, stem=(8, 8), widths=(8, 16, 16, 16), depths=(1, 1, 1, 1))
    model = create_model("UNetBackbone", classifier_config=small, input_scale=2, stem_channels=0)
    schema = skip_schema(model)
    assert list(schema["разрешение в U-Net"]) == ["128×128", "64×64", "32×32", "16×16", "8×8"]
    assert list(schema["каналов в декодер"]) == [32, 64, 128, 144, 176]
    assert schema["куда идёт"].iloc[-1] == "дно: вход декодера"
    assert schema["карта источника"].iloc[0].startswith("128×128 (вход классификатора 256×256)")
    with_stem = skip_schema(create_model("UNetBackbone", classifier_config=small))
    assert with_stem["адаптер"].iloc[0].startswith("—") and len(with_stem) == 6


def test_the_worst_example_is_chosen_among_visible_rocks_only():
    import torch

    from tinyseg.report import example_picks

    iou = np.array([0.0, 0.1, 0.5, 0.9, 0.3])
    images = torch.full((5, 3, 8, 8), 120, dtype=torch.uint8)
    images[0] = 2                                   # an almost black frame: the lowest IoU, but not shown as "worst"
    masks = torch.zeros(5, 1, 8, 8, dtype=torch.uint8)
    masks[:, :, :4, :4] = 1
    masks[1] = 0                                    # no rock at all
    picks = example_picks(iou, images, masks)
    assert picks["лучший"] == 3 and picks["медианный"] == 4
    assert [v for k, v in picks.items() if k.startswith("худший")] == [4]  # not 0 (dark) nor 1 (no rock)
