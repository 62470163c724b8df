"""Tiny ImageNet-200: find (or download) the official archive, extract it safely, verify it, cache it.

``locate(paths, profile=...)`` → :class:`~tinyseg.data.Source`: the same code path serves a zip
that was downloaded and one we were pointed to (``TINY_IMAGENET``): it is extracted into
``DATA_DIR/tiny-imagenet-200`` (test/ is skipped). The profile decides what the folder is checked
against: the official counts, except in the smoke profile (a small fixture in the official layout).
``load(source, paths)`` checks the folder and decodes it once into uint8 arrays in the shared cache;
training then runs from memory. Only the standard split is used: train = ``train/``, validation = ``val/``.
"""

from __future__ import annotations

import shutil
import zipfile
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..device import resolve_profile
from ..paths import Paths, get_paths
from ..progress import progress
from . import DataError, Dataset, Source
from .cache import cached_arrays, fingerprint, free_space, size_text

NAME = "Tiny ImageNet-200"
URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
MD5 = "90528d7ca1a48142e341f4ef8d21d0de"  # the official download (with test/)
FOLDER = "tiny-imagenet-200"
MARKER = ".extracted"  # written last by extract(): the folder is complete and the project's own
CACHE_VERSION = 2
SIZE = 64


class DatasetError(DataError):
    """The data set is missing, incomplete or inconsistent; the message says what and where."""


@dataclass(frozen=True)
class Counts:
    classes: int
    train_per_class: int
    val_per_class: int


OFFICIAL = Counts(classes=200, train_per_class=500, val_per_class=50)
# what each profile checks the folder against (smoke: the small fixtures of the tests and smoke runs)
EXPECTED = {"cpu": OFFICIAL, "gpu": OFFICIAL, "smoke": None}


# ---------------------------------------------------------------- locate, download, extract


def locate(paths: Paths | None = None, *, profile: str = "cpu", download: bool = True) -> Source:
    """The extracted data set folder (the one holding ``wnids.txt``), extracting/downloading as needed
    (``download=False``: an error instead of a download). The source says what ``load`` checks: the
    official counts, except in the smoke profile."""
    paths = paths or get_paths()
    expected = EXPECTED[resolve_profile(profile)]
    return replace(_find(paths, download), expected=expected)


def _find(paths: Paths, download: bool) -> Source:
    src = paths.tiny_imagenet
    default_dir, default_zip = paths.data_dir / FOLDER, paths.data_dir / f"{FOLDER}.zip"
    if src.is_dir():
        if (
            not paths.is_explicit("TINY_IMAGENET")
            and src.resolve() == default_dir.resolve()
            and not (src / MARKER).is_file()
        ):
            raise DatasetError(_not_ours(src, default_zip))
        for root in (src, src / FOLDER):
            if (root / "wnids.txt").is_file():
                return Source(NAME, "real", root)
        raise DatasetError(
            f"TINY_IMAGENET={src} is a folder but not in the official layout "
            f"(no wnids.txt in it or in {src / FOLDER}); point it at the extracted "
            f"{FOLDER} folder or at the official zip"
        )
    if src.is_file():
        return Source(NAME, "real", extract(src, paths.data_dir), origin=src)
    if src != default_dir:
        raise DatasetError(
            f"TINY_IMAGENET={src} does not exist; set it to the official zip or the "
            f"extracted {FOLDER} folder, or unset it to download into {default_zip}"
        )
    if not default_zip.is_file():
        if not download:
            raise DatasetError(
                f"Tiny ImageNet-200 not found: put the official zip at {default_zip} "
                "or set TINY_IMAGENET to the zip or the extracted folder"
            )
        fetch(default_zip)
    return Source(NAME, "real", extract(default_zip, paths.data_dir), origin=default_zip)


def _not_ours(folder: Path, zip_path: Path) -> str:
    return (
        f"{folder} exists but this project did not finish extracting it (no {MARKER} marker): it is a "
        "folder made by hand or an extraction that was interrupted. Nothing was deleted. To use it as it is, "
        f"set TINY_IMAGENET={folder} (it is then checked file by file against the official layout); "
        f"otherwise delete it, and it is extracted again from {zip_path}."
    )


def fetch(target: Path, url: str = URL, md5: str = MD5) -> Path:
    """Download the official archive to ``target`` with torchvision's downloader (progress bar, md5
    check) into ``<target>.part``, renamed only when complete and correct: nothing partial is left."""
    from torchvision.datasets.utils import download_url

    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    try:
        download_url(url, root=str(target.parent), filename=part.name, md5=md5)
    except RuntimeError as e:  # torchvision: "File not found or corrupted."
        part.unlink(missing_ok=True)
        raise DatasetError(
            f"{url}: the download does not match the official md5 {md5}; it is corrupt or not "
            "the official archive (deleted it, try again)"
        ) from e
    part.replace(target)
    return target


def _zip_stamp(zip_path: Path) -> str:
    st = zip_path.stat()
    return f"{zip_path.name}|{st.st_size}|{int(st.st_mtime)}"


def extract(zip_path: Path, data_dir: Path) -> Path:
    """Extract the official zip into ``data_dir/tiny-imagenet-200`` (without test/).

    Nothing is lost: the archive is opened and checked before anything is touched; it is
    extracted into a staging folder of the project's own (``.tiny-imagenet-200.extracting``),
    marked complete (``.extracted``, naming the zip) and only then moved into place. An existing
    folder is replaced only when the project made it (it carries the marker); any other folder is
    left alone with a message. Members that would land outside the target are refused.
    """
    zip_path = Path(zip_path).resolve()
    dest = data_dir / FOLDER
    if zip_path.is_relative_to(dest.resolve()):
        raise DatasetError(
            f"{zip_path} lies inside {dest}, the folder it would be extracted into; move the zip "
            f"out of it (for example to {data_dir / (FOLDER + '.zip')}) and run again"
        )
    marker = dest / MARKER
    stamp = _zip_stamp(zip_path)
    if marker.is_file() and marker.read_text() == stamp:
        return dest
    if dest.exists() and not marker.is_file():
        raise DatasetError(_not_ours(dest, zip_path))
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(
            f"{zip_path} is not a readable zip ({e}): it is truncated or not the archive. "
            "Download the official archive again; nothing was changed."
        ) from e
    staging = data_dir / f".{FOLDER}.extracting"  # only this function writes here
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if not any(m.filename == f"{FOLDER}/wnids.txt" for m in members):
            raise DatasetError(f"{zip_path} is not the Tiny ImageNet-200 archive: no {FOLDER}/wnids.txt in it")
        for m in members:
            if not (dest / m.filename).resolve().is_relative_to(dest.resolve()) or not m.filename.startswith(
                f"{FOLDER}/"
            ):
                raise DatasetError(
                    f"{zip_path}: member {m.filename!r} would be written outside {dest}; "
                    "refusing to extract this archive"
                )
        if staging.exists():
            shutil.rmtree(staging)  # an interrupted earlier extraction of ours
        try:
            for m in progress(members, desc=f"extract {zip_path.name}", unit="file"):
                if m.filename.startswith(f"{FOLDER}/test/"):
                    continue
                target = staging / m.filename[len(FOLDER) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(m) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            (staging / MARKER).write_text(stamp)
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            shutil.rmtree(staging, ignore_errors=True)
            raise DatasetError(
                f"{zip_path}: member {m.filename!r} is damaged ({e}). Download the archive again; "
                f"{dest} was left as it was."
            ) from e
        except OSError as e:  # a full disk, most often
            shutil.rmtree(staging, ignore_errors=True)
            need = size_text(sum(m.file_size for m in members if not m.filename.startswith(f"{FOLDER}/test/")))
            raise DatasetError(
                f"could not extract {zip_path} into {dest} ({type(e).__name__}: {e}); it needs about "
                f"{need} and {free_space(data_dir)} on that disk. The partial extraction was removed "
                f"and {dest} was left as it was. Free some space there, or set DATA_DIR to a folder on a disk "
                "with room, and run again."
            ) from e
    if dest.exists():  # ours (it has the marker), from another archive
        old = data_dir / f".{FOLDER}.replaced"
        if old.exists():
            shutil.rmtree(old)
        dest.rename(old)
        staging.rename(dest)
        shutil.rmtree(old)
    else:
        staging.rename(dest)
    return dest


# ---------------------------------------------------------------- verify


@dataclass
class Index:
    """The verified file list of one extracted data set."""

    root: Path
    wnids: list[str]
    names: list[str]  # short human-readable name per class
    train: list[tuple[str, int]] = field(repr=False)  # (path relative to root, label)
    val: list[tuple[str, int]] = field(repr=False)

    def fingerprint(self) -> str:
        return fingerprint(
            ((f"{rel}:{label}", self.root / rel) for rel, label in self.train + self.val),
            salt=f"tiny-imagenet v{CACHE_VERSION}",
        )


def _listing(items, limit=8) -> str:
    items = sorted(items)
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def verify(root: Path, expected: Counts | None = OFFICIAL) -> Index:
    """Check the folder against the official layout; raise :class:`DatasetError` naming what is wrong."""
    root = Path(root)
    wnids_file = root / "wnids.txt"
    if not wnids_file.is_file():
        raise DatasetError(f"{wnids_file} is missing: {root} is not a Tiny ImageNet-200 folder")
    wnids = [w.strip() for w in wnids_file.read_text().split() if w.strip()]
    if len(set(wnids)) != len(wnids):
        raise DatasetError(
            f"{wnids_file} lists some wnids twice: {_listing(w for w, c in Counter(wnids).items() if c > 1)}"
        )
    label_of = {w: i for i, w in enumerate(wnids)}
    words = {}
    if (root / "words.txt").is_file():
        for line in (root / "words.txt").read_text(encoding="utf-8").splitlines():
            wnid, _, text = line.partition("\t")
            words[wnid.strip()] = text.strip()
    missing_words = [w for w in wnids if w not in words]
    if missing_words:
        raise DatasetError(f"{root / 'words.txt'} has no name for {_listing(missing_words)}")
    names = [words[w].split(",")[0].strip() for w in wnids]

    train_dir = root / "train"
    folders = {p.name for p in train_dir.iterdir() if p.is_dir()} if train_dir.is_dir() else set()
    if missing := set(wnids) - folders:
        raise DatasetError(f"{train_dir}: no folder for wnid(s) {_listing(missing)} listed in wnids.txt")
    if extra := folders - set(wnids):
        raise DatasetError(f"{train_dir}: folder(s) {_listing(extra)} are not listed in wnids.txt")
    train = []
    for w in wnids:
        files = sorted((train_dir / w / "images").glob("*.JPEG"))
        if not files:
            raise DatasetError(f"{train_dir / w / 'images'}: no JPEG images for class {w}")
        train += [(str(f.relative_to(root)), label_of[w]) for f in files]

    ann_file = root / "val" / "val_annotations.txt"
    if not ann_file.is_file():
        raise DatasetError(f"{ann_file} is missing: the validation labels come from it")
    val_labels: dict[str, int] = {}
    for n, line in enumerate(ann_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise DatasetError(f"{ann_file}:{n}: expected 'file<TAB>wnid<TAB>box', got {line!r}")
        fname, wnid = parts[0].strip(), parts[1].strip()
        if fname in val_labels:
            raise DatasetError(f"{ann_file}:{n}: {fname} is annotated more than once")
        if wnid not in label_of:
            raise DatasetError(f"{ann_file}:{n}: {fname} has wnid {wnid}, which is not in wnids.txt")
        val_labels[fname] = label_of[wnid]
    images = {p.name for p in (root / "val" / "images").glob("*.JPEG")}
    if missing := set(val_labels) - images:
        raise DatasetError(f"{root / 'val' / 'images'}: annotated image(s) missing: {_listing(missing)}")
    if extra := images - set(val_labels):
        raise DatasetError(
            f"{root / 'val' / 'images'}: image(s) without an annotation in val_annotations.txt: {_listing(extra)}"
        )
    val = [(f"val/images/{f}", val_labels[f]) for f in sorted(val_labels)]

    index = Index(root, wnids, names, train, val)
    if expected is not None:
        _check_counts(index, expected)
    return index


def _check_counts(index: Index, expected: Counts) -> None:
    if len(index.wnids) != expected.classes:
        raise DatasetError(f"{index.root}: {len(index.wnids)} classes in wnids.txt, expected {expected.classes}")
    for split, items, per_class in (
        ("train", index.train, expected.train_per_class),
        ("val", index.val, expected.val_per_class),
    ):
        counts = Counter(label for _, label in items)
        wrong = [
            f"{index.wnids[c]} has {counts.get(c, 0)}" for c in range(len(index.wnids)) if counts.get(c, 0) != per_class
        ]
        if wrong:
            raise DatasetError(
                f"{index.root}: {split} images per class should be {per_class}, but {_listing(wrong, 5)}"
            )


# ---------------------------------------------------------------- decode and cache


def _decode(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (SIZE, SIZE):
                raise DatasetError(f"{path}: {im.size[0]}×{im.size[1]} pixels, expected {SIZE}×{SIZE}")
            return np.asarray(im, dtype=np.uint8)
    except DatasetError:
        raise
    except Exception as e:  # PIL raises several types for broken files
        raise DatasetError(
            f"cannot decode {path}: {e}. The file is corrupt: extract or download the archive again"
        ) from e


def _decode_all(index: Index, items: list[tuple[str, int]], desc: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.empty((len(items), SIZE, SIZE, 3), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=4) as pool:
        decoded = pool.map(_decode, (index.root / rel for rel, _ in items), chunksize=256)
        for i, img in enumerate(progress(decoded, total=len(items), desc=desc, unit="img")):
            x[i] = img
    return x, np.array([label for _, label in items], dtype=np.int64)


@dataclass
class TinyImageNet(Dataset):
    """The whole data set in memory: uint8 images N×3×64×64 (channels_last) and int64 labels."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    wnids: list[str]
    names: list[str]
    source: Source
    where: str  # the source in words, with a relative location

    @property
    def num_classes(self) -> int:
        return len(self.wnids)

    def facts(self) -> dict:
        return {
            "data": self.where,
            "classes": self.num_classes,
            "train": len(self.train_y),
            "val": len(self.val_y),
            "image": f"{SIZE}×{SIZE}×3 uint8",
            "train_per_class": sorted(set(torch.bincount(self.train_y).tolist())),
            "val_per_class": sorted(set(torch.bincount(self.val_y).tolist())),
        }


def load(source: Source, paths: Paths | None = None) -> TinyImageNet:
    """Verify the located data set (against ``source.expected``: the counts its profile asks for) and load
    it, decoding into the cache on first use."""
    paths = paths or get_paths()
    index = verify(source.location, source.expected)

    def build():
        arrays = {}
        for split, items in (("train", index.train), ("val", index.val)):
            arrays[f"{split}_x"], arrays[f"{split}_y"] = _decode_all(index, items, f"decode {split}")
        return arrays, {"wnids": index.wnids, "names": index.names}

    arrays, meta = cached_arrays(paths.cache_dir / f"tiny-imagenet-{index.fingerprint()}", build)
    tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
    return TinyImageNet(
        train_x=tensors["train_x"].permute(0, 3, 1, 2),
        train_y=tensors["train_y"],
        val_x=tensors["val_x"].permute(0, 3, 1, 2),
        val_y=tensors["val_y"],
        wnids=meta["wnids"],
        names=meta["names"],
        source=source,
        where=source.describe(paths),
    )
