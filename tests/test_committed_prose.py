"""Every number a reader sees in the committed notebooks' prose and in the README comes from the run logs.

Hand-written Markdown cells carry no result numbers (results are 3-decimal IoUs and percentages printed
by code); the generated texts in the committed outputs are rebuilt here from the committed ``runs/`` and
must be identical, and the README's results table must show the same numbers as the logs.
"""

import re
from pathlib import Path

import nbformat
import pytest

from tinyseg import report
from tinyseg.paths import get_paths

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_classifier.ipynb", "02_unet_base.ipynb", "03_unet_backbone.ipynb", "04_report.ipynb"]
RESULT = re.compile(r"\b0\.\d{3}\b")  # an IoU/Dice typed by hand


def committed_paths():
    return get_paths(env={}, root=ROOT)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_hand_written_prose_types_no_results(name):
    nb = nbformat.read(ROOT / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert not RESULT.findall(cell.source), (
                f"{name}: a result typed by hand in a Markdown cell: {cell.source[:120]}"
            )
            assert "цель" not in cell.source.lower(), f"{name}: a target the assignment never set"


def generated_markdown(name: str) -> list[str]:
    nb = nbformat.read(ROOT / name, as_version=4)
    return [
        o["data"]["text/markdown"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "data" in o and "text/markdown" in o["data"]
    ]


def committed_seeds():
    seeds = report.segmentation_seeds(committed_paths())
    if not seeds:
        pytest.skip("no committed segmentation runs")
    return seeds


# What every text of today's report says of its intervals (hierarchical bootstrap, issue 25). Outputs without it
# were executed with the report as it was before the protocol: the notebooks are re-executed with the final runs,
# and until then their texts cannot equal today's (the README's table is checked against the logs meanwhile).
PROTOCOL_WORDING = "по сидам и снимкам"


def current_outputs(name: str) -> list[str]:
    texts = generated_markdown(name)
    if not any(PROTOCOL_WORDING in t for t in texts):
        pytest.skip(f"{name}: its committed outputs predate the protocol report; re-executed with the final runs")
    return texts


def test_part3_conclusions_in_notebook_03_are_those_of_the_logs():
    text = report.part3_conclusions(committed_seeds())
    assert PROTOCOL_WORDING in text
    assert text in current_outputs("03_unet_backbone.ipynb")


def test_report_summary_is_that_of_the_logs():
    paths = committed_paths()
    text = report.headline(report.load_runs(paths), committed_seeds())
    assert PROTOCOL_WORDING in text
    assert text in current_outputs("04_report.ipynb")


def test_readme_results_are_those_of_the_logs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = report.summary_table(committed_seeds())
    for model, row in table.iterrows():
        line = next((x for x in readme.splitlines() if x.startswith(f"| {model} |")), None)
        assert line is not None, f"README has no results row for {model}"
        for value in row.astype(str):
            assert value in line, f"README row for {model} lacks {value} (from the logs)"
    top1 = report.load_runs(committed_paths())["classifier"].best["val_top1"]
    assert f"{100 * top1:.2f}%" in readme
