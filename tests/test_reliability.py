"""Nothing lost, nothing silently wrong, no pickle loads, every fault named: one test per case a user
meets, and real processes killed mid-epoch and mid-write that resume to bit-identical weights."""

import contextlib
import io
import os
import pickle
import subprocess
import sys
import traceback
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook
from PIL import Image
from run_logs import write_finished_run

from tinyseg import pipeline, runlog
from tinyseg.data import Source, lunar_synth, moon
from tinyseg.data import tiny_imagenet as ti
from tinyseg.data.fixtures import write_tiny_imagenet
from tinyseg.paths import get_paths
from tinyseg.runlog import CheckpointError

HERE = Path(__file__).parent


def tiny_paths(tmp_path, **env):
    return get_paths(env={"DATA_DIR": str(tmp_path / "data"), **env}, root=tmp_path)


# ---------------------------------------------------------------- data loss


def test_a_truncated_zip_leaves_a_good_extraction_alone(tmp_path):
    good = write_tiny_imagenet(tmp_path / "src", as_zip=True)
    paths = tiny_paths(tmp_path, TINY_IMAGENET=str(good))
    root = ti.locate(paths).location
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ti.DatasetError, match="truncated.zip is not a readable zip.*nothing was changed"):
        ti.locate(tiny_paths(tmp_path, TINY_IMAGENET=str(truncated)))
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_a_folder_the_project_did_not_make_is_never_deleted(tmp_path):
    hand = write_tiny_imagenet(tmp_path / "data")  # extracted by hand into DATA_DIR/tiny-imagenet-200
    (hand / "my_notes.txt").write_text("mine")
    zip_path = write_tiny_imagenet(tmp_path / "src", as_zip=True)
    with pytest.raises(ti.DatasetError, match="did not finish extracting it .*Nothing was deleted"):
        ti.locate(tiny_paths(tmp_path, TINY_IMAGENET=str(zip_path)))
    assert (hand / "my_notes.txt").read_text() == "mine"
    # pointing at it explicitly uses it as it is
    assert ti.locate(tiny_paths(tmp_path, TINY_IMAGENET=str(hand))).location == hand


def test_a_zip_inside_its_own_target_is_refused(tmp_path):
    zip_path = write_tiny_imagenet(tmp_path / "src", as_zip=True)
    inside = tmp_path / "data" / "tiny-imagenet-200" / "tiny-imagenet-200.zip"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(zip_path.read_bytes())
    with pytest.raises(ti.DatasetError, match="lies inside .*move the zip out of it"):
        ti.locate(tiny_paths(tmp_path, TINY_IMAGENET=str(inside)))
    assert inside.is_file()


def test_a_finished_run_without_weights_is_not_retrained(tmp_path):
    paths = get_paths(env={}, root=tmp_path)
    assert toy_process(tmp_path).returncode == 0
    summary = runlog.RunLog(paths.run_dir("toy")).summary_path.read_bytes()
    paths.weights("toy").unlink()
    done = toy_process(tmp_path)
    assert done.returncode != 0 and "FinishedRunError" in done.stderr
    assert "weights/toy.pt are missing. Restore the file" in done.stderr and "FORCE" in done.stderr
    assert runlog.RunLog(paths.run_dir("toy")).summary_path.read_bytes() == summary  # logs untouched
    nb = tmp_path / "02_unet_base.ipynb"
    write_finished_run(paths, "unet_base", [{"epoch": 1, "seconds": 1.0, "val_iou": 0.5}])
    with pytest.raises(pipeline.PipelineError, match="weights/unet_base.pt missing.*--force 02"):
        pipeline.skip_reason(nb, "cpu", paths)


# ---------------------------------------------------------------- silently wrong → named


def test_a_half_extracted_default_folder_is_refused_with_what_to_do(tmp_path):
    made = write_tiny_imagenet(tmp_path / "src", as_zip=True)
    zip_path = tmp_path / "data" / "tiny-imagenet-200.zip"  # the default location of the zip
    zip_path.parent.mkdir()
    zip_path.write_bytes(made.read_bytes())
    paths = tiny_paths(tmp_path)
    root = ti.locate(paths).location
    (root / ti.MARKER).unlink()  # as if Ctrl-C came before the marker
    with pytest.raises(ti.DatasetError, match=f"no {ti.MARKER} marker.*delete it.*{zip_path.name}"):
        ti.locate(paths)


@pytest.mark.parametrize("wrong", ["typo", "a_file", "empty"])
def test_a_wrong_moon_root_is_an_error_not_the_stand_in(tmp_path, wrong):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "empty").mkdir()
    paths = get_paths(env={"MOON_ROOT": str(tmp_path / wrong)}, root=tmp_path)
    expected = {
        "typo": "does not exist",
        "a_file": "is a file",
        "empty": "is not in the MOON_SEGMENTATION_BINARY layout: images/render and images/ground missing",
    }
    with pytest.raises(moon.MoonDataError, match=f"MOON_ROOT=.*{wrong} {expected[wrong]}"):
        moon.locate(paths)


def test_the_stand_in_is_announced_when_moon_root_is_unset(tmp_path, capsys):
    paths = get_paths(env={}, root=tmp_path)
    cached = moon.stand_in_dir(paths, 1000, 0, lunar_synth.VERSION)  # as if generated earlier
    cached.mkdir(parents=True)
    (cached / "GENERATED.txt").write_text("cached")
    source = moon.locate(paths, generate=False)
    assert source.kind == "generated"
    assert "MOON_ROOT is not set): using the GENERATED stand-in" in capsys.readouterr().out


def test_resuming_with_another_batch_size_or_other_data_is_refused(tmp_path):
    assert toy_process(tmp_path, "--signal", "INT", "--at", "2:1").returncode == 3
    other = toy_process(tmp_path, env={"TOY_BATCH": "16"})
    assert other.returncode != 0 and "RunMismatchError" in other.stderr
    assert "batch_size: 32 → 16" in other.stderr and "steps_per_epoch: 8 → 16" in other.stderr
    other = toy_process(tmp_path, env={"TOY_DATA_SEED": "5"})
    assert other.returncode != 0 and "data: " in other.stderr
    assert toy_process(tmp_path).returncode == 0  # the same settings resume


def test_zero_or_few_moon_pairs_and_damaged_zip_members_are_named(tmp_path):
    root = tmp_path / "moon"
    for n in ("0001", "0002"):
        (root / "images" / "render").mkdir(parents=True, exist_ok=True)
        (root / "images" / "ground").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 16)).save(root / "images" / "render" / f"render{n}.png")
        Image.new("L", (16, 16)).save(root / "images" / "ground" / f"ground{n}.png")
    data = moon.load(Source(moon.NAME, "real", root), get_paths(env={}, root=tmp_path))
    with pytest.raises(moon.MoonDataError, match="holds 2 pair.*at least 5"):
        moon.make_split(data)

    good = write_tiny_imagenet(tmp_path / "src", as_zip=True)
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(".JPEG"))
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + 10] ^= 0xFF  # one flipped byte: a CRC error
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ti.DatasetError, match=f"member '{info.filename}' is damaged"):
        ti.locate(tiny_paths(tmp_path, TINY_IMAGENET=str(bad)))
    assert not (tmp_path / "data" / "tiny-imagenet-200").exists()
    assert not (tmp_path / "data" / ".tiny-imagenet-200.extracting").exists()


def test_masks_stored_as_0_1_are_accepted_and_others_refused(tmp_path):
    path = tmp_path / "m.png"
    mask = np.zeros((8, 8), np.uint8)
    mask[2:4, 2:4] = 1
    Image.fromarray(mask).save(path)
    assert moon.read_mask(path).sum() == 4
    Image.fromarray(np.stack([mask] * 3, -1)).save(path)
    assert moon.read_mask(path).sum() == 4
    mask[0, 0] = 7
    Image.fromarray(mask).save(path)
    with pytest.raises(moon.MoonDataError, match="neither 0/255 nor 0/1"):
        moon.read_mask(path)


# ---------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_damaged_checkpoints_name_the_file_and_the_way_out(tmp_path, damage):
    paths = get_paths(env={}, root=tmp_path)
    assert toy_process(tmp_path, "--signal", "INT", "--at", "3:0").returncode == 3
    for path in (paths.weights("toy"), paths.run_dir("toy") / "last.pt"):
        data = path.read_bytes()
        path.write_bytes({"truncated": data[: len(data) // 3], "empty": b"", "garbage": os.urandom(300)}[damage])
    with pytest.raises(CheckpointError, match=r"weights/toy.pt \(final weights\) cannot be read.*Restore it"):
        runlog.load_weights(paths.weights("toy"))
    done = toy_process(tmp_path)
    assert done.returncode != 0 and "last.pt (resumable state) cannot be read" in done.stderr
    assert "Delete it to restart toy" in done.stderr


def test_a_crafted_pickle_in_last_pt_is_refused_not_run(tmp_path):
    paths = get_paths(env={}, root=tmp_path)
    assert toy_process(tmp_path, "--signal", "INT", "--at", "2:0").returncode == 3
    proof = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (proof,))

    with open(paths.run_dir("toy") / "last.pt", "wb") as f:
        pickle.dump({"epoch": Exploit()}, f)
    done = toy_process(tmp_path)
    assert done.returncode != 0 and "cannot be read" in done.stderr
    assert not proof.exists()


def test_last_pt_loads_with_weights_only(tmp_path):
    paths = get_paths(env={}, root=tmp_path)
    assert toy_process(tmp_path, "--signal", "INT", "--at", "3:0").returncode == 3
    state = torch.load(paths.run_dir("toy") / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and set(state["rng"]) == {"torch", "numpy", "python", "cuda"}


def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    def full(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")

    monkeypatch.setattr(runlog.torch, "save", full)
    with pytest.raises(OSError, match=r"could not write .*w.pt .*MiB free on that disk.*previous w.pt"):
        runlog.save_torch(tmp_path / "w.pt", {"x": torch.ones(1)})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the main job


def test_unknown_notebook_prefix_is_an_error(tmp_path):
    with pytest.raises(pipeline.PipelineError, match="no notebook starts with '5'"):
        pipeline.run("smoke", notebook_dir=tmp_path, only=("5",))


@pytest.mark.slow
def test_a_failing_notebook_is_named_and_keeps_its_outputs(tmp_path):
    nb = tmp_path / "02_unet_base.ipynb"
    cells = [
        new_code_cell("PROFILE = 'auto'\nSEED = 0", metadata={"tags": ["parameters"]}),
        new_code_cell("print('committed output')"),
        new_code_cell("1 / 0"),
    ]
    cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="committed output\n")]
    nbformat.write(
        new_notebook(
            cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
        ),
        nb,
    )
    before = nb.read_bytes()
    # papermill inserts the injected-parameters cell, so 1 / 0 is the fourth cell to run
    with pytest.raises(pipeline.NotebookError, match=r"02_unet_base.ipynb: cell \[4\] failed with ZeroDivisionError"):
        pipeline.execute_notebook(nb, "smoke", log_output=False)
    assert nb.read_bytes() == before  # outputs not wiped
    failed = nbformat.read(tmp_path / "02_unet_base.failed.ipynb", as_version=4)
    assert any(o.output_type == "error" for c in failed.cells for o in c.get("outputs", []))
    assert not list(tmp_path.glob(".*.running.ipynb"))


# ---------------------------------------------------------------- real processes, real signals


def toy_process(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``toy_training.py ROOT *args``: a real process when it is to be killed (SIGKILL), else the same
    ``main`` in this process — SIGINT raises KeyboardInterrupt here as in a terminal — with the same settings
    (one thread; an exception is exit status 1 with its traceback on stderr), which saves a process start-up
    of several seconds per call."""
    if "KILL" in args:
        return subprocess.run(
            [sys.executable, str(HERE / "toy_training.py"), str(root), *args],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(HERE), **(env or {})},
        )
    import toy_training

    out, err, threads, save = io.StringIO(), io.StringIO(), torch.get_num_threads(), torch.save
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = toy_training.main([str(root), *args])
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        torch.set_num_threads(threads)
        torch.save = save  # --at save:N replaces it to stop a write half-way
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return subprocess.CompletedProcess(["toy_training.py", str(root)], code, out.getvalue(), err.getvalue())


def final_weights(root: Path) -> dict:
    return runlog.load_weights(get_paths(env={}, root=root).weights("toy"))["state_dict"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    done = toy_process(root)
    assert done.returncode == 0, done.stderr
    return final_weights(root), runlog.RunLog(root / "runs" / "toy").metrics()


@pytest.mark.parametrize("sig", ["INT", "KILL"])
@pytest.mark.parametrize("at", ["2:3", "save:2"])
def test_killed_training_resumes_to_bit_identical_weights(tmp_path, uninterrupted, sig, at):
    killed = toy_process(tmp_path, "--signal", sig, "--at", at)
    assert killed.returncode == (3 if sig == "INT" else -9), killed.stderr
    if sig == "INT":
        assert "1 finished epoch(s) are saved" in killed.stdout  # not the epoch cut mid-write
    resumed = toy_process(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after epoch 1 of 4" in resumed.stdout
    reference, metrics = uninterrupted
    weights = final_weights(tmp_path)
    assert weights.keys() == reference.keys()
    assert all(torch.equal(weights[k], reference[k]) for k in reference)

    def without_times(records):
        return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in records]

    assert without_times(runlog.RunLog(tmp_path / "runs" / "toy").metrics()) == without_times(metrics)
    assert not list((tmp_path / "runs" / "toy").glob("*.tmp")) and not list((tmp_path / "weights").glob("*.tmp"))
