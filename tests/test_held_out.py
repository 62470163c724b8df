"""The test set of the segmentation runs: the stand-in's separately generated set (or real data's test part of
the split) is evaluated into overlaps.json and named in the data record, never in the run's training identity;
runs logged before it existed are completed from their weights, or said to lack it."""

import shutil

import pytest
from run_logs import tiny_unet, train_segmentation

from tinyseg import report, segment
from tinyseg import runs as run_table
from tinyseg.data import moon
from tinyseg.data.fixtures import write_moon_layout
from tinyseg.device import select_runtime
from tinyseg.metrics import ROCK_SIZES
from tinyseg.paths import get_paths
from tinyseg.runlog import OVERLAPS, RunLog, read_json, write_json
from tinyseg.session import Session

SPEC = tiny_unet("tiny", seeds=2)


def open_project(root, held_out=True):
    """Session and data: a generated set of 10 pairs, a separately generated test set of 4 (or none), a check set."""
    paths = get_paths(env={"MOON_ROOT": str(root / "moon"), "MOON_CHECK_ROOT": str(root / "check")}, root=root)
    session = Session("smoke", 0, select_runtime("cpu", precision="fp32", channels_last=False, verbose=False), paths)
    pairs = moon.load(moon.locate(paths, profile="smoke"), paths)
    test = moon.load(moon.Source(moon.NAME, "generated", root / "test"), paths) if held_out else None
    check = moon.load(moon.locate_check(paths), paths)
    return session, segment.SegmentData(pairs, moon.make_split(pairs), check, test)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("held_out")
    write_moon_layout(root / "moon", n=10, seed=1, generated=True)
    write_moon_layout(root / "test", n=4, seed=3, generated=True)
    write_moon_layout(root / "check", n=4, seed=2, start=100)
    session, data = open_project(root)
    assert train_segmentation(SPEC, session, data).done
    assert segment.train_seeds(SPEC, data, session) == ["tiny-seed1"]
    return root


@pytest.fixture
def project(trained, tmp_path, monkeypatch):
    monkeypatch.setattr(run_table, "RUNS", {SPEC.name: SPEC})
    return shutil.copytree(trained, tmp_path / "project")


def test_the_test_set_is_counted_and_recorded_but_is_no_part_of_the_training_identity(project):
    session, data = open_project(project)
    log = RunLog(session.paths.run_dir("tiny"))
    record = log.summary().data
    assert record.train == 8 and record.val == 2  # the stand-in's split has no test part
    assert record.test.kind == "generated" and record.test.location == "test" and record.test.pairs == 4
    assert record.test == data.test_record(session.paths) and log.config().info.data.test == record.test
    without = open_project(project, held_out=False)[1]
    assert segment.data_identity(without) == segment.data_identity(data) == record.identity
    assert log.config().signature["data"] == record.identity
    counts = read_json(log.overlaps_path)
    assert counts["test"]["pairs"] == ["0000", "0001", "0002", "0003"]
    assert counts["test"]["data"]["identity"] == record.test.identity
    assert len(counts["check"]["rocks"]) == 4 and all(len(r) == len(ROCK_SIZES) for r in counts["check"]["found"])
    assert all(f <= r for rr, ff in zip(counts["check"]["rocks"], counts["check"]["found"]) for r, f in zip(rr, ff))
    images, masks = data.test()  # the masks' and the prediction's rock pixels: Dice and pixel accuracy from logs
    assert (
        counts["test"]["truth"] == masks.bool().sum(dim=(1, 2, 3)).tolist()
        and counts["test"]["pixels"] == masks[0].numel()
    )
    for c in (counts[w] for w in ("val", "test", "check")):
        assert all(
            i <= min(p, t) and max(p, t) <= u <= p + t - i
            for i, u, p, t in zip(c["intersection"], c["union"], c["predicted"], c["truth"])
        )
    assert len(counts["test"]["rocks"]) == 4
    assert segment.overlaps_problem(log.overlaps_path, True, data.test_record(session.paths)) is None
    table = report.data_table(report.load_runs(session.paths), session.paths)  # the report names the test set
    assert table.loc["тестовый набор", "где (относительно репозитория)"] == "test"
    assert table.loc["тестовый набор", "обучение / валидация"] == "— / 4"


def test_counts_of_a_run_logged_before_the_test_set_are_added_from_its_weights(project, capsys):
    session, data = open_project(project)
    for run in ("tiny", "tiny-seed1"):  # as the committed runs: no test counts, no per-rock counts
        file = session.paths.run_dir(run) / OVERLAPS
        counts = read_json(file)
        del counts["test"], counts["check"]["rocks"], counts["check"]["found"], counts["check"]["rock_sizes"]
        write_json(file, counts)
    assert segment.overlaps_problem(file, True, data.test_record(session.paths)) == segment.NO_ROCK_COUNTS
    session.paths.weights("tiny-seed1").unlink()  # a fresh clone: other seeds' weights are never committed
    train_segmentation(SPEC, session, data)  # seed 0, finished: reused, its counts rebuilt from its weights
    assert read_json(session.paths.run_dir("tiny") / OVERLAPS)["test"]["data"]["identity"] == (
        data.test_record(session.paths).identity
    )
    capsys.readouterr()
    segment.train_seeds(SPEC, data, session)  # seed 1 has no weights: said, not an error; the report says it too
    out = capsys.readouterr().out
    assert "tiny-seed1: runs/tiny-seed1/overlaps.json has no per-rock counts on the real check set" in out
    assert "cannot be added" in out
    assert "test" not in read_json(session.paths.run_dir("tiny-seed1") / OVERLAPS)


def test_counts_on_another_test_set_are_redone(project):
    session, data = open_project(project)
    file = session.paths.run_dir("tiny") / OVERLAPS
    counts = read_json(file)
    counts["test"]["data"]["identity"] = "0" * 16
    write_json(file, counts)
    assert segment.overlaps_problem(file, True, data.test_record(session.paths)) == segment.OTHER_TEST
    train_segmentation(SPEC, session, data)
    assert segment.overlaps_problem(file, True, data.test_record(session.paths)) is None


def test_real_data_is_tested_on_the_test_part_of_its_split(tmp_path):
    write_moon_layout(tmp_path / "moon", n=20, seed=1)  # no GENERATED.txt: read as the real data set
    paths = get_paths(env={"MOON_ROOT": str(tmp_path / "moon")}, root=tmp_path)
    source = moon.locate(paths, profile="smoke")
    assert source.kind == "real" and moon.locate_test(paths, source, profile="smoke") is None
    pairs = moon.load(source, paths)
    data = segment.SegmentData(pairs, moon.make_split(pairs))
    assert data.has_test and data.test_numbers() == data.split.test and len(data.split.test) == 3
    images, masks = data.test()
    assert len(images) == len(masks) == 3
    record = data.test_record(paths)
    assert record.kind == "real" and record.location == "moon" and record.pairs == 3
    assert not set(data.split.test) & set(data.split.train + data.split.val)
    with pytest.raises(ValueError, match="a test set twice"):
        segment.SegmentData(pairs, data.split, None, pairs)
