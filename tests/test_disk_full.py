"""A full disk: every write names its file or folder and the free space, and leaves the previous file intact
and no half-written file behind."""

import errno
import os
import subprocess

import nbformat
import numpy as np
import pytest

from tinyseg import pipeline
from tinyseg.data import cache
from tinyseg.data import tiny_imagenet as ti
from tinyseg.data.fixtures import write_tiny_imagenet
from tinyseg.paths import get_paths

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fill_up_writes_to(monkeypatch, marker: str):
    """Writes to a file opened by ``os.fdopen`` whose name contains ``marker`` stop half-way with ENOSPC."""
    real = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            raise ENOSPC

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fdopen(fd, *args, **kwargs):
        f = real(fd, *args, **kwargs)
        return Full(f) if marker in os.readlink(f"/proc/self/fd/{fd}") else f

    monkeypatch.setattr(os, "fdopen", fdopen)


def test_the_report_export_keeps_the_previous_html(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Отчёт")])
    nbformat.write(nb, tmp_path / "04_report.ipynb")
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.html").write_text("the previous report", encoding="utf-8")
    fill_up_writes_to(monkeypatch, "report.html")
    with pytest.raises(
        pipeline.PipelineError, match=r"could not write .*reports/report.html \(OSError: .*No space left.*[MG]iB free"
    ) as e:
        pipeline.export_html(tmp_path / "04_report.ipynb", out, name="report", code=False)
    assert "the previous report.html is intact" in str(e.value)
    assert [p.name for p in out.iterdir()] == ["report.html"]
    assert (out / "report.html").read_text(encoding="utf-8") == "the previous report"


def test_the_pdf_export_keeps_the_previous_pdf(tmp_path, monkeypatch):
    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    html.write_text("<html><body>отчёт</body></html>", encoding="utf-8")
    pdf.write_bytes(b"%PDF the previous report")

    def chromium_on_a_full_disk(cmd, **kwargs):
        target = next(a for a in cmd if a.startswith("--print-to-pdf=")).split("=", 1)[1]
        with open(target, "wb") as f:
            f.write(b"%PDF half")
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No space left on device")

    monkeypatch.setattr(pipeline, "find_chromium", lambda: "chromium")
    monkeypatch.setattr(pipeline.subprocess, "run", chromium_on_a_full_disk)
    with pytest.raises(
        pipeline.PipelineError, match=r"could not print .*report.html to .*report.pdf .*[MG]iB free"
    ) as e:
        pipeline.export_pdf(html)
    assert "the previous report.pdf is intact" in str(e.value) and "No space left" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.pdf"]
    assert pdf.read_bytes() == b"%PDF the previous report"


def test_a_full_disk_leaves_no_half_written_cache_entry(tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "moon-abc"
    arrays = {"images": np.zeros((4, 8, 8, 3), np.uint8), "masks": np.ones((4, 8, 8), np.uint8)}
    real_save, builds = np.save, []

    def save(f, array):  # the second array stops half-way, with numpy's own message (no file named)
        if array.ndim == 3:
            f.write(b"\x93NUMPY half")
            raise OSError("393216 requested and 69504 written")
        real_save(f, array)

    def build():
        builds.append(1)
        return arrays, {"n": 4}

    monkeypatch.setattr(np, "save", save)
    with pytest.raises(cache.CacheError, match=r"cache .*cache/moon-abc .*393216 requested.*[MG]iB free.*DATA_DIR"):
        cache.cached_arrays(folder, build)
    assert not folder.exists()  # neither images.npy nor a temporary file stays (nor the space they take)
    monkeypatch.setattr(np, "save", real_save)
    loaded, meta = cache.cached_arrays(folder, build)  # no entry to trust: built again
    assert len(builds) == 2 and meta["n"] == 4 and (loaded["masks"] == 1).all()


def test_extracting_onto_a_full_disk_removes_the_staging_folder(tmp_path, monkeypatch):
    zip_path = write_tiny_imagenet(tmp_path / "src", as_zip=True)
    paths = get_paths(env={"DATA_DIR": str(tmp_path / "data"), "TINY_IMAGENET": str(zip_path)}, root=tmp_path)
    real_copy, copies = ti.shutil.copyfileobj, []

    def copyfileobj(src, dst, *args):
        copies.append(1)
        if len(copies) == 5:
            dst.write(src.read(100))
            raise ENOSPC
        real_copy(src, dst, *args)

    monkeypatch.setattr(ti.shutil, "copyfileobj", copyfileobj)
    with pytest.raises(
        ti.DatasetError, match=r"could not extract .*tiny-imagenet-200.zip into .*data/tiny-imagenet-200 "
    ) as e:
        ti.extract(zip_path, paths.data_dir)
    assert "No space left on device" in str(e.value) and "iB free" in str(e.value) and "DATA_DIR" in str(e.value)
    assert sorted(p.name for p in paths.data_dir.iterdir()) == []  # no staging folder, no half data set
