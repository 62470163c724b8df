"""Tiny ImageNet-200: locating, extracting, verifying and caching, on small fixtures in the official layout."""

import functools
import hashlib
import http.server
import os
import re
import shutil
import threading
import zipfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinyseg.data import Dataset
from tinyseg.data import tiny_imagenet as ti
from tinyseg.data.fixtures import write_tiny_imagenet
from tinyseg.paths import get_paths

SMALL = ti.Counts(classes=4, train_per_class=8, val_per_class=2)


@pytest.fixture
def folder(tmp_path):
    return write_tiny_imagenet(tmp_path / "src")


def paths_for(tmp_path, source):
    return get_paths(env={"TINY_IMAGENET": str(source), "DATA_DIR": str(tmp_path / "data")}, root=tmp_path)


def small(source):
    """The located fixture, to be checked against its own counts (SMALL) instead of the official ones."""
    return replace(source, expected=SMALL)


def test_verify_accepts_the_official_layout(folder):
    index = ti.verify(folder, SMALL)
    assert len(index.wnids) == 4 and len(index.train) == 32 and len(index.val) == 8
    assert index.names[1] == "thing 1"  # first name from words.txt
    assert sorted(Counter(label for _, label in index.val).values()) == [2] * 4
    labels = dict(index.val)
    assert labels["val/images/val_5.JPEG"] == 1  # fixture: val_k belongs to class k % 4


def test_wrong_count_is_named(folder):
    victim = next((folder / "train").glob("*/images/*_3.JPEG"))
    victim.unlink()
    with pytest.raises(ti.DatasetError, match=rf"train images per class should be 8, but {victim.parts[-3]} has 7"):
        ti.verify(folder, SMALL)
    ti.verify(folder, expected=None)  # consistent otherwise
    with pytest.raises(ti.DatasetError, match="4 classes in wnids.txt, expected 200"):
        ti.verify(folder, ti.OFFICIAL)


def test_missing_class_folder_is_named(folder):
    wnid = (folder / "wnids.txt").read_text().split()[2]
    shutil.rmtree(folder / "train" / wnid)
    with pytest.raises(ti.DatasetError, match=f"no folder for wnid.*{wnid}"):
        ti.verify(folder, None)


def test_val_annotation_problems_are_named(folder):
    ann = folder / "val" / "val_annotations.txt"
    original = ann.read_text()
    ann.write_text(re.sub(r"^val_3\.JPEG\t\w+", "val_3.JPEG\tn99999999", original, flags=re.M))
    with pytest.raises(ti.DatasetError, match=r"val_annotations.txt:4: val_3.JPEG has wnid n99999999"):
        ti.verify(folder, None)
    ann.write_text(original + original.splitlines(keepends=True)[0])
    with pytest.raises(ti.DatasetError, match="val_0.JPEG is annotated more than once"):
        ti.verify(folder, None)
    ann.write_text(original)
    (folder / "val" / "images" / "val_2.JPEG").unlink()
    with pytest.raises(ti.DatasetError, match="annotated image.*missing: val_2.JPEG"):
        ti.verify(folder, None)
    ann.write_text("".join(line for line in original.splitlines(keepends=True) if not line.startswith("val_2.")))
    Image.new("RGB", (64, 64)).save(folder / "val" / "images" / "extra.JPEG")
    with pytest.raises(ti.DatasetError, match="without an annotation.*extra.JPEG"):
        ti.verify(folder, None)


def test_corrupt_jpeg_is_named(tmp_path, folder):
    bad = next((folder / "train").glob("*/images/*_5.JPEG"))
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ti.DatasetError, match=f"cannot decode .*{bad.name}.*corrupt"):
        ti.load(small(ti.locate(paths_for(tmp_path, folder))), paths_for(tmp_path, folder))


def test_cache_round_trip_and_grayscale(tmp_path, folder, monkeypatch):
    gray = next((folder / "train").glob("*/images/*_0.JPEG"))
    Image.open(gray).convert("L").save(gray)
    paths = paths_for(tmp_path, folder)
    data = ti.load(small(ti.locate(paths)), paths)
    assert data.train_x.shape == (32, 3, 64, 64) and data.train_x.dtype == torch.uint8
    assert data.val_x.shape == (8, 3, 64, 64) and data.val_y.dtype == torch.int64
    assert data.num_classes == 4 and data.names[0] == "thing 0"
    i = [p for p, _ in ti.verify(folder, SMALL).train].index(str(gray.relative_to(folder)))
    rgb = data.train_x[i]
    assert torch.equal(rgb[0], rgb[1]) and torch.equal(rgb[1], rgb[2])  # grayscale became RGB
    assert len(list(paths.cache_dir.glob("tiny-imagenet-*/meta.json"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("the second load must come from the cache")

    monkeypatch.setattr(ti, "_decode", no_decoding)
    again = ti.load(small(ti.locate(paths)), paths)
    assert torch.equal(again.train_x, data.train_x) and torch.equal(again.val_y, data.val_y)


def test_the_profile_decides_what_load_checks(tmp_path, folder):
    paths = paths_for(tmp_path, folder)
    assert ti.locate(paths).expected == ti.locate(paths, profile="gpu").expected == ti.OFFICIAL
    assert ti.locate(paths, profile="smoke").expected is None  # the smoke profile's small fixtures
    with pytest.raises(ti.DatasetError, match="4 classes in wnids.txt, expected 200"):
        ti.load(ti.locate(paths), paths)
    data = ti.load(ti.locate(paths, profile="smoke"), paths)
    assert isinstance(data, Dataset) and data.num_classes == 4 and data.facts()["data"] == data.where


def test_zip_is_extracted_once_and_an_interrupted_extraction_is_redone(tmp_path):
    zip_path = write_tiny_imagenet(tmp_path / "src", as_zip=True)
    paths = paths_for(tmp_path, zip_path)
    staging = tmp_path / "data" / ".tiny-imagenet-200.extracting"
    (staging / "train").mkdir(parents=True)  # what Ctrl-C during an extraction leaves
    source = ti.locate(paths)
    root = source.location
    assert root == tmp_path / "data" / "tiny-imagenet-200" and (root / ".extracted").is_file()
    assert not staging.exists()
    assert (
        source.origin == zip_path
        and source.describe(paths) == "Tiny ImageNet-200 at data/tiny-imagenet-200 (from src/tiny-imagenet-200.zip)"
    )
    stamp = (root / "wnids.txt").stat().st_mtime_ns
    assert ti.locate(paths) == source and (root / "wnids.txt").stat().st_mtime_ns == stamp  # not redone
    ti.verify(root, SMALL)


def test_zip_with_path_traversal_is_refused(tmp_path):
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("tiny-imagenet-200/wnids.txt", "n1\n")
        z.writestr("tiny-imagenet-200/../../escaped.txt", "gotcha")
    with pytest.raises(ti.DatasetError, match="outside"):
        ti.locate(paths_for(tmp_path, bad))
    assert not (tmp_path / "escaped.txt").exists()


def test_missing_source_gives_clear_errors(tmp_path):
    with pytest.raises(ti.DatasetError, match="does not exist"):
        ti.locate(paths_for(tmp_path, tmp_path / "nowhere.zip"))
    default = get_paths(env={"DATA_DIR": str(tmp_path / "data")}, root=tmp_path)
    with pytest.raises(ti.DatasetError, match="put the official zip at"):
        ti.locate(default, download=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ti.DatasetError, match="not in the official layout"):
        ti.locate(paths_for(tmp_path, tmp_path / "empty"))


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on loopback serving ``tmp_path/src`` (stands in for the web)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "src"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_checks_md5(tmp_path, local_server):
    zip_path = write_tiny_imagenet(tmp_path / "src", as_zip=True)
    md5 = hashlib.md5(zip_path.read_bytes()).hexdigest()
    url = f"{local_server}/{zip_path.name}"
    target = tmp_path / "dl" / "t.zip"
    ti.fetch(target, url, md5)
    assert target.read_bytes() == zip_path.read_bytes()
    with pytest.raises(ti.DatasetError, match="does not match"):
        ti.fetch(tmp_path / "dl" / "u.zip", url, "0" * 32)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["t.zip"]  # nothing partial left


REAL = os.environ.get("TINY_IMAGENET", "")


@pytest.mark.slow
@pytest.mark.skipif(not (REAL and Path(REAL).exists()), reason="TINY_IMAGENET (the real archive) is not set")
def test_real_archive(tmp_path):
    paths = get_paths(env={"TINY_IMAGENET": REAL, "DATA_DIR": str(tmp_path)}, root=tmp_path)
    data = ti.load(ti.locate(paths), paths)  # verifies the official counts: 200 classes, 500 train and 50 val per class
    assert data.train_x.shape == (100_000, 3, 64, 64) and data.val_x.shape == (10_000, 3, 64, 64)
    assert data.num_classes == 200
    assert np.bincount(data.val_y.numpy()).tolist() == [50] * 200
    # known labels from the official val_annotations.txt (val images are sorted by file name)
    index = ti.verify(ti.locate(paths).location)
    val = dict(index.val)
    assert index.wnids[val["val/images/val_0.JPEG"]] == "n03444034"
    assert index.wnids[val["val/images/val_1.JPEG"]] == "n04067472"
    assert data.names[index.wnids.index("n01443537")] == "goldfish"


def test_an_extraction_of_another_archive_is_replaced(tmp_path):
    first = write_tiny_imagenet(tmp_path / "a", classes=4, as_zip=True)
    second = write_tiny_imagenet(tmp_path / "b", classes=5, as_zip=True)
    root = ti.locate(paths_for(tmp_path, first)).location
    assert len(ti.verify(root, None).wnids) == 4
    assert ti.locate(paths_for(tmp_path, second)).location == root  # the project's own folder: replaced
    assert len(ti.verify(root, None).wnids) == 5
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["tiny-imagenet-200"]  # nothing left over
