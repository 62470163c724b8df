"""The report's validation set from the logged per-image counts (tinyseg.report.validation): metrics from the
counts are those of the masks; on a fresh clone whose logs hold the rock pixels per image only the pairs the
weights are re-checked on and the pairs shown are rendered; older logs fall back to the whole validation set."""

import json

import numpy as np
import pytest
import torch
from run_logs import write_finished_run

from tinyseg import report, segment
from tinyseg import runs as run_table
from tinyseg.data import lunar_synth, moon
from tinyseg.data.fixtures import write_moon_layout
from tinyseg.device import select_runtime
from tinyseg.metrics import evaluate_masks, rock_mask
from tinyseg.models import create_model
from tinyseg.runlog import DataRecord, RunLog
from tinyseg.session import Session

FP32 = select_runtime("cpu", "fp32", verbose=False)
OLD_LOGS = ("truth", "predicted", "pixels")  # what overlaps.json lacked before the rock pixels per image


def test_metrics_from_the_counts_are_those_of_the_masks():
    torch.manual_seed(0)
    masks = (torch.rand(4, 1, 8, 8) < 0.3).to(torch.uint8)
    probs = torch.rand(4, 1, 8, 8)
    probs[2] = 0  # an image that predicts no rock at all
    masks[3] = 0  # and one without rock
    counts = report.image_counts(rock_mask(probs), masks)
    from_counts = report.metrics_from_counts(counts)
    from_masks = evaluate_masks(probs, masks)["metrics"]
    assert set(from_counts) == set(from_masks)
    for key, value in from_masks.items():
        assert from_counts[key] == pytest.approx(value, abs=1e-6), key
    some = [0, 2]  # a part of the set: the same as the metrics of its masks
    part = evaluate_masks(probs[some], masks[some])["metrics"]
    assert report.metrics_from_counts(counts, at=some) == pytest.approx(part, abs=1e-6)
    old = {k: v for k, v in counts.items() if k not in OLD_LOGS}  # logs before truth/predicted/pixels
    assert report.metrics_from_counts(old) == {
        "iou": pytest.approx(from_masks["iou"]),
        "dice": None,
        "pixel_acc": None,
        "background_share": None,
    }
    # the mask figure's rule on the logged rock pixels picks what it picks on the masks
    share = np.array(counts["truth"]) / counts["pixels"]
    assert report.pick_by_share(share, 3) == report.pick_examples(masks, n=3)


def logged_runs(paths, full, split, record, strip=()):
    """Finished segmentation runs on ``full`` with ``split``, and their seed-0 counts written by
    segment.record_overlaps from a tiny model each (``strip``: keys left out, as older logs lack them)."""
    session = Session("smoke", 0, FP32, paths)
    data = segment.SegmentData(full, split)
    models = {}
    for k, spec in enumerate(run_table.of_task("segmentation")):
        write_finished_run(paths, spec.name, [{"epoch": 1, "seconds": 1.0, "val_iou": 0.5}], data=record)
        split.save(paths.run_dir(spec.name) / "split.json")
        torch.manual_seed(k)
        models[spec.name] = create_model("UNetBase", channels=(4, 8, 8, 8, 8)).eval()
        segment.record_overlaps(spec.name, models[spec.name], data, session)
        if strip:
            file = RunLog(paths.run_dir(spec.name)).overlaps_path
            counts = json.loads(file.read_text())
            file.write_text(json.dumps({w: {k: v for k, v in c.items() if k not in strip} for w, c in counts.items()}))
    return models


@pytest.fixture
def fresh_clone(tmp_paths, lunar_stand_in, monkeypatch):
    """Logs of runs trained on the smoke stand-in, which is not on disk (a fresh clone), and the scenes rendered."""
    full = moon.load(moon.Source(moon.NAME, "generated", lunar_stand_in), tmp_paths)
    split = moon.make_split(full)
    assert len(split.val) >= 3
    location = f"data/moon_synth/{lunar_stand_in.name}"
    record = DataRecord("MOON_SEGMENTATION_BINARY", "generated", location, len(split.train), len(split.val), "x")
    rendered = []
    render = lunar_synth.render_index
    monkeypatch.setattr(lunar_synth, "render_index", lambda seed, i, **kw: rendered.append(i) or render(seed, i, **kw))
    return full, split, record, rendered


def test_a_fresh_clone_renders_only_the_rechecked_and_the_shown_pairs(tmp_paths, fresh_clone, capsys):
    full, split, record, rendered = fresh_clone
    models = logged_runs(tmp_paths, full, split, record)
    _, full_val = split.indices(full)
    val_masks = full.masks[full_val]

    sample = report.validation_sample(tmp_paths, "smoke", recheck=1, shown=1)
    picked = split.val[report.pick_examples(val_masks, n=1)[0]]
    needed = list(dict.fromkeys([split.val[0], picked]))
    assert sorted(rendered) == sorted(int(x) for x in needed) and len(rendered) < len(split.val)
    assert not moon.stand_in_dir(tmp_paths, 16, 0, lunar_synth.VERSION).exists()  # nothing written but the cache
    assert sample.from_logs and sample.numbers == needed and sample.pairs == len(split.val)
    at = [full.numbers.index(x) for x in needed]
    assert torch.equal(sample.images, full.images[at]) and torch.equal(sample.masks, full.masks[at])
    assert [sample.numbers[i] for i in sample.recheck] == split.val[:1]
    assert [sample.numbers[i] for i in sample.shown] == [picked]  # the pick of the masks, from the logged counts
    assert sample.background_share == pytest.approx(1 - val_masks.float().mean().item())
    assert capsys.readouterr().out == ""  # nothing to say: the counts are there

    probs = sample.predict(models, FP32)
    table = report.recheck_table(report.load_runs(tmp_paths), sample, probs)
    assert list(table.columns) == [
        "IoU всей валидации (журнал, лучшая эпоха)",
        "IoU по 1 снимку: журнал",
        "IoU по 1 снимку: веса сейчас",
        "разница",
        "снимков с расхождением",
    ]
    assert (table["разница"] == "0.000").all() and (table["снимков с расхождением"] == "0 из 1").all()
    assert (table["IoU по 1 снимку: журнал"] == table["IoU по 1 снимку: веса сейчас"]).all()

    rendered.clear()
    real = moon.MoonData(full.images[:5], full.masks[:5], full.numbers[:5], full.source, "real")
    report.real_vs_generated(real, sample.data, n=4)
    assert len(rendered) == 4  # the four scenes the figure shows, drawn from the whole set
    rendered.clear()
    report.validation_sample(tmp_paths, "smoke", recheck=1, shown=1)
    assert rendered == []  # the second report reads them from the cache


def test_old_logs_fall_back_to_the_whole_validation_set(tmp_paths, fresh_clone, capsys):
    full, split, record, rendered = fresh_clone
    models = logged_runs(tmp_paths, full, split, record, strip=OLD_LOGS)
    sample = report.validation_sample(tmp_paths, "smoke", recheck=1, shown=1)
    assert "как раньше, вся валидация" in capsys.readouterr().out  # said in one line
    assert sorted(rendered) == sorted(int(x) for x in split.val)  # every validation pair, as before
    _, full_val = split.indices(full)
    assert not sample.from_logs and sample.numbers == split.val and len(sample.recheck) == len(split.val)
    assert torch.equal(sample.masks, full.masks[full_val])
    assert sample.background_share == pytest.approx(1 - full.masks[full_val].float().mean().item())
    assert sample.shown == report.pick_examples(full.masks[full_val], n=1)
    table = report.recheck_table(report.load_runs(tmp_paths), sample, sample.predict(models, FP32))
    n = len(split.val)
    assert (table["разница"] == "0.000").all()  # the old counts still check the weights on every pair
    assert (table["снимков с расхождением"] == f"0 из {n}").all()


def test_runs_on_real_data_read_the_pairs_from_their_folder(tmp_paths):
    root = write_moon_layout(tmp_paths.root / "moon", n=16, seed=3)
    full = moon.load(moon.Source(moon.NAME, "real", root), tmp_paths)
    split = moon.make_split(full)
    record = DataRecord("MOON_SEGMENTATION_BINARY", "real", "moon", len(split.train), len(split.val), "x")
    logged_runs(tmp_paths, full, split, record)
    sample = report.validation_sample(tmp_paths, "smoke", recheck=2, shown=1)
    assert sample.from_logs and sample.numbers[:2] == split.val[:2]
    at = [full.numbers.index(x) for x in sample.numbers]
    assert torch.equal(sample.masks, full.masks[at])
    _, full_val = split.indices(full)
    assert sample.background_share == pytest.approx(1 - full.masks[full_val].float().mean().item())
