from pathlib import Path

import pytest
import torch

from tinyseg.device import resolve_profile, select_runtime
from tinyseg.paths import get_paths, project_root


def test_defaults_live_in_the_repository():
    root = project_root()
    assert (root / "pyproject.toml").is_file()
    paths = get_paths(env={})
    assert paths.data_dir == root / "data"
    assert paths.tiny_imagenet == root / "data" / "tiny-imagenet-200"
    assert paths.moon_root == root / "data" / "MOON_SEGMENTATION_BINARY"
    assert paths.weights_dir == root / "weights"
    assert paths.runs_dir == root / "runs"
    assert paths.weights("unet_base") == root / "weights" / "unet_base.pt"


def test_environment_overrides_defaults(tmp_path):
    env = {
        "DATA_DIR": str(tmp_path / "d"),
        "TINY_IMAGENET": str(tmp_path / "ti.zip"),
        "MOON_ROOT": "",
        "WEIGHTS_DIR": str(tmp_path / "w"),
        "RUNS_DIR": str(tmp_path / "r"),
    }
    paths = get_paths(env=env, root=tmp_path / "repo")
    assert paths.data_dir == tmp_path / "d"
    assert paths.tiny_imagenet == tmp_path / "ti.zip"
    # an empty variable counts as unset: the default follows DATA_DIR
    assert paths.moon_root == tmp_path / "d" / "MOON_SEGMENTATION_BINARY"
    assert paths.cache_dir == tmp_path / "d" / "cache"
    assert paths.run_dir("x") == tmp_path / "r" / "x"
    assert paths.reports_dir == tmp_path / "repo" / "reports"


def test_relative_and_home_paths_are_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    paths = get_paths(env={"DATA_DIR": "somewhere", "RUNS_DIR": "~/runs"})
    assert paths.data_dir == tmp_path / "somewhere"
    assert paths.runs_dir == Path.home() / "runs"


def test_profiles():
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert resolve_profile("auto") == expected
    assert resolve_profile("SMOKE") == "smoke"
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        resolve_profile("fast")


def test_cpu_runtime_picks_a_precision_and_reports_it(capsys):
    rt = select_runtime("cpu")
    assert rt.device.type == "cpu"
    assert rt.precision in ("bf16", "fp32")
    assert "runtime: cpu" in capsys.readouterr().out
    with rt.autocast():
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == (torch.bfloat16 if rt.precision == "bf16" else torch.float32)
    assert select_runtime("cpu", "fp32", verbose=False).amp_dtype is None
    with pytest.raises(ValueError, match="fp16"):
        select_runtime("cpu", "fp16", verbose=False)


@pytest.mark.parametrize("where", ["repo", "parent"])
def test_the_assignments_data_paths_are_found_without_variables(tmp_path, where):
    from tinyseg.data import moon, tiny_imagenet
    from tinyseg.data.fixtures import write_moon_check, write_tiny_imagenet

    repo = tmp_path / "course" / "project"
    base = repo if where == "repo" else repo.parent
    source = write_tiny_imagenet(base / "sem2" / "data" / "src", classes=3, train_per_class=4, val_per_class=2)
    (base / "sem2" / "data" / "src" / "tiny-imagenet-200").rename(base / "sem2" / "data" / "tiny-imagenet-200")
    moon_dir = (
        base / "designing_neural_network_architectures_2025_01" / "seminar_03" / "data" / "MOON_SEGMENTATION_BINARY"
    )
    write_moon_check(moon_dir, n=6)
    paths = get_paths(env={}, root=repo)
    assert paths.tiny_imagenet == base / "sem2" / "data" / "tiny-imagenet-200"
    assert paths.moon_root == moon_dir
    found = tiny_imagenet.locate(paths, profile="smoke", download=False)  # a small fixture
    assert found.location == paths.tiny_imagenet and found.kind == "real"
    assert tiny_imagenet.load(found, paths).num_classes == 3
    located = moon.locate(paths, generate=False)
    assert located.kind == "real" and located.location == moon_dir
    expected = "sem2/data/tiny-imagenet-200" if where == "repo" else "../sem2/data/tiny-imagenet-200"
    assert paths.relative(found.location) == expected  # notebooks print it relative
    # tiny-imagenet-200/ at the top level comes before sem2/data/
    write_tiny_imagenet(base / "top", classes=2, train_per_class=2, val_per_class=1)
    (base / "top" / "tiny-imagenet-200").rename(base / "tiny-imagenet-200")
    assert get_paths(env={}, root=repo).tiny_imagenet == base / "tiny-imagenet-200"
    # a variable still wins
    assert get_paths(env={"TINY_IMAGENET": str(source)}, root=repo).tiny_imagenet == source


def test_course_dir_is_where_the_assignments_locations_are_looked_for(tmp_path):
    from tinyseg.paths import ASSIGNMENT_MOON

    repo, course = tmp_path / "repo", tmp_path / "elsewhere"
    beside = repo.parent / ASSIGNMENT_MOON[0]
    (beside / "images").mkdir(parents=True)
    assert get_paths(env={}, root=repo).moon_root == beside  # default: the repository's parent folder
    # COURSE_DIR alone: the folder beside the repository is not looked at (make smoke stays off the course's data)
    assert get_paths(env={"COURSE_DIR": str(course)}, root=repo).moon_root == repo / "data" / "MOON_SEGMENTATION_BINARY"
    (course / ASSIGNMENT_MOON[0]).mkdir(parents=True)
    assert get_paths(env={"COURSE_DIR": str(course)}, root=repo).moon_root == course / ASSIGNMENT_MOON[0]
