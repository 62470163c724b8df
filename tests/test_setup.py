"""The set-up files agree with each other: one source of truth for dependencies."""

import re
import tomllib

from tinyseg.paths import project_root

ROOT = project_root()


def _pyproject_deps() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def _environment_pip_section() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    items = []
    for line in lines[start + 1:]:
        m = re.match(r"^\s+- (.+)$", line)
        if not m:
            break
        items.append(m.group(1).strip())
    return items


def test_every_dependency_is_pinned_exactly():
    for dep in _pyproject_deps():
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.+]*", dep), dep
    names = {d.split("==")[0] for d in _pyproject_deps()}
    assert {"torch", "torchvision", "torchmetrics", "numpy", "pillow", "matplotlib", "seaborn",
            "scikit-learn", "jupyter", "nbconvert", "tqdm", "papermill", "pytest"} <= names
    assert "torch==2.14.1" in _pyproject_deps() and "torchvision==0.29.1" in _pyproject_deps()


def test_environment_yml_installs_the_same_pins():
    pip_items = _environment_pip_section()
    assert pip_items[-1] == "-e ."
    assert sorted(pip_items[:-1]) == sorted(_pyproject_deps())


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for dep in _pyproject_deps():
        name, pinned = dep.split("==")
        assert version(name) == pinned, f"{name}: installed {version(name)}, pinned {pinned}"
