"""The main job's bookkeeping: which notebooks it skips, how --force keeps old runs, the PDF fallback."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from torch import nn

from tinyseg import pipeline, runs
from tinyseg.runlog import RunLog, RunSummary, save_weights


def finish_run(paths, name, profile="cpu", status="completed"):
    log = RunLog(paths.run_dir(name))
    log.dir.mkdir(parents=True, exist_ok=True)
    log.write_summary(
        RunSummary(
            run=name,
            status=status,
            best_epoch=None,
            best={},
            epochs_run=1,
            epochs_planned=1,
            params_total=6,
            params_trainable=6,
            wall_time_s=1.0,
            profile=profile,
        )
    )
    save_weights(paths.weights(name), nn.Linear(2, 2))


def write_notebook(path, executed=True):
    cells = [new_code_cell("1 + 1"), new_code_cell("2 + 2")]
    if executed:
        for i, cell in enumerate(cells, 1):
            cell.execution_count = i
    nbformat.write(new_notebook(cells=cells), path)
    return path


def test_a_notebook_with_finished_runs_and_outputs_is_skipped(tmp_paths, tmp_path):
    nb = write_notebook(tmp_path / "02_unet_base.ipynb")
    assert pipeline.skip_reason(nb, "cpu", tmp_paths) is None  # no run yet
    finish_run(tmp_paths, "unet_base", status="interrupted")
    assert pipeline.skip_reason(nb, "cpu", tmp_paths) is None  # not finished
    finish_run(tmp_paths, "unet_base")
    assert pipeline.skip_reason(nb, "cpu", tmp_paths) is None  # its other seeds are not finished
    for run in runs.get("unet_base").ids()[1:]:
        finish_run(tmp_paths, run)
    assert pipeline.skip_reason(nb, "cpu", tmp_paths) is None  # it records no runs: executed again over them
    pipeline.record_runs_shown(nb, tmp_paths)  # as execute_notebook does after a successful execution
    assert "unet_base-seed2 finished" in pipeline.skip_reason(nb, "cpu", tmp_paths)
    write_notebook(nb, executed=False)
    assert pipeline.skip_reason(nb, "cpu", tmp_paths) is None  # outputs missing: run it (no retraining)
    report = write_notebook(tmp_path / "04_report.ipynb")
    assert pipeline.skip_reason(report, "cpu", tmp_paths) is None  # the report is always redone


def test_runs_of_another_profile_are_kept_and_the_way_to_retrain_is_named(tmp_paths, tmp_path):
    """The committed cpu runs on a machine with a GPU: kept (retraining is a decision), said so."""
    nb = write_notebook(tmp_path / "03_unet_backbone.ipynb")
    for run in (run for spec in runs.of_notebook(nb.name) for run in spec.ids()):
        finish_run(tmp_paths, run, profile="cpu")
    pipeline.record_runs_shown(nb, tmp_paths)
    assert pipeline.skip_reason(nb, "cpu", tmp_paths).endswith("finished (cpu) and the notebook is executed")
    reason = pipeline.skip_reason(nb, "gpu", tmp_paths)
    assert "finished in the cpu profile and are kept" in reason and "--force 03 --profile gpu" in reason
    assert pipeline.finished_profile(nb, tmp_paths) == "cpu"  # re-executed over them, it runs in their profile
    write_notebook(nb, executed=False)
    assert pipeline.skip_reason(nb, "gpu", tmp_paths) is None


def test_main_turns_errors_into_a_message_and_an_exit_status(capsys):
    assert pipeline.main(["run", "--only", "5"]) == 1
    assert "no notebook starts with '5'" in capsys.readouterr().err


def test_force_archives_the_old_runs_instead_of_deleting_them(tmp_paths, tmp_path):
    finish_run(tmp_paths, "unet_base")
    (tmp_paths.run_dir("classifier")).mkdir(parents=True)
    target = pipeline.archive_runs(tmp_path / "02_unet_base.ipynb", tmp_paths)
    assert not tmp_paths.run_dir("unet_base").exists() and not tmp_paths.weights("unet_base").exists()
    assert (target / "runs" / "unet_base" / "summary.json").exists()
    assert (target / "weights" / "unet_base.pt").exists()
    assert tmp_paths.run_dir("classifier").exists()  # other notebooks' runs stay


def test_forcing_the_classifier_redoes_the_runs_built_on_it(capsys):
    assert pipeline.with_dependents(["01_classifier.ipynb"]) == ["01_classifier.ipynb", "03_unet_backbone.ipynb"]
    assert "its run unet_backbone_frozen is built on classifier" in capsys.readouterr().out
    assert pipeline.with_dependents(["02_unet_base.ipynb"]) == ["02_unet_base.ipynb"]


def test_without_chromium_the_pdf_step_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(pipeline.shutil, "which", lambda name: None)
    html = tmp_path / "report.html"
    html.write_text("<html><body>отчёт</body></html>", encoding="utf-8")
    assert pipeline.export_pdf(html) is None
    assert "apt-get install chromium" in capsys.readouterr().out


def test_the_report_export_has_no_code(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("PROFILE = 'auto'", metadata={"tags": ["parameters"]})
    shown = nbformat.v4.new_code_cell(
        "secret_code_line = 1\nprint('visible output')",
        execution_count=2,
        outputs=[nbformat.v4.new_output("stream", text="visible output\n")],
    )
    hidden = nbformat.v4.new_code_cell(
        "session.finish()",
        execution_count=3,
        metadata={"tags": ["hide-in-report"]},
        outputs=[nbformat.v4.new_output("stream", text="notebook finished\n")],
    )
    nb.cells = [nbformat.v4.new_markdown_cell("# Отчёт"), params, shown, hidden]
    path = tmp_path / "04_report.ipynb"
    nbformat.write(nb, path)
    html = pipeline.export_html(path, tmp_path / "out", name="report", code=False).read_text()
    assert "Отчёт" in html and "visible output" in html
    assert "secret_code_line" not in html and "PROFILE" not in html and "notebook finished" not in html
    assert "jp-InputArea-editor" not in html.split("</style>")[-1]  # no code input blocks at all
    with_code = pipeline.export_html(path, tmp_path / "out", name="nb").read_text()
    assert "secret_code_line" in with_code  # the notebooks' own exports keep their code


@pytest.mark.slow
def test_an_executed_notebook_keeps_one_parameter_cell_and_no_progress_bars(tmp_path):
    """Values the parameters cell resolves to by itself are not injected (and an injected cell left by an earlier
    execution is dropped), so the executed notebook has one parameter cell; the kernel shows no progress bars."""
    from tinyseg.device import resolve_profile

    cells = [
        new_code_cell("PROFILE = 'auto'\nSEED = 0", metadata={"tags": ["parameters"]}),
        new_code_cell("PROFILE = 'smoke'", metadata={"tags": ["injected-parameters"]}),  # from an earlier run
        new_code_cell(
            "from tinyseg.progress import progress\nfor _ in progress(range(3), desc='bar'):\n    pass\nprint(PROFILE)"
        ),
    ]
    kernel = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    nb = tmp_path / "02_unet_base.ipynb"
    nbformat.write(new_notebook(cells=cells, metadata=kernel), nb)
    pipeline.execute_notebook(nb, resolve_profile("auto"), log_output=False)
    done = nbformat.read(nb, as_version=4)
    tags = [c.metadata.get("tags", []) for c in done.cells]
    assert tags == [["parameters"], []]  # one parameter cell, the injected one gone
    assert [o.get("text") for o in done.cells[1].outputs] == ["auto\n"]  # no bar, just the print
    pipeline.execute_notebook(nb, "smoke", log_output=False)  # another profile: injected after the parameters
    tags = [c.metadata.get("tags", []) for c in nbformat.read(nb, as_version=4).cells]
    assert tags == [["parameters"], ["injected-parameters"], []]
