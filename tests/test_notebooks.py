"""The main job in smoke profile: every notebook runs top to bottom on tiny data, in a temporary folder."""

import json
import shutil

import nbformat
import pytest

from tinyseg import pipeline
from tinyseg import runs as run_table
from tinyseg.data import lunar_synth, moon
from tinyseg.data.fixtures import write_moon_layout
from tinyseg.paths import ASSIGNMENT_MOON, get_paths
from tinyseg.runlog import RunLog, load_weights


def generated_text(notebook):
    """Every Markdown and HTML output (text the code wrote) of an executed notebook."""
    nb = nbformat.read(notebook, as_version=4)
    return [
        o["data"][kind]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        for kind in ("text/markdown", "text/html")
        if kind in o.get("data", {})
    ]


@pytest.mark.slow
def test_smoke_pipeline_runs_every_notebook(tmp_path, monkeypatch, capsys, lunar_stand_in):
    for var in ("DATA_DIR", "WEIGHTS_DIR", "RUNS_DIR", "REPORTS_DIR", "TINY_IMAGENET", "MOON_ROOT"):
        monkeypatch.delenv(var, raising=False)
    workdir = tmp_path / "smoke"
    # the smoke stand-in, rendered once per test run (tests/conftest.py), where the smoke job looks for it
    with pipeline.smoke_environ(workdir):
        stand_in = moon.stand_in_dir(get_paths(), moon.PAIRS["smoke"], moon.STAND_IN_SEED, lunar_synth.VERSION)
    assert stand_in.name == lunar_stand_in.name and stand_in.is_relative_to(workdir)
    shutil.copytree(lunar_stand_in, stand_in)
    assert pipeline.smoke(workdir) == workdir
    for name in pipeline.NOTEBOOKS:
        nb = nbformat.read(workdir / name, as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), f"{name}: not executed top to bottom"
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
        widgets = [
            c
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert not widgets, f"{name}: widget outputs cannot be shown in the exported HTML"
    for spec in run_table.RUNS.values():
        for run in spec.ids():  # every seed of every run in the table
            summary = RunLog(workdir / "runs" / run).summary()
            assert summary.status == "completed" and summary.profile == "smoke", run
        assert load_weights(workdir / "weights" / f"{spec.name}.pt")["state_dict"]
    for spec in run_table.of_task("segmentation"):
        data = json.loads((workdir / "runs" / spec.name / "summary.json").read_text())["data"]
        assert data["kind"] == "generated" and data["location"].endswith(stand_in.name), spec.name
    assert (workdir / "reports" / "report.html").stat().st_size > 10_000
    if pipeline.find_chromium():
        assert (workdir / "reports" / "report.pdf").read_bytes().startswith(b"%PDF")

    # the report's tables show the numbers of summary.json
    report = nbformat.read(workdir / "04_report.ipynb", as_version=4)
    tables = [
        o["data"]["text/html"]
        for c in report.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {})
    ]
    seg_table = next(t for t in tables if "камней нет нигде" in t)
    for spec in run_table.of_task("segmentation"):
        best = RunLog(workdir / "runs" / spec.name).summary().best
        assert f"{best['val_iou']:.3f}" in seg_table and f"{best['val_dice']:.3f}" in seg_table, spec.name
    roles = run_table.by_role(run_table.RUNS)
    real = [
        t for t in tables if "найдено камней" in t and "доля камня в заменителе" not in t
    ]  # not the generator probes
    assert len(real) == 1 and all(run_table.get(roles[r]).short in real[0] for r in ("plain", "finetuned"))
    top1 = RunLog(workdir / "runs" / roles["classifier"]).summary().best["val_top1"]
    assert any(f"{top1:.2%}" in t for t in tables)

    # run again: every training notebook is skipped (its runs are finished and it is executed over them)
    before = {p: p.stat().st_mtime for p in (workdir / "runs").glob("*/summary.json")}
    with pipeline.smoke_environ(workdir):
        for name in pipeline.NOTEBOOKS[:3]:  # each records the runs it was executed over
            assert pipeline.outputs_stale(workdir / name, get_paths()) is None, name
        pipeline.run("smoke", notebook_dir=workdir, only=("01", "02", "03"))
    assert {p: p.stat().st_mtime for p in (workdir / "runs").glob("*/summary.json")} == before

    # the course's MOON data where the assignment puts it (COURSE_DIR stands for the checkout's parent folder):
    # announced first, the stand-in runs archived, 02 and 03 trained on it, the report names it
    capsys.readouterr()
    found = write_moon_layout(workdir / "course" / ASSIGNMENT_MOON[0], n=16, seed=5)
    classifier = (workdir / "runs" / "classifier" / "summary.json").read_bytes()
    with pipeline.smoke_environ(workdir):
        assert get_paths().moon_root == found and not get_paths().is_explicit("MOON_ROOT")
        pipeline.run("smoke", notebook_dir=workdir)
        paths = get_paths()
    out = capsys.readouterr().out
    announced = out[: out.index("item(s) of 02_unet_base.ipynb to")]  # said before anything is moved
    assert f"Data found: real MOON_SEGMENTATION_BINARY at {paths.relative(found)}" in announced
    assert "the GENERATED stand-in" in announced and "KEEP=1" in announced and "min of training" in announced
    assert "skip 01_classifier.ipynb" in out  # the same Tiny ImageNet content: the classifier run is reused
    assert (workdir / "runs" / "classifier" / "summary.json").read_bytes() == classifier
    archived = list((workdir / "runs" / ".previous").glob("*/runs/unet_base/summary.json"))
    assert len(archived) == 1 and json.loads(archived[0].read_text())["data"]["kind"] == "generated"
    for spec in run_table.of_task("segmentation"):
        for run in spec.ids():
            data = RunLog(workdir / "runs" / run).summary().data
            assert data.kind == "real" and data.location == paths.relative(found), run
    for name in pipeline.NOTEBOOKS[1:3]:
        assert pipeline.outputs_stale(workdir / name, paths) is None, name
    report_text = "\n".join(generated_text(workdir / "04_report.ipynb"))
    assert "настоящем MOON_SEGMENTATION_BINARY" in report_text and "валидации настоящего" in report_text
    assert "сгенерированной замен" not in report_text
