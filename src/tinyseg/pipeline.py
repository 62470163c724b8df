"""The main job: execute the four notebooks top to bottom and export the report.

    python -m tinyseg.pipeline run            # in place, profile auto (gpu on CUDA, else cpu)
    python -m tinyseg.pipeline smoke          # tiny data, everything in a temporary folder

Each notebook runs with papermill (its ``parameters`` cell gets ``PROFILE`` and ``SEED``);
``run`` executes the committed notebooks in place, ``smoke`` executes copies and points
DATA_DIR/WEIGHTS_DIR/RUNS_DIR/REPORTS_DIR at the temporary folder, so it never touches
committed notebooks, weights or logs. The report is exported to ``REPORTS_DIR/report.html``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .device import resolve_profile
from .paths import get_paths, project_root

NOTEBOOKS = ("01_classifier.ipynb", "02_unet_base.ipynb", "03_unet_backbone.ipynb", "04_report.ipynb")


@contextmanager
def _step(name: str):
    print(f"\n=== {name} ...", flush=True)
    t0 = time.time()
    yield
    print(f"=== {name}: done in {time.time() - t0:.0f} s", flush=True)


def execute_notebook(path: Path, profile: str, seed: int = 0, output: Path | None = None,
                     log_output: bool = True) -> Path:
    """Run a notebook top to bottom (in place unless ``output`` is given) with papermill."""
    import papermill

    output = output or path
    papermill.execute_notebook(
        str(path), str(output), parameters={"PROFILE": profile, "SEED": seed}, cwd=str(path.parent),
        kernel_name="python3", log_output=log_output, progress_bar=False,
        # stream outputs merged and carriage returns applied: a progress bar leaves its last state only
        coalesce_streams=True)
    return output


def export_html(notebook: Path, out_dir: Path) -> Path:
    """Export an executed notebook to self-contained HTML (images embedded), without the code cells' prompts."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_filename(str(notebook))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{notebook.stem.split('_', 1)[-1]}.html"
    target.write_text(body, encoding="utf-8")
    return target


def prepare_data(profile: str) -> None:
    """Locate/extract/cache Tiny ImageNet-200; find the real moon data or generate the stand-in."""
    from . import moon, tiny_imagenet

    paths = get_paths()
    with _step("Tiny ImageNet-200"):
        expected = None if profile == "smoke" else tiny_imagenet.OFFICIAL
        print(tiny_imagenet.load(paths, expected=expected).facts())
    with _step("moon data"):
        root, source = moon.locate(paths, n=moon.PAIRS[profile])
        print(moon.load(root, source, paths).facts())


def run(profile: str = "auto", seed: int = 0, notebook_dir: Path | None = None,
        only: tuple[str, ...] = ()) -> None:
    """Prepare the data, execute the notebooks in order, then export the report."""
    notebook_dir = notebook_dir or project_root()
    paths = get_paths()
    profile = resolve_profile(profile)
    t0 = time.time()
    print(f"profile {profile}; notebooks in {notebook_dir}; runs in {paths.runs_dir}; "
          f"weights in {paths.weights_dir}")
    prepare_data(profile)
    for name in NOTEBOOKS:
        if only and not any(name.startswith(o) for o in only):
            continue
        with _step(f"execute {name}"):
            execute_notebook(notebook_dir / name, profile, seed)
    report = notebook_dir / NOTEBOOKS[-1]
    with _step("export the report"):
        print(export_html(report, paths.reports_dir))
    print(f"\nall done in {(time.time() - t0) / 60:.1f} min")


@contextmanager
def _environ(**variables: str):
    """Set environment variables (inherited by the notebook kernels) for the duration of the block."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def smoke(workdir: Path | None = None) -> Path:
    """The whole chain on tiny data in a temporary folder; the repository is left untouched."""
    from .fixtures import write_tiny_imagenet

    workdir = Path(workdir or tempfile.mkdtemp(prefix="tinyseg-smoke-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:
        shutil.copy2(project_root() / name, workdir / name)
    tiny = write_tiny_imagenet(workdir / "fixtures", classes=6, train_per_class=24, val_per_class=6)
    with _environ(DATA_DIR=str(workdir / "data"), WEIGHTS_DIR=str(workdir / "weights"),
                  RUNS_DIR=str(workdir / "runs"), REPORTS_DIR=str(workdir / "reports"), TINY_IMAGENET=str(tiny),
                  MOON_ROOT=str(workdir / "no-real-moon-data")):  # the generated stand-in is used
        run("smoke", notebook_dir=workdir)
    print(f"smoke outputs (notebooks, runs, weights, report) are in {workdir}")
    return workdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyseg.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="execute the notebooks in place and export the report")
    p_run.add_argument("--profile", default=os.environ.get("PROFILE", "auto"),
                       choices=("auto", "cpu", "gpu", "smoke"))
    p_run.add_argument("--seed", type=int, default=0)
    p_run.add_argument("--only", nargs="*", default=(), help="notebook prefixes to run, e.g. 01 04")
    p_smoke = sub.add_parser("smoke", help="the whole chain on tiny data in a temporary folder")
    p_smoke.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill echoes cell outputs
    if args.command == "run":
        run(args.profile, args.seed, only=tuple(args.only))
    else:
        smoke(args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
