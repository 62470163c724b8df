"""The set-up files agree with each other: one source of truth for dependencies."""

import re
import subprocess

import pytest
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
    for line in lines[start + 1 :]:
        m = re.match(r"^\s+- (.+)$", line)
        if not m:
            break
        items.append(m.group(1).strip())
    return items


def test_every_dependency_is_pinned_exactly():
    for dep in _pyproject_deps():
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.+]*", dep), dep
    names = {d.split("==")[0] for d in _pyproject_deps()}
    assert {
        "torch",
        "torchvision",
        "torchmetrics",
        "numpy",
        "pillow",
        "matplotlib",
        "seaborn",
        "scikit-learn",
        "jupyter",
        "nbconvert",
        "tqdm",
        "papermill",
        "pytest",
    } <= names
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


# an absolute path of a machine: /home/..., /root/..., /tmp/..., C:\... (not inside base64 or a URL path)
ABSOLUTE = re.compile(
    r"(?<![A-Za-z0-9+/._:-])(/(?:home|root|tmp|work|Users|mnt|srv|var|opt|data)/[^\s\"'<>]*"
    r"|[A-Za-z]:\\\\[^\s\"'<>]*)"
)


def _tracked(*patterns: str) -> list:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in out.stdout.splitlines() if line]


def test_committed_artefacts_hold_no_absolute_paths():
    files = _tracked("runs/*.json", "*.ipynb", "reports/*.html")  # git's * crosses folders
    if not files:
        pytest.skip("not a git checkout")
    found = {}
    for path in files:
        hits = ABSOLUTE.findall(path.read_text(encoding="utf-8"))
        if hits:
            found[str(path.relative_to(ROOT))] = sorted(set(hits))[:3]
    assert not found, f"absolute paths in committed files (write them with Paths.relative): {found}"


def test_the_absolute_path_check_catches_what_it_should():
    assert ABSOLUTE.findall('"weights": "/work/main/weights/unet_base.pt"') == ["/work/main/weights/unet_base.pt"]
    assert ABSOLUTE.findall("runs: /root/project/runs\\n") == ["/root/project/runs\\n"]
    assert not ABSOLUTE.findall('"weights": "weights/unet_base.pt", "src": "../shared/data/x.zip"')
    assert not ABSOLUTE.findall('"image/png": "iVBORw0KGgo/work/AAA+/tmp/x"')  # base64, not a path
