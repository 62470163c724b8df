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
    env = {"DATA_DIR": str(tmp_path / "d"), "TINY_IMAGENET": str(tmp_path / "ti.zip"),
           "MOON_ROOT": "", "WEIGHTS_DIR": str(tmp_path / "w"), "RUNS_DIR": str(tmp_path / "r")}
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
