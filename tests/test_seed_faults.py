"""Part 3's seeds when something is off: a seed's counts missing, empty, truncated or listing the images in
another order; a finished seed made with another recipe; Ctrl-C in seed 0's training or in an extra seed.
Each case says what is wrong, naming the seed and the file, and what to do."""

import json
import re
import shutil
import warnings
from dataclasses import replace

import pytest
from run_logs import CLS, PLAIN, TUNED, tiny_unet, train_segmentation, write_finished_run

from tinyseg import runs as run_table
from tinyseg import segment
from tinyseg.callbacks import Callback
from tinyseg.checkpoint import FinishedRunError, RunMismatchError
from tinyseg.data.fixtures import write_moon_layout
from tinyseg.device import select_runtime
from tinyseg.paths import get_paths
from tinyseg.report import difference_table, headline, seed_table, segmentation_seeds, training_line
from tinyseg.report import seeds as seed_report
from tinyseg.report.seeds import NOTE, SeedCountsWarning
from tinyseg.runlog import OVERLAPS, RunLog, read_json, write_json
from tinyseg.session import Session

# A tiny U-Net trained for one step per seed: the whole module trains for a few seconds.
SPEC = tiny_unet("faulty", seeds=3)


class InterruptAtFirstEpoch(Callback):
    """Ctrl-C as the first epoch starts."""

    def on_epoch_start(self, state):
        if state.epoch == 1:
            raise KeyboardInterrupt


def open_project(root):
    """The session and data of a project folder laid out by :func:`trained` (pairs, a check set, runs)."""
    paths = get_paths(env={"MOON_ROOT": str(root / "moon"), "MOON_CHECK_ROOT": str(root / "check")}, root=root)
    session = Session("smoke", 0, select_runtime("cpu", precision="fp32", channels_last=False, verbose=False), paths)
    pairs = segment.moon.load(segment.moon.locate(paths, profile="smoke"), paths)
    check = segment.moon.load(segment.moon.locate_check(paths), paths)
    return session, segment.SegmentData(pairs, segment.moon.make_split(pairs), check)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Seeds 0–2 of SPEC, finished, with their weights and counts (trained once for the module)."""
    root = tmp_path_factory.mktemp("trained")
    write_moon_layout(root / "moon", n=10, seed=1)
    write_moon_layout(root / "check", n=3, seed=2, start=100)
    session, data = open_project(root)
    assert train_segmentation(SPEC, session, data).done
    assert segment.train_seeds(SPEC, data, session) == ["faulty-seed1", "faulty-seed2"]
    return root


@pytest.fixture
def project(trained, tmp_path, monkeypatch):
    """A copy of the trained project, with SPEC as the only run of the table."""
    monkeypatch.setattr(run_table, "RUNS", {SPEC.name: SPEC})
    root = shutil.copytree(trained, tmp_path / "project")
    return open_project(root)


# --- 1, 7: a seed's counts missing or empty; rebuilt from its weights, or the right advice without them


@pytest.mark.parametrize("damage", ["missing", "empty", "truncated"])
def test_train_seeds_rebuilds_a_seeds_counts_from_its_weights(project, damage):
    session, data = project
    originals = {}
    for run in ("faulty", "faulty-seed1"):  # seed 0 (committed weights) and an extra seed (working weights)
        file = session.paths.run_dir(run) / OVERLAPS
        originals[run] = json.loads(file.read_text())
        if damage == "missing":
            file.unlink()
        else:
            file.write_text("{}" if damage == "empty" else file.read_text()[:40])
    segment.train_seeds(SPEC, data, session)
    for run, counts in originals.items():
        assert json.loads((session.paths.run_dir(run) / OVERLAPS).read_text()) == counts


def test_without_weights_the_error_says_to_retrain_that_seed_not_to_check_it_out(project, capsys):
    session, data = project
    (session.paths.run_dir("faulty-seed2") / OVERLAPS).unlink()
    session.paths.weights("faulty-seed2").unlink()  # a fresh clone: other seeds' weights are never committed
    with pytest.raises(FinishedRunError) as error:
        segment.train_seeds(SPEC, data, session)
    message = str(error.value)
    assert "runs/faulty-seed2/overlaps.json is missing" in message and "weights/faulty-seed2.pt" in message
    assert "delete runs/faulty-seed2" in message and "git checkout" not in message
    # the engine's own message for a seed run without weights (a direct segment.train) says the same
    with pytest.raises(FinishedRunError) as error:
        train_segmentation(SPEC, session, data, seed=2)
    assert "Delete runs/faulty-seed2" in str(error.value) and "git checkout" not in str(error.value)


# --- 1, 2, 3: the report names the seed and the file whose counts it leaves out; images matched by name

VAL, CHECK = ["1", "2", "3", "4"], ["0100", "0101", "0102", "0103", "0104"]


@pytest.fixture
def logs(tmp_paths, monkeypatch):
    """Plain and Tuned, two finished seeds each, with per-image counts on both sets."""
    monkeypatch.setattr(run_table, "RUNS", {s.name: s for s in (CLS, PLAIN, TUNED)})
    for k, run in enumerate(["plain", "plain-seed1", "tuned", "tuned-seed1"]):
        write_finished_run(tmp_paths, run, [{"epoch": 1, "seconds": 60.0, "val_iou": 0.5 + k / 20}])
        counts = {
            "val": {"pairs": VAL, "intersection": [4 + k, 5, 3 + k, 6], "union": [10, 10, 10, 10]},
            "check": {"pairs": CHECK, "intersection": [1, 2 + k, 0, 3, k], "union": [5, 6, 4, 7, 5]},
        }
        write_json(tmp_paths.run_dir(run) / OVERLAPS, counts)
    return tmp_paths


@pytest.mark.parametrize(
    "damage, problem",
    [
        ("missing", "is missing"),
        ("empty", "holds no counts"),
        ("truncated", "cannot be read (JSONDecodeError"),
    ],
)
def test_a_seed_without_readable_counts_is_named_in_the_tables_and_the_headline(logs, damage, problem):
    file = logs.run_dir("tuned-seed1") / OVERLAPS
    if damage == "missing":
        file.unlink()
    else:
        file.write_text("{}" if damage == "empty" else file.read_text()[:50])
    with pytest.warns(
        SeedCountsWarning, match=re.escape(f"tuned-seed1: runs/tuned-seed1/overlaps.json {problem}")
    ) as caught:
        seeds = segmentation_seeds(logs)
    assert "delete runs/tuned-seed1 to retrain seed 1" in str(caught[0].message)
    assert seeds["tuned"].n == 2 and seeds["tuned"].counts("val") is None  # not mixed with the other seed's
    table = difference_table(seeds)
    assert "у сида 1 нет подсчётов по снимкам (runs/tuned-seed1/overlaps.json" in table.loc["Tuned − Plain", NOTE]
    assert "runs/tuned-seed1/overlaps.json" in seed_table(seeds).loc["Tuned", NOTE]
    text = headline({}, seeds)
    assert "**Главный вопрос части 3**" in text and "пока не посчитан" in text
    assert "Tuned: у сида 1 нет подсчётов по снимкам (runs/tuned-seed1/overlaps.json" in text
    assert "runs/tuned-seed1/overlaps.json" in seed_report.summary_table(seeds).loc["Tuned", NOTE]


def test_all_counts_in_place_add_no_note(logs):
    seeds = segmentation_seeds(logs)
    assert NOTE not in difference_table(seeds) and NOTE not in seed_table(seeds)
    assert "Не всё из журналов" not in headline({}, seeds)


def permute(file, which, order):
    counts = json.loads(file.read_text())
    c = counts[which]
    counts[which] = {k: [c[k][i] for i in order] for k in ("pairs", "intersection", "union")}
    file.write_text(json.dumps(counts))


def test_counts_listing_the_images_in_another_order_are_matched_by_pair_name(logs):
    expected = segmentation_seeds(logs)
    permute(logs.run_dir("tuned-seed1") / OVERLAPS, "check", [4, 2, 0, 1, 3])  # the same seed's file, reordered
    for run in ("tuned", "tuned-seed1"):
        permute(logs.run_dir(run) / OVERLAPS, "val", [3, 2, 1, 0])  # a whole run in another order than Plain
    seeds = segmentation_seeds(logs)
    assert seeds["tuned"].iou("check") == expected["tuned"].iou("check")
    for which in ("val", "check"):
        assert seed_report.differences(seeds, which)["tuned"] == seed_report.differences(expected, which)["tuned"]
    assert NOTE not in difference_table(seeds)


def test_counts_on_other_images_are_left_out_with_a_note(logs):
    file = logs.run_dir("tuned-seed1") / OVERLAPS
    counts = json.loads(file.read_text())
    counts["check"]["pairs"] = ["0100", "0101", "0102", "0103", "0199"]
    file.write_text(json.dumps(counts))
    with pytest.warns(SeedCountsWarning, match="runs/tuned-seed1/overlaps.json lists other pairs on 'check'"):
        seeds = segmentation_seeds(logs)
    assert seeds["tuned"].counts("check") is None and seeds["tuned"].counts("val") is not None
    note = difference_table(seeds).loc["Tuned − Plain", NOTE]
    assert "сид 1 оценён на других снимках набора «реальные рендеры» (4 общих из 5 и 5" in note


def test_the_seeds_of_named_runs_only_read_and_warn_about_those_runs(logs):
    file = logs.run_dir("tuned-seed1") / OVERLAPS
    file.write_text("{}")  # a fault in another run's seed: notebook 02 reads only its own run and says nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seeds = segmentation_seeds(logs, ["plain"])
    assert list(seeds) == ["plain"] and seeds["plain"].n == 2
    with pytest.warns(SeedCountsWarning, match="tuned-seed1"):  # read with the others, the fault is said
        segmentation_seeds(logs)


# --- 4: a finished seed made with another recipe is not reused


def test_a_finished_seed_made_with_another_recipe_is_refused(project):
    session, data = project
    config_path = RunLog(session.paths.run_dir("faulty-seed1")).config_path
    config = read_json(config_path)
    config["signature"]["recipe"]["epochs"] = 2  # as if trained with 2 epochs among 1-epoch runs
    write_json(config_path, config)
    with pytest.raises(RunMismatchError) as error:
        segment.train_seeds(SPEC, data, session)
    message = str(error.value)
    assert "runs/faulty-seed1 holds seed 1 of faulty, finished but made differently" in message
    assert "recipe.epochs: 2 → 1" in message and "Delete runs/faulty-seed1" in message


# --- 5: Ctrl-C in seed 0's training: the line after it, the seeds cell, the seed table


def test_the_line_after_an_interrupted_training_says_how_to_go_on(project):
    session, data = project
    spec = replace(SPEC, name="stopped")
    state = train_segmentation(spec, session, data, callbacks=(InterruptAtFirstEpoch(),))
    assert state.status == "interrupted"
    assert training_line(session.paths, "stopped") == (
        "stopped: прерван после эпохи 0 из 1; выполните ячейку ещё раз, чтобы продолжить"
    )
    # interrupted in epoch 2, with epoch 1 the best so far
    history = [{"epoch": 1, "seconds": 30.0, "val_iou": 0.4}]
    log = write_finished_run(session.paths, "later", history)
    log.write_summary(replace(log.summary(), status="interrupted", epochs_planned=3))
    assert training_line(session.paths, "later") == (
        "later: прерван после эпохи 1 из 3; лучшая пока эпоха 1 (IoU на валидации 0.400); выполните ячейку ещё раз, чтобы "
        "продолжить"
    )


def test_the_seeds_cell_refuses_to_start_before_seed_0_is_finished(project):
    session, data = project
    for run in SPEC.ids():  # a fresh project: seed 0 interrupted in its second epoch, no other seed yet
        shutil.rmtree(session.paths.run_dir(run))
    history = [{"epoch": 1, "seconds": 30.0, "val_iou": 0.4}]
    log = write_finished_run(session.paths, "faulty", history)
    log.write_summary(replace(log.summary(), status="interrupted", epochs_planned=3))
    with pytest.raises(RuntimeError, match=r"faulty: seed 0 is not finished \(runs/faulty: interrupted after epoch 1"):
        segment.train_seeds(SPEC, data, session)
    assert not session.paths.run_dir("faulty-seed1").exists()  # nothing trained
    seeds = segmentation_seeds(session.paths)
    assert "faulty" not in seeds
    table = seed_table({SPEC.name: seeds[SPEC.name]})  # as notebook 02 asks for it: no KeyError
    assert table.loc["Tiny", "сидов"] == 0
    assert table.loc["Tiny", NOTE].startswith("сид 0 не завершён (interrupted, эпох 1 из 3; runs/faulty)")
    assert seed_table(seeds).loc["Tiny", NOTE] == table.loc["Tiny", NOTE]


# --- 6: Ctrl-C in an extra seed stops the cell; the seeds finished before stay


def test_ctrl_c_in_an_extra_seed_stops_the_cell(project, capsys):
    session, data = project
    shutil.rmtree(session.paths.run_dir("faulty-seed2"))
    session.paths.weights("faulty-seed2").unlink()
    with pytest.raises(KeyboardInterrupt):
        segment.train_seeds(SPEC, data, session, callbacks=(InterruptAtFirstEpoch(),))
    assert "faulty-seed2: interrupted after epoch 0 of 1" in capsys.readouterr().out
    assert RunLog(session.paths.run_dir("faulty-seed1")).is_finished()
    assert (session.paths.run_dir("faulty-seed1") / OVERLAPS).exists()
    assert RunLog(session.paths.run_dir("faulty-seed2")).summary().status == "interrupted"
    assert segment.train_seeds(SPEC, data, session) == ["faulty-seed1", "faulty-seed2"]  # the cell again: resumed
