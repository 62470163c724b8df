"""Two processes at once: a run, the main job and the stand-in's folder each have one user at a time
(``tinyseg.locks``); the other is told who is in the way, and a killed holder frees its lock."""

import os
import subprocess
import sys
import threading
import time

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from tinyseg import pipeline
from tinyseg.data import lunar_synth
from tinyseg.device import select_runtime
from tinyseg.engine import Objective, TrainConfig, fit
from tinyseg.locks import LockedError, hold, read_holder
from tinyseg.paths import get_paths

HOLD = """
import sys, time
from tinyseg.locks import hold
with hold(sys.argv[1], "held"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder():
    """``start(lock_path)``: another process that takes the lock and keeps it until it is killed."""
    started = []

    def start(lock_path):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(lock_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append(process)
        line = process.stdout.readline()
        assert line == "held\n", process.stderr.read()
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_a_held_lock_names_its_holder_and_a_killed_holder_frees_it(tmp_path, holder, capsys):
    lock = tmp_path / "runs" / "unet_base" / ".lock"
    other = holder(lock)
    with pytest.raises(
        LockedError, match=rf"^runs/unet_base is in use by pid {other.pid} \(python -c .*, started "
    ) as e:
        with hold(lock, "runs/unet_base"):
            pass
    assert str(e.value).endswith(": wait for it to finish or stop it") and e.value.holder["pid"] == other.pid
    # waiting gives up after the time allowed, and says whom it waited for
    with pytest.raises(LockedError, match=rf"pid {other.pid} .* after waiting 1 s"):
        with hold(lock, "runs/unet_base", wait=1):
            pass
    assert f"runs/unet_base is in use by pid {other.pid}" in capsys.readouterr().out
    other.kill()
    other.wait()
    assert lock.exists() and read_holder(lock)["pid"] == other.pid  # the stale file of the killed holder
    with hold(lock, "runs/unet_base"):  # is free: taken over
        assert read_holder(lock)["pid"] == os.getpid()
    assert not lock.exists()


def test_two_holds_of_one_process_conflict_and_a_waiting_one_gets_the_lock(tmp_path):
    lock, taken, release = tmp_path / ".lock", threading.Event(), threading.Event()

    def keep():
        with hold(lock, "the run"):
            taken.set()
            release.wait(10)

    thread = threading.Thread(target=keep)
    thread.start()
    try:
        assert taken.wait(10)
        with pytest.raises(LockedError, match=rf"the run is in use by this process \(pid {os.getpid()}"):
            with hold(lock, "the run"):
                pass
        threading.Timer(0.3, release.set).start()
        t0 = time.monotonic()
        with hold(lock, "the run", wait=10):
            assert time.monotonic() - t0 >= 0.2
    finally:
        release.set()
        thread.join()


def tiny_fit(paths, run="toy"):
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(16, 4, generator=g), torch.randint(0, 2, (16,), generator=g))
    loader = DataLoader(data, batch_size=8)
    return fit(
        nn.Linear(4, 2),
        loader,
        loader,
        cfg=TrainConfig(run=run, epochs=1, lr=0.1),
        objective=Objective(nn.functional.cross_entropy, MetricCollection({"acc": MulticlassAccuracy(2)})),
        runtime=select_runtime("cpu", "fp32", verbose=False),
        paths=paths,
        verbose=False,
    )


def test_a_run_another_process_trains_is_not_touched(tmp_path, holder):
    paths = get_paths(env={}, root=tmp_path)
    other = holder(paths.run_dir("toy") / ".lock")
    with pytest.raises(LockedError, match=rf"runs/toy is in use by pid {other.pid}"):
        tiny_fit(paths)
    assert sorted(p.name for p in paths.run_dir("toy").iterdir()) == [".lock"]  # no log line written
    other.kill()
    other.wait()
    assert tiny_fit(paths).epoch == 1
    assert len(paths.run_dir("toy").joinpath("metrics.jsonl").read_text().splitlines()) == 1
    assert not (paths.run_dir("toy") / ".lock").exists()


def test_a_second_main_job_stops_at_once_naming_the_first(tmp_path, holder, monkeypatch, capsys):
    for name in ("DATA_DIR", "RUNS_DIR", "WEIGHTS_DIR", "REPORTS_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    other = holder(tmp_path / "runs_dir" / ".pipeline.lock")
    t0 = time.monotonic()
    assert pipeline.main(["run", "--profile", "smoke"]) == 1
    assert time.monotonic() - t0 < 5
    err = capsys.readouterr().err
    assert f"(the main job) is in use by pid {other.pid} (python -c" in err and "wait for it to finish" in err


def test_a_forced_rerun_does_not_move_a_run_in_training(tmp_path, holder):
    paths = get_paths(env={}, root=tmp_path)
    run_dir = paths.run_dir("unet_base")
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text("{}\n")
    other = holder(run_dir / ".lock")
    with pytest.raises(LockedError, match=rf"runs/unet_base is in use by pid {other.pid}"):
        pipeline.archive_runs(tmp_path / "02_unet_base.ipynb", paths)
    assert (run_dir / "metrics.jsonl").exists()
    other.kill()
    other.wait()
    target = pipeline.archive_runs(tmp_path / "02_unet_base.ipynb", paths)
    assert not run_dir.exists()
    assert sorted(p.name for p in (target / "runs" / "unet_base").iterdir()) == ["metrics.jsonl"]


GENERATE = """
import sys
from tinyseg.data import lunar_synth
lunar_synth.generate(sys.argv[1], n=3, width=48, height=32)
"""


def test_two_processes_generating_into_one_folder(tmp_path, capsys):
    out = tmp_path / "stand_in"
    render_dir = out / "images" / "render"
    render_dir.mkdir(parents=True)
    (render_dir / "render0007.tmp.png").write_bytes(b"left by a killed generator")
    (render_dir / ".render0008.abc123.tmp").write_bytes(b"left by a killed generator")
    first = subprocess.Popen(
        [sys.executable, "-c", GENERATE, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while (holder := read_holder(out / ".generate.lock")) is None or holder["pid"] != first.pid:
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        lunar_synth.generate(out, n=3, width=48, height=32)  # waits for the first, then finds the pairs made
        assert first.wait(60) == 0, first.stderr.read()
    finally:
        first.kill()
        first.wait()
    said = capsys.readouterr().out
    assert f"is in use by pid {first.pid}" in said and "(generating the lunar scenes); waiting for it" in said
    names = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert names == ["GENERATED.txt"] + [f"ground{i:04d}.png" for i in range(3)] + [
        f"render{i:04d}.png" for i in range(3)
    ]
