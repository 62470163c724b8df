"""The main job: execute the four notebooks top to bottom and export the report.

    python -m tinyseg.pipeline run            # in place, profile auto (gpu on CUDA, else cpu)
    python -m tinyseg.pipeline run --only 04  # the report only (make report)
    python -m tinyseg.pipeline run --force 02 # redo a finished notebook: its runs are archived, then retrained
    python -m tinyseg.pipeline run --keep-runs # keep runs trained on other data than the data found now
    python -m tinyseg.pipeline smoke          # tiny data, everything in a temporary folder

Each notebook runs with papermill (its ``parameters`` cell gets ``PROFILE`` and ``SEED``).
``run`` executes the committed notebooks in place and skips a training notebook whose runs are
all finished (``summary.json`` says completed or early-stopped, in the same profile) and whose
cells all ran over the runs as they are now (the notebook's metadata records the runs it was executed
over: :func:`runs_shown`), so an interrupted job continues where it stopped. Data found now that is
not, by content, what a training notebook's runs were trained on (the official MOON data set put where
the assignment says, say) is announced first; those runs are archived and retrained on it, unless
``--keep-runs`` (:func:`data_changes`). ``smoke`` executes copies and
points DATA_DIR/WEIGHTS_DIR/RUNS_DIR/REPORTS_DIR at the temporary folder, so it never touches
committed notebooks, weights or logs. The report is exported to ``REPORTS_DIR/report.html``
(self-contained) and ``REPORTS_DIR/report.pdf`` (headless Chromium prints the HTML).

The functions raise :class:`PipelineError` (or a data set's :class:`~tinyseg.data.DataError`) with a
message that says what to do; :func:`main` prints it and exits with status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import runs as run_table
from .data import DataError
from .data.cache import free_space
from .device import PROFILES, resolve_profile
from .locks import LockedError, hold
from .paths import Paths, get_paths, project_root
from .runlog import DataRecord, RunLog, atomic_write, read_json

# in dependency order (the run table says which notebook trains which run; the report trains nothing)
NOTEBOOKS = ("01_classifier.ipynb", "02_unet_base.ipynb", "03_unet_backbone.ipynb", "04_report.ipynb")
CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@contextmanager
def _step(name: str):
    print(f"\n=== {name} ...", flush=True)
    t0 = time.time()
    yield
    print(f"=== {name}: done in {time.time() - t0:.0f} s", flush=True)


class PipelineError(RuntimeError):
    """The job cannot go on (a notebook failed, finished runs are inconsistent, an unknown notebook was
    named); the message says why and what to do. :func:`main` prints it and exits with status 1."""


class NotebookError(PipelineError):
    """A notebook stopped with an error; the message names the notebook, the cell and where its outputs are."""


def execute_notebook(
    path: Path, profile: str, seed: int = 0, output: Path | None = None, log_output: bool = True
) -> Path:
    """Run a notebook top to bottom with papermill, into ``output`` (default: the notebook itself).

    The outputs go to a temporary file beside it first; the target is replaced only when every cell
    ran, so a failed or interrupted execution never wipes a notebook's committed outputs. A failed
    run is kept as ``<name>.failed.ipynb`` for inspection, and the error names notebook and cell.

    The notebook keeps one parameter cell: values equal to what its ``parameters`` cell resolves to by itself
    (``PROFILE = "auto"`` on this machine, ``SEED = 0``) are not injected, and a papermill ``injected-parameters``
    cell left by an earlier execution is dropped first. The kernel shows no progress bars
    (:data:`tinyseg.progress.QUIET`): the outputs keep the epoch lines, not a bar's last state.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .progress import QUIET

    output = output or path
    running = output.with_name(f".{output.stem}.running.ipynb")
    source = output.with_name(f".{output.stem}.input.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nbformat.write(nb, source)
    parameters = {} if (resolve_profile("auto") == profile and seed == 0) else {"PROFILE": profile, "SEED": seed}
    try:
        with _environ(**{QUIET: "0"}):
            papermill.execute_notebook(
                str(source),
                str(running),
                parameters=parameters,
                cwd=str(path.parent),
                kernel_name="python3",
                log_output=log_output,
                progress_bar=False,
                # stream outputs merged and carriage returns applied: a progress bar leaves its last state only
                coalesce_streams=True,
            )
    except BaseException as e:
        failed = output.with_name(f"{output.stem}.failed.ipynb")
        if running.exists():
            os.replace(running, failed)
        if isinstance(e, PapermillExecutionError):
            raise NotebookError(
                f"{path.name}: cell [{e.exec_count}] failed with {e.ename}: {e.evalue}. "
                f"{output.name} keeps its previous outputs; the failed run is in {failed.name}."
            ) from None
        raise
    finally:
        source.unlink(missing_ok=True)
    # papermill records the absolute paths of this machine: keep the file names only
    nb = nbformat.read(running, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key, name in (("input_path", path.name), ("output_path", output.name)):
        if meta.get(key):
            meta[key] = name
    if shown := runs_shown(path.name, get_paths()):  # the runs its outputs show (a training notebook)
        nb.metadata[RECORD] = {"runs": shown}
    nbformat.write(nb, running)
    os.replace(running, output)
    return output


RECORD = "tinyseg"  # the notebook metadata key of the runs a training notebook was executed over


def runs_shown(notebook: str, paths: Paths) -> dict[str, str]:
    """The runs of training notebook ``notebook`` as they are now: run id → the first 16 hex digits of the
    sha256 of its ``summary.json`` content (keys sorted, so line endings and layout do not count; "" when it
    has none). Written into the notebook's metadata when it is executed, so that outputs describing other
    runs (archived ones, say) are noticed (:func:`outputs_stale`)."""
    shown = {}
    for spec in run_table.of_notebook(notebook):
        for run in spec.ids():
            summary = RunLog(paths.run_dir(run)).summary_path
            content = json.dumps(read_json(summary), sort_keys=True) if summary.is_file() else None
            shown[run] = hashlib.sha256(content.encode()).hexdigest()[:16] if content else ""
    return shown


def record_runs_shown(notebook: Path, paths: Paths) -> dict[str, str]:
    """Write :func:`runs_shown` into an executed notebook's metadata, leaving its cells as they are (for
    notebooks executed over these runs before the record existed). Returns the record."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata[RECORD] = {"runs": runs_shown(notebook.name, paths)}
    text = nbformat.writes(nb)
    text += "" if text.endswith("\n") else "\n"  # as nbformat.write
    atomic_write(notebook, lambda f: f.write(text), mode="w")
    return nb.metadata[RECORD]["runs"]


def outputs_stale(notebook: Path, paths: Paths) -> str | None:
    """Why an executed training notebook's outputs may not show its runs as they are now, or None: it records
    no runs (executed before the record existed, or by hand), or other runs than ``runs/`` holds (retrained
    after it was executed, or a re-execution that failed after the runs were redone)."""
    import nbformat

    recorded = nbformat.read(notebook, as_version=4).metadata.get(RECORD, {}).get("runs")
    if recorded is None:
        return "it does not record which runs its outputs show"
    now = runs_shown(notebook.name, paths)
    changed = sorted(run for run in recorded.keys() | now.keys() if recorded.get(run) != now.get(run))
    if changed:
        return f"its outputs show other runs than {paths.relative(paths.runs_dir)}/ holds now ({', '.join(changed)})"
    return None


HIDDEN_TAGS = {"parameters", "injected-parameters", "hide-in-report"}  # cells left out of a code-free export


def export_html(notebook: Path, out_dir: Path, name: str | None = None, code: bool = True) -> Path:
    """Export an executed notebook to self-contained HTML (images embedded), without the code cells' prompts.

    ``code=False`` (the report): no code at all, only prose and outputs; cells tagged as papermill
    parameters or ``hide-in-report`` are left out entirely. A print style sheet (:data:`PRINT_CSS`) is added, so
    the PDF printed from it (A4 portrait) keeps tables and figures inside the page and whole, headings and captions
    with what they introduce; the page is marked as Russian.
    """
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = HIDDEN_TAGS if not code else set()
    exporter = HTMLExporter(
        config=config, exclude_input_prompt=True, exclude_output_prompt=True, exclude_input=not code
    )
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    body, _ = exporter.from_filename(str(notebook))
    body = body.replace("</head>", PRINT_CSS + "</head>", 1).replace('<html lang="en">', '<html lang="ru">', 1)
    target = out_dir / f"{name or notebook.stem.split('_', 1)[-1]}.html"
    data = body.encode("utf-8")
    try:
        atomic_write(target, lambda f: f.write(data))  # a temporary file beside it, then os.replace
    except OSError as e:
        raise PipelineError(_write_failed(target, e)) from e
    return target


def _write_failed(target: Path, error: OSError) -> str:
    """A failed export in words: the file, the error, the free space, and that the previous file is intact."""
    return (
        f"could not write {target} ({type(error).__name__}: {error}); {free_space(target.parent)} on that disk. "
        f"Free some space (or set REPORTS_DIR elsewhere) and export again: {_previous(target)}."
    )


def _previous(target: Path) -> str:
    return f"the previous {target.name} is intact" if target.exists() else f"no {target.name} was written"


PRINT_CSS = """<style>
/* the exported notebooks and the report, printed on A4 portrait (tinyseg.pipeline.export_html) */
@page { size: A4 portrait; margin: 12mm 11mm 13mm 11mm; }
@media print {
  body { font-size: 10pt; line-height: 1.35; }
  .jp-Notebook { padding: 0 !important; }
  .jp-Cell { padding: 2px 0 !important; break-inside: auto; }
  .jp-Cell-inputWrapper, .jp-Cell-outputWrapper { margin: 0 !important; }
  .jp-RenderedHTMLCommon, .jp-MarkdownOutput, .jp-OutputArea-output { padding-left: 0 !important;
      padding-right: 0 !important; }
  /* nbconvert lays cells out as CSS tables and keeps every output on one page (break-inside: avoid-page), so a
     long table or log is pushed whole to the next page: blocks here, and only figures and tables kept whole */
  .jp-InputArea, .jp-OutputArea-child, .jp-OutputArea-output { display: block !important; }
  .jp-OutputArea-child { break-inside: auto !important; page-break-inside: auto !important; }
  /* a heading or a paragraph that introduces the next table or figure stays with it */
  h1, h2, h3, h4, .jp-MarkdownCell { break-after: avoid-page; page-break-after: avoid; }
  .jp-OutputArea-child:has(.jp-RenderedMarkdown) { break-after: avoid-page; page-break-after: avoid; }
  h1 { font-size: 17pt !important; } h2 { font-size: 13.5pt !important; margin-top: 10px !important; }
  h3 { font-size: 11.5pt !important; }
  p, li { orphans: 3; widows: 3; }
  /* figures whole and never taller than what a page leaves beside a caption */
  .jp-RenderedImage img, .jp-OutputArea-output img { max-width: 100% !important; max-height: 215mm !important;
      width: auto !important; height: auto !important; break-inside: avoid; page-break-inside: avoid; }
  .jp-RenderedImage { break-inside: avoid; page-break-inside: avoid; }
  /* tables: never cut at the page edge, at least 8 pt, their cells wrap at word boundaries */
  .jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow: visible !important; }
  .jp-RenderedHTMLCommon table, .jp-OutputArea-output table { font-size: 8.5pt !important; table-layout: auto !important;
      max-width: 100% !important; margin-left: 0 !important; break-inside: avoid; page-break-inside: avoid; }
  .jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { padding: 2px 5px !important; white-space: normal !important;
      text-align: left !important; vertical-align: top !important;
      word-break: normal !important; overflow-wrap: break-word; line-height: 1.25 !important; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  /* printed lines wrap at spaces, never inside a word */
  pre, .jp-OutputArea-output pre { white-space: pre-wrap !important; word-break: normal !important;
      overflow-wrap: break-word !important; font-size: 7.8pt !important; line-height: 1.3 !important; }
  .jp-InputArea pre, .jp-Editor pre, .highlight pre { font-size: 7.8pt !important; }
  code { word-break: normal !important; overflow-wrap: break-word; }
}
</style>
"""


def find_chromium() -> str | None:
    """A headless-capable Chromium: ``$CHROMIUM`` or the first of the usual names on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((path for name in CHROMIUM if (path := shutil.which(name))), None)


def export_pdf(html: Path, pdf: Path | None = None, timeout: int = 300) -> Path | None:
    """Print the HTML to PDF with headless Chromium (offline). Without Chromium: say what to install, return None."""
    pdf = pdf or html.with_suffix(".pdf")
    chromium = find_chromium()
    if chromium is None:
        print(
            f"PDF not written: no Chromium found. Install it (Debian/Ubuntu: sudo apt-get install chromium "
            f"fonts-dejavu) or set CHROMIUM=/path/to/chrome; the HTML report is at {html}"
        )
        return None
    # Chromium prints into a temporary file beside the PDF, renamed into place only when complete
    pdf.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=pdf.parent, prefix=f".{pdf.stem}.", suffix=".tmp.pdf")
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        done = _print_pdf(chromium, html, tmp, timeout)
        if done.returncode != 0 or tmp.stat().st_size == 0:
            raise PipelineError(
                f"{chromium} could not print {html} to {pdf} (exit {done.returncode}; {free_space(pdf.parent)} on that "
                f"disk; {_previous(pdf)}):\n{done.stderr[-2000:]}"
            )
        os.replace(tmp, pdf)
    except OSError as e:
        raise PipelineError(_write_failed(pdf, e)) from e
    finally:
        tmp.unlink(missing_ok=True)
    return pdf


def _print_pdf(chromium: str, html: Path, pdf: Path, timeout: int) -> subprocess.CompletedProcess:
    """Headless Chromium prints ``html`` into ``pdf`` (offline, a throwaway browser profile)."""
    with tempfile.TemporaryDirectory(prefix="tinyseg-chromium-") as profile_dir:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile_dir}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def export_report(notebook: Path, out_dir: Path) -> list[Path]:
    """``report.html`` and, where Chromium is installed, ``report.pdf``."""
    html = export_html(notebook, out_dir, name="report", code=False)
    pdf = export_pdf(html)
    return [html] + ([pdf] if pdf else [])


def prepare_data(profile: str, tiny_imagenet_needed: bool = True, moon_needed: bool = True) -> None:
    """Locate/extract/cache Tiny ImageNet-200; find the real moon data or generate the stand-in and its separately
    generated test set (what the profile needs: the official counts, the stand-in's size), through the data sets'
    common ``locate``/``load``."""
    from .data import moon, tiny_imagenet

    paths = get_paths()
    if tiny_imagenet_needed:
        with _step("Tiny ImageNet-200"):
            print(tiny_imagenet.load(tiny_imagenet.locate(paths, profile=profile), paths).facts())
    if moon_needed:
        with _step("moon data"):
            source = moon.locate(paths, profile=profile)
            print(moon.load(source, paths).facts())
            if (test := moon.locate_test(paths, source, profile=profile)) is not None:
                print(moon.load(test, paths).facts())


def executed(notebook: Path) -> bool:
    """Every code cell ran, in order from 1, without an error output."""
    import nbformat

    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    counts = [c.execution_count for c in cells]
    errors = any(o.output_type == "error" for c in cells for o in c.outputs)
    return bool(cells) and counts == list(range(1, len(cells) + 1)) and not errors


def finished_profile(notebook: Path, paths: Paths) -> str | None:
    """The profile all of a training notebook's runs finished in, or None (no runs, or not all finished)."""
    logs = [RunLog(paths.run_dir(r)) for spec in run_table.of_notebook(notebook.name) for r in spec.ids()]
    if not logs or not all(log.is_finished() for log in logs):
        return None
    profiles = {log.summary().profile for log in logs}
    return profiles.pop() if len(profiles) == 1 else None


def skip_reason(notebook: Path, profile: str, paths: Paths) -> str | None:
    """Why a training notebook need not run again (all its runs finished and the notebook carries their
    outputs), or None when it must run. Runs finished in another profile (the committed cpu runs on a
    machine with a GPU, say) are kept, not retrained: retraining is a decision (``--force``), and a
    notebook re-executed over them runs in their profile (:func:`finished_profile`)."""
    specs = run_table.of_notebook(notebook.name)
    runs = [run for spec in specs for run in spec.ids()]
    if not runs:
        return None
    # only seed 0's weights are final checkpoints; the other seeds keep their logs
    lost = [
        paths.relative(paths.weights(spec.name))
        for spec in specs
        if RunLog(paths.run_dir(spec.name)).is_finished() and not paths.weights(spec.name).exists()
    ]
    if lost:
        raise PipelineError(
            f"{notebook.name}: finished run(s) without their weights: {', '.join(lost)} missing. "
            f"Restore them (git checkout -- <file>, or check WEIGHTS_DIR), or retrain on purpose "
            f"with --force {notebook.name[:2]} (the old runs are archived, nothing is deleted)."
        )
    kept = finished_profile(notebook, paths)
    if kept is None or not executed(notebook) or outputs_stale(notebook, paths):
        return None  # train (or resume); or the runs are reused and the notebook's outputs redone
    if kept != profile:
        return (
            f"runs {', '.join(runs)} finished in the {kept} profile and are kept (--force {notebook.name[:2]} "
            f"--profile {profile} archives them and trains with the {profile} recipes)"
        )
    return f"runs {', '.join(runs)} finished ({profile}) and the notebook is executed"


@dataclass
class DataChange:
    """Data found now that is not, by content, the data some runs were trained on (:func:`data_changes`)."""

    found: str  # the data found, in words (relative location, training examples, content hash)
    trained_on: str  # what the runs' data records name, in words
    runs: list[str]  # the runs trained on other data
    notebooks: list[str]  # the notebooks to redo: those of the runs, and those of runs built on them
    minutes: str  # the expected training time of those notebooks in this profile, in words
    archive: str  # where the runs would be archived (relative)

    def announcement(self, keep: bool) -> str:
        notebooks = ", ".join(self.notebooks)
        head = (
            f"Data found: {self.found}.\nIt is not the data these runs were trained on: {self.trained_on}\n"
            f"  runs: {', '.join(self.runs)}\n  notebooks: {notebooks}"
        )
        if keep:
            return (
                f"{head}\nKept (--keep-runs): the runs stay as they are, and the notebooks and the report describe "
                "the data they were trained on. To train on the data found: make run (without KEEP=1)."
            )
        return (
            f"{head}\nThe runs are archived to {self.archive}/ (nothing is deleted) and {notebooks} train on the data "
            f"found: {self.minutes}.\nTo keep the runs instead: make run KEEP=1 (python -m tinyseg.pipeline run "
            "--keep-runs)."
        )


def data_changes(notebooks: list[str], profile: str, paths: Paths) -> list[DataChange]:
    """The data each of the training ``notebooks`` would train on now, compared by content (the data record's
    ``identity``, :func:`tinyseg.segment.data_identity` / :func:`tinyseg.classify.data_identity`) with what
    their logged runs (finished or not) were trained on: one :class:`DataChange` per data set that differs.

    Only data that is there is compared; nothing is downloaded or generated for it (without the real moon
    data the notebooks use the generated stand-in the runs name). Location and file times never count: the
    official Tiny ImageNet as a folder and as the zip are the same data."""
    changes = []
    for task in ("classification", "segmentation"):
        specs = [spec for name in notebooks for spec in run_table.of_notebook(name) if spec.task == task]
        records, specs_of = {}, {}
        for spec in specs:
            for run in spec.ids():
                log = RunLog(paths.run_dir(run))
                if log.config_path.is_file() and (info := log.config().info) is not None:
                    records[run], specs_of[run] = info.data, spec
        if not records:
            continue
        found = _data_found(task, profile, paths)
        if found is None:
            for run, record in records.items():
                if record.kind == "real":
                    print(
                        f"{run} was trained on real data at {record.location}, which is not there now: its runs "
                        "are kept (the report needs that data: put it back)"
                    )
                    break
            continue
        words, identity, train = found
        unknown = [run for run, record in records.items() if not record.identity]
        if unknown:
            print(f"{', '.join(unknown)}: no data identity in the log (an older run), not compared with {words}")
        other = {run: record for run, record in records.items() if record.identity and record.identity != identity}
        if other:
            notebooks = {specs_of[run].notebook for run in other}
            for spec in {specs_of[run].name: specs_of[run] for run in other}.values():
                notebooks |= {dependent.notebook for dependent in run_table.dependents(spec.name)}
            notebooks = [n for n in NOTEBOOKS if n in notebooks]
            scale = {task: train / max(record.train for record in other.values())}
            changes.append(
                DataChange(
                    words,
                    "; ".join(dict.fromkeys(_record_words(record) for record in other.values())),
                    list(other),
                    notebooks,
                    expected_time(notebooks, profile, paths, scale),
                    f"{paths.relative(paths.runs_dir)}/.previous",
                )
            )
    return changes


def _data_found(task: str, profile: str, paths: Paths) -> tuple[str, str, int] | None:
    """(the data in words, its content identity, its training examples) of the data ``task`` finds now, or
    None when none is there to compare (nothing is downloaded or generated)."""
    from .data import moon, tiny_imagenet

    if task == "segmentation":
        from . import segment

        if not (moon.is_moon_root(paths.moon_root) or paths.is_explicit("MOON_ROOT")):
            return None  # the notebooks would use the generated stand-in
        source = moon.locate(paths, profile=profile, generate=False)
        with _step(f"read {paths.relative(source.location)} to compare it with the runs' data"):
            pairs = moon.load(source, paths)
            data = segment.SegmentData(pairs, moon.make_split(pairs))
            identity, train = segment.data_identity(data), len(data.train_idx)
    else:
        from . import classify

        if not (paths.tiny_imagenet.exists() or (paths.data_dir / f"{tiny_imagenet.FOLDER}.zip").is_file()):
            return None
        source = tiny_imagenet.locate(paths, profile=profile, download=False)
        with _step(f"read {paths.relative(source.origin or source.location)} to compare it with the runs' data"):
            data = tiny_imagenet.load(source, paths)
            identity, train = classify.data_identity(data), len(data.train_y)
    return _record_words(DataRecord.of(source, paths, train, 0, identity)), identity, train


def _record_words(record: DataRecord) -> str:
    what = {"real": f"real {record.dataset}", "generated": f"the GENERATED stand-in for {record.dataset}"}
    return (
        f"{what.get(record.kind, record.kind)} at {record.location} ({record.train:,} training examples, "
        f"content {record.identity})"
    )


def expected_time(notebooks: list[str], profile: str, paths: Paths, scale: dict[str, float] | None = None) -> str:
    """The training time of ``notebooks``' runs in ``profile``, in words: each run's minutes per epoch from its
    logged summary, times the epochs of its recipe, times ``scale[task]`` (for the task whose data changed: the
    new data's training examples over the logged ones)."""
    from .recipes import recipe_for

    minutes, missing = 0.0, []
    for spec in (spec for name in notebooks for spec in run_table.of_notebook(name)):
        epochs = recipe_for(spec, profile).epochs
        for run in spec.ids():
            summary = RunLog(paths.run_dir(run)).summary()
            if summary is None or summary.profile != profile or not summary.epochs_run:
                missing.append(run)
                continue
            minutes += summary.wall_time_min / summary.epochs_run * epochs * (scale or {}).get(spec.task, 1.0)
    if missing:
        return (
            f"the training time in the {profile} profile is not known from the logs ({', '.join(missing)} "
            f"have no summary of the {profile} profile)"
        )
    return (
        f"expected about {minutes:.0f} min of training in the {profile} profile (the minutes per epoch their "
        f"logs record, scaled by the number of training examples)"
    )


def archive_runs(notebook: Path, paths: Paths) -> Path | None:
    """Move a notebook's run folders and weights to ``RUNS_DIR/.previous/<time>/`` (nothing is deleted)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = paths.runs_dir / ".previous" / stamp
    moved = []
    runs = [run for spec in run_table.of_notebook(notebook.name) for run in spec.ids()]
    with ExitStack() as locks:  # a run training elsewhere (a notebook run by hand) is not moved from under it
        for run in (r for r in runs if paths.run_dir(r).is_dir()):
            locks.enter_context(hold(paths.run_dir(run) / ".lock", paths.relative(paths.run_dir(run))))
        for run in runs:
            for src, dst in (
                (paths.run_dir(run), target / "runs" / run),
                (paths.weights(run), target / "weights" / f"{run}.pt"),
            ):
                if src.exists():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(src), str(dst))
                    moved.append(src)
    for lock in target.glob("runs/*/.lock"):  # moved along with their folders, released now
        lock.unlink()
    if moved:
        print(f"archived {len(moved)} item(s) of {notebook.name} to {paths.relative(target)}")
    return target if moved else None


def run(
    profile: str = "auto",
    seed: int = 0,
    notebook_dir: Path | None = None,
    only: tuple[str, ...] = (),
    force: tuple[str, ...] = (),
    keep_runs: bool = False,
) -> None:
    """Prepare the data the pending notebooks need, execute them in order, then export the report.

    Runs trained on other data than the data found now are archived and retrained (announced first), or
    kept with ``keep_runs`` (:func:`data_changes`). One main job at a time per run folder: a second one
    stops at once with a :class:`LockedError` naming the first (its pid, command and start time)."""
    for prefix in (*only, *force):
        if not any(n.startswith(prefix) for n in NOTEBOOKS):
            raise PipelineError(f"no notebook starts with {prefix!r}: the notebooks are {', '.join(NOTEBOOKS)}")
    paths = get_paths()
    with hold(paths.runs_dir / ".pipeline.lock", f"{paths.relative(paths.runs_dir)} (the main job)"):
        _run(profile, seed, notebook_dir or project_root(), only, force, paths, keep_runs)


def _run(
    profile: str,
    seed: int,
    notebook_dir: Path,
    only: tuple[str, ...],
    force: tuple[str, ...],
    paths: Paths,
    keep_runs: bool = False,
):
    profile = resolve_profile(profile)
    t0 = time.time()
    print(
        f"profile {profile}; notebooks in {notebook_dir}; runs in {paths.relative(paths.runs_dir)}; "
        f"weights in {paths.relative(paths.weights_dir)}"
    )
    forced = with_dependents([n for n in NOTEBOOKS if any(n.startswith(f) for f in force)])
    selected = [n for n in NOTEBOOKS if not only or any(n.startswith(o) for o in only) or n in forced]
    # data found now that the selected notebooks' runs were not trained on: said first, then retrained (or kept)
    for change in data_changes([n for n in selected if n not in forced], profile, paths):
        print(f"\n{change.announcement(keep_runs)}\n", flush=True)
        if not keep_runs:
            forced += [n for n in change.notebooks if n not in forced]
    left = [n for n in forced if n not in selected]
    if left:
        print(f"{', '.join(left)} not selected (--only): left as they are; run them too to redo them")
    forced = [n for n in forced if n in selected]
    pending = []
    for name in selected:
        if name in forced:
            archive_runs(notebook_dir / name, paths)
            pending.append(name)
        elif (reason := skip_reason(notebook_dir / name, profile, paths)) is not None:
            print(f"skip {name}: {reason}" + ("" if "--force" in reason else f" (--force {name[:2]} redoes it)"))
        else:
            if finished_profile(notebook_dir / name, paths) and executed(notebook_dir / name):
                print(f"execute {name} again over its finished runs: {outputs_stale(notebook_dir / name, paths)}")
            pending.append(name)
    if not pending:
        print("nothing to execute")
        return
    # the data of the notebooks that train (the report finds the data its runs' logs name by itself)
    tasks = {spec.task for name in pending for spec in run_table.of_notebook(name)}
    prepare_data(profile, tiny_imagenet_needed="classification" in tasks, moon_needed="segmentation" in tasks)
    for name in pending:
        # a notebook over kept runs of another profile runs in theirs (the runs are reused, not retrained)
        kept = None if name in forced else finished_profile(notebook_dir / name, paths)
        with _step(
            f"execute {name}" + (f" (its runs finished in the {kept} profile)" if kept not in (None, profile) else "")
        ):
            execute_notebook(notebook_dir / name, kept or profile, seed)
    if NOTEBOOKS[-1] in pending:
        with _step("export the report"):
            for path in export_report(notebook_dir / NOTEBOOKS[-1], paths.reports_dir):
                print(path)
    print(f"\nall done in {(time.time() - t0) / 60:.1f} min")


def with_dependents(notebooks: list[str]) -> list[str]:
    """The notebooks, plus those training runs built on theirs (the run table's dependencies): redoing
    the classifier redoes the backbone U-Nets too, so no run rests on weights that are gone."""
    result = list(notebooks)
    for name in notebooks:
        for spec in run_table.of_notebook(name):
            for dependent in run_table.dependents(spec.name):
                if dependent.notebook not in result:
                    print(
                        f"--force {name[:2]} also redoes {dependent.notebook}: its run {dependent.name} "
                        f"is built on {spec.name}"
                    )
                    result.append(dependent.notebook)
    return [n for n in NOTEBOOKS if n in result]


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


def smoke_environ(workdir: Path, **extra: str):
    """Every location inside ``workdir``; MOON_ROOT unset (empty) and the assignment's locations looked for in
    ``workdir/course`` (COURSE_DIR), so the generated stand-in is used unless a test puts data there; the
    check set is the fixture in ``workdir`` (never the real one: the smoke run must not depend on it)."""
    return _environ(
        DATA_DIR=str(workdir / "data"),
        WEIGHTS_DIR=str(workdir / "weights"),
        RUNS_DIR=str(workdir / "runs"),
        REPORTS_DIR=str(workdir / "reports"),
        MOON_ROOT="",
        **{
            "TINY_IMAGENET": "",
            "MOON_CHECK_ROOT": str(workdir / "fixtures" / "moon_check"),
            "COURSE_DIR": str(workdir / "course"),
            **extra,
        },
    )


def smoke(workdir: Path | None = None) -> Path:
    """The whole chain on tiny data in a temporary folder; the repository is left untouched."""
    from .data.fixtures import write_moon_check, write_tiny_imagenet

    workdir = Path(workdir or tempfile.mkdtemp(prefix="tinyseg-smoke-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:
        shutil.copy2(project_root() / name, workdir / name)
    tiny = write_tiny_imagenet(workdir / "fixtures", classes=6, train_per_class=24, val_per_class=6)
    write_moon_check(workdir / "fixtures" / "moon_check")
    with smoke_environ(workdir, TINY_IMAGENET=str(tiny)):
        run("smoke", notebook_dir=workdir)
    print(f"smoke outputs (notebooks, runs, weights, report) are in {workdir}")
    return workdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tinyseg.pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="execute the notebooks in place and export the report")
    p_run.add_argument("--profile", default=os.environ.get("PROFILE", "auto"), choices=PROFILES)
    p_run.add_argument("--seed", type=int, default=0)
    p_run.add_argument("--only", nargs="*", default=(), help="notebook prefixes to run, e.g. 01 04")
    p_run.add_argument(
        "--force",
        nargs="*",
        default=(),
        help="notebook prefixes to redo even if finished (their runs are archived first)",
    )
    p_run.add_argument(
        "--keep-runs",
        action="store_true",
        help="keep runs trained on other data than the data found now (default: archive and retrain them)",
    )
    p_smoke = sub.add_parser("smoke", help="the whole chain on tiny data in a temporary folder")
    p_smoke.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill echoes cell outputs
    try:
        if args.command == "run":
            run(args.profile, args.seed, only=tuple(args.only), force=tuple(args.force), keep_runs=args.keep_runs)
        else:
            smoke(args.workdir)
    except NotebookError as e:
        print(f"stopped: {e}", file=sys.stderr)
        return 1
    except (PipelineError, DataError, LockedError) as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
