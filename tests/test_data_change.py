"""Issue 23, items 1–3: data found that the runs were not trained on is announced and trained on (identity by
content, never by location); the report re-creates only the stand-in pairs it needs; a training notebook records
the runs it was executed over and is executed again when they change."""

import shutil
from dataclasses import asdict, replace
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook
from run_logs import write_finished_run
from torch import nn

from tinyseg import classify, pipeline, report, segment
from tinyseg import runs as run_table
from tinyseg.data import lunar_synth, moon, tiny_imagenet
from tinyseg.data.fixtures import write_moon_layout, write_tiny_imagenet
from tinyseg.paths import ASSIGNMENT_MOON, get_paths
from tinyseg.runlog import DataRecord, HeldOutRecord, RunLog, save_weights

ROOT = Path(__file__).resolve().parents[1]
LOCATIONS = ("DATA_DIR", "WEIGHTS_DIR", "RUNS_DIR", "REPORTS_DIR", "COURSE_DIR", "MOON_ROOT", "TINY_IMAGENET")


# ---------------------------------------------------------------- identity by content


def test_the_official_folder_and_zip_are_the_same_data_and_a_changed_copy_is_not(tmp_path):
    zip_path = write_tiny_imagenet(tmp_path / "src", classes=3, train_per_class=4, val_per_class=2, as_zip=True)
    folder = zip_path.parent / "tiny-imagenet-200"

    def identity(location, data_dir):
        paths = get_paths(env={"TINY_IMAGENET": str(location), "DATA_DIR": str(data_dir)}, root=tmp_path)
        return classify.data_identity(tiny_imagenet.load(tiny_imagenet.locate(paths, profile="smoke"), paths))

    from_folder = identity(folder, tmp_path / "a")
    assert identity(zip_path, tmp_path / "b") == from_folder  # extracted elsewhere, other file dates
    copy = tmp_path / "copy" / "tiny-imagenet-200"
    shutil.copytree(folder, copy)
    assert identity(copy, tmp_path / "c") == from_folder  # a copy: another location, same content
    image = next((copy / "val" / "images").glob("*.JPEG"))
    from PIL import Image

    Image.new("RGB", (64, 64), (1, 2, 3)).save(image)
    assert identity(copy, tmp_path / "d") != from_folder  # one image differs


# ---------------------------------------------------------------- item 1: the main job and the data found


def segmentation_runs():
    return [run for spec in run_table.of_task("segmentation") for run in spec.ids()]


def fake_runs(paths, identity, kind="generated", seconds=60.0, profile="smoke"):
    """Finished segmentation runs (every seed) trained on data of ``identity``, with seed 0's weights."""
    record = DataRecord("MOON_SEGMENTATION_BINARY", kind, "data/moon_synth/seed0-n16-v2", 10, 2, identity)
    history = [{"epoch": e, "seconds": seconds, "val_iou": 0.1 * e} for e in (1, 2)]
    for run in segmentation_runs():
        write_finished_run(paths, run, history, data=record, profile=profile)
    for spec in run_table.of_task("segmentation"):
        save_weights(paths.weights(spec.name), nn.Linear(2, 2))


def executed_notebooks(folder: Path, paths) -> Path:
    """Executed notebooks 02 and 03 that record the runs there are now."""
    for name in ("02_unet_base.ipynb", "03_unet_backbone.ipynb"):
        cells = [new_code_cell("1 + 1", execution_count=1)]
        nbformat.write(new_notebook(cells=cells), folder / name)
        pipeline.record_runs_shown(folder / name, paths)
    return folder


@pytest.fixture
def course(tmp_path, monkeypatch):
    """Every location in ``tmp_path``; the course's folders are looked for in ``tmp_path/course``."""
    for var in LOCATIONS:
        monkeypatch.delenv(var, raising=False)
    for var in ("DATA_DIR", "WEIGHTS_DIR", "RUNS_DIR", "REPORTS_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.split("_")[0].lower()))
    monkeypatch.setenv("COURSE_DIR", str(tmp_path / "course"))
    executed = []
    monkeypatch.setattr(pipeline, "execute_notebook", lambda path, profile, seed=0: executed.append(path.name))
    monkeypatch.setattr(pipeline, "prepare_data", lambda *a, **k: None)
    return get_paths(), tmp_path, executed


def located_identity(paths):
    pairs = moon.load(moon.locate(paths, profile="smoke", generate=False), paths)
    return segment.data_identity(segment.SegmentData(pairs, moon.make_split(pairs)))


def test_real_moon_data_at_the_assignments_path_is_announced_archived_and_trained_on(course, capsys):
    paths, tmp_path, executed = course
    # 14 real pairs: 2 set aside as the test part, 10 train / 2 val
    found = write_moon_layout(tmp_path / "course" / ASSIGNMENT_MOON[0], n=14, seed=5)
    assert get_paths().moon_root == found  # no variable: the assignment's path
    fake_runs(paths, identity="0123456789abcdef")  # 2 epochs of 60 s per run, 10 training pairs
    notebooks = executed_notebooks(tmp_path, paths)

    pipeline.run("smoke", notebook_dir=notebooks, only=("02", "03"))
    out = capsys.readouterr().out
    announced = out[: out.index("item(s) of 02_unet_base.ipynb to")]  # said before anything is moved
    assert f"Data found: real MOON_SEGMENTATION_BINARY at {paths.relative(found)} (10 training" in announced
    assert "content 0123456789abcdef)" in announced and "GENERATED stand-in" in announced
    assert all(run in announced for run in segmentation_runs())
    assert "02_unet_base.ipynb, 03_unet_backbone.ipynb" in announced and "KEEP=1" in announced
    # 8 runs × 1 min per epoch × 2 smoke epochs × (10 training pairs now / 10 logged) = 16 min
    assert "expected about 16 min of training in the smoke profile" in announced
    archived = list((paths.runs_dir / ".previous").glob("*/runs/unet_base/summary.json"))
    assert len(archived) == 1 and not paths.run_dir("unet_base").exists()
    assert executed == ["02_unet_base.ipynb", "03_unet_backbone.ipynb"]


def test_keep_runs_keeps_them_and_says_so(course, capsys):
    paths, tmp_path, executed = course
    write_moon_layout(tmp_path / "course" / ASSIGNMENT_MOON[0], n=12, seed=5)
    fake_runs(paths, identity="0123456789abcdef")
    pipeline.run("smoke", notebook_dir=executed_notebooks(tmp_path, paths), only=("02", "03"), keep_runs=True)
    out = capsys.readouterr().out
    assert "Kept (--keep-runs)" in out and "archived" not in out
    assert all(RunLog(paths.run_dir(run)).is_finished() for run in segmentation_runs())
    assert executed == []  # finished, executed over these runs: skipped
    assert "skip 02_unet_base.ipynb" in out


def test_the_same_data_elsewhere_is_not_a_change(course, capsys):
    paths, tmp_path, executed = course
    write_moon_layout(tmp_path / "course" / ASSIGNMENT_MOON[0], n=12, seed=5)
    fake_runs(paths, identity=located_identity(get_paths()), kind="real")  # paths resolved now it is there
    pipeline.run("smoke", notebook_dir=executed_notebooks(tmp_path, paths), only=("02", "03"))
    out = capsys.readouterr().out
    assert "is not the data" not in out and executed == [] and "skip 03_unet_backbone.ipynb" in out


def test_without_real_data_the_stand_in_runs_are_kept_without_generating_anything(course, capsys):
    paths, tmp_path, executed = course
    fake_runs(paths, identity="0123456789abcdef")
    pipeline.run("smoke", notebook_dir=executed_notebooks(tmp_path, paths), only=("02", "03"))
    out = capsys.readouterr().out
    assert "is not the data" not in out and executed == []
    assert not paths.moon_synth_dir.exists()


def test_the_expected_time_comes_from_the_logs_of_the_profile(tmp_paths):
    fake_runs(tmp_paths, identity="x", seconds=60.0, profile="cpu")
    text = pipeline.expected_time(["02_unet_base.ipynb"], "cpu", tmp_paths)
    assert "about 72 min" in text  # 3 seeds × 1 min per epoch × the cpu recipe's 24 epochs
    assert "not known" in pipeline.expected_time(["02_unet_base.ipynb"], "gpu", tmp_paths)


# ---------------------------------------------------------------- item 3: a notebook is tied to its runs


def test_a_notebook_is_executed_again_when_its_runs_are_not_those_it_shows(course, capsys):
    paths, tmp_path, executed = course
    fake_runs(paths, identity="x")
    notebooks = executed_notebooks(tmp_path, paths)
    nb = notebooks / "02_unet_base.ipynb"
    assert pipeline.outputs_stale(nb, paths) is None
    assert pipeline.skip_reason(nb, "smoke", paths) is not None
    # --force 02 retrained the runs, then the notebook failed in a late cell: it still records the old ones
    log = RunLog(paths.run_dir("unet_base-seed1"))
    log.write_summary(replace(log.summary(), wall_time_s=99.0))
    assert "unet_base-seed1" in pipeline.outputs_stale(nb, paths)
    assert pipeline.skip_reason(nb, "smoke", paths) is None
    pipeline.run("smoke", notebook_dir=notebooks, only=("02", "03"))
    out = capsys.readouterr().out
    assert "execute 02_unet_base.ipynb again over its finished runs: its outputs show other runs" in out
    assert executed[0] == "02_unet_base.ipynb" and "skip 03_unet_backbone.ipynb" in out
    # a notebook without a record (executed before the record existed) is executed again too
    nbformat.write(new_notebook(cells=[new_code_cell("1 + 1", execution_count=1)]), nb)
    assert "does not record" in pipeline.outputs_stale(nb, paths)


def test_execute_notebook_records_the_runs_it_was_executed_over(tmp_paths, tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("RUNS_DIR", str(tmp_paths.runs_dir))
    fake_runs(tmp_paths, identity="x")
    nb = tmp_path / "03_unet_backbone.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 + 1", execution_count=1)]), nb)
    monkeypatch.setattr(papermill, "execute_notebook", lambda src, out, **kw: shutil.copy(src, out))
    pipeline.execute_notebook(nb, "smoke")
    recorded = nbformat.read(nb, as_version=4).metadata["tinyseg"]["runs"]
    assert recorded == pipeline.runs_shown(nb.name, tmp_paths) and set(recorded) == {
        run for spec in run_table.of_notebook(nb.name) for run in spec.ids()
    }
    assert all(len(h) == 16 for h in recorded.values())


@pytest.mark.parametrize("name", ["01_classifier.ipynb", "02_unet_base.ipynb", "03_unet_backbone.ipynb"])
def test_the_committed_notebooks_record_the_committed_runs(name):
    """Written once into their metadata (tools: pipeline.record_runs_shown) from the runs they were executed
    over; a changed summary.json makes make run execute the notebook again."""
    paths = get_paths(env={}, root=ROOT)
    assert pipeline.outputs_stale(ROOT / name, paths) is None


# ---------------------------------------------------------------- item 2: the report renders what it shows


def stand_in_logs(paths, split):
    location = f"data/moon_synth/seed0-n16-v{lunar_synth.VERSION}"
    record = DataRecord("MOON_SEGMENTATION_BINARY", "generated", location, 12, 4, "x")
    for spec in run_table.of_task("segmentation"):
        write_finished_run(paths, spec.name, [{"epoch": 1, "seconds": 1.0, "val_iou": 0.5}], data=record)
        split.save(paths.run_dir(spec.name) / "split.json")


def test_the_report_renders_only_the_validation_pairs_and_the_shown_scenes(tmp_paths, lunar_stand_in, monkeypatch):
    assert lunar_stand_in.name == f"seed0-n16-v{lunar_synth.VERSION}"
    full = moon.load(moon.Source(moon.NAME, "generated", lunar_stand_in), tmp_paths)
    split = moon.make_split(full)
    stand_in_logs(tmp_paths, split)
    assert not moon.stand_in_dir(tmp_paths, 16, 0, lunar_synth.VERSION).exists()  # a fresh clone: no stand-in on disk
    rendered = []
    render = lunar_synth.render_index
    monkeypatch.setattr(lunar_synth, "render_index", lambda seed, i, **kw: rendered.append(i) or render(seed, i, **kw))

    data, val_idx, note = report.validation_set(tmp_paths, "smoke")
    assert sorted(rendered) == sorted(int(n) for n in split.val)  # the validation pairs, nothing else
    assert "rendered again" in note and not moon.stand_in_dir(tmp_paths, 16, 0, lunar_synth.VERSION).exists()
    _, full_val = split.indices(full)
    assert torch.equal(data.images[val_idx], full.images[full_val])  # the very pairs the runs were validated on
    assert torch.equal(data.masks[val_idx], full.masks[full_val])

    rendered.clear()
    real = moon.MoonData(full.images[:5], full.masks[:5], full.numbers[:5], full.source, "real")
    report.real_vs_generated(real, data, n=4)
    rng = np.random.default_rng(0)  # the figure's draws: 4 of the 5 real renders, then 4 of all 16 scenes
    rng.choice(5, size=4, replace=False)
    assert sorted(rendered) == sorted(rng.choice(16, size=4, replace=False).tolist())  # the scenes it shows
    rendered.clear()
    report.validation_set(tmp_paths, "smoke")
    assert rendered == []  # the second report reads them from the cache


def test_the_pairs_of_a_test_set_are_rendered_from_the_record_that_names_it(tmp_paths):
    """The report needs only the test set's per-image counts; a figure of its pairs renders them on a fresh clone
    from the data record of the runs (the test set's seed and generator version), as for the validation pairs."""
    record = HeldOutRecord("generated", "data/moon_synth/seed1-n300-v2", 300, "x")
    data = moon.stand_in_pairs(tmp_paths, asdict(record), ["0007", "0003"])
    assert data.numbers == ["0003", "0007"] and not (tmp_paths.data_dir / "moon_synth" / "seed1-n300-v2").exists()
    image, mask = moon._render_pair(moon.TEST_SEED, 2, 3)
    assert np.array_equal(data.images[0].permute(1, 2, 0).numpy(), image)
    assert np.array_equal(data.masks[0, 0].numpy(), mask)


# ---------------------------------------------------------------- the report names the data of the runs


def test_runs_on_real_data_are_named_real_everywhere(tmp_paths):
    record = {"dataset": "MOON_SEGMENTATION_BINARY", "kind": "real", "location": "../x/MOON", "train": 8, "val": 2}
    for spec in run_table.of_task("segmentation"):
        write_finished_run(tmp_paths, spec.name, [{"epoch": 1, "seconds": 1.0, "val_iou": 0.5}], data=record)
    runs = report.load_runs(tmp_paths)
    assert report.data_words(runs).title == "Валидация настоящего MOON_SEGMENTATION_BINARY"
    assert report.describe_data(runs["unet_base"]).startswith("настоящий MOON_SEGMENTATION_BINARY")
    assert "настоящем MOON_SEGMENTATION_BINARY" in report.conclusions(runs)
    table = report.data_table(runs, tmp_paths)
    assert table.loc["MOON_SEGMENTATION_BINARY", "что это"] == "настоящий"
    assert "сгенерирован" not in report.conclusions(runs).lower()
