"""MOON_SEGMENTATION_BINARY: pair, check, resize and cache the lunar renders and rock masks.

Layout (the course's data set, and what :mod:`tinyseg.data.lunar_synth` writes)::

    <root>/images/render/renderNNNN.png   RGB renders (720×480 in the real set)
    <root>/images/ground/groundNNNN.png   masks, paired by the number NNNN

Accepted mask encodings: binary 0/255 or 0/1 (stored as L, or as RGB with equal channels), and the
Artificial Lunar Rocky Landscape class colours (RGB: red sky, green small rocks, blue large
rocks, black ground), where green or blue means rock. Anything else is an error naming the file.

Resizing to 128×128: renders with an area (box) filter; masks by the rule *a pixel is rock when
at least half of its area is rock* (the same box filter on the 0/1 mask, threshold 0.5: no
shift, no growth), and *a rock too small to cover half of any pixel keeps the one pixel it covers
most*, so that no rock disappears.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from ..device import resolve_profile
from ..paths import Paths, get_paths
from ..progress import progress
from ..runlog import write_json
from . import DataError, Dataset, Source, lunar_synth
from .cache import cached_arrays, fingerprint

NAME = "MOON_SEGMENTATION_BINARY"
# pairs of the generated stand-in per profile (the real data set has about 1,000)
PAIRS = {"cpu": 1000, "gpu": 1000, "smoke": 16}
STAND_IN_SEED = 0  # the seed of the project's stand-in
# the stand-in's test set: generated separately (another seed, the training stand-in's generator version) and
# never used for training, early stopping or any choice; real data has no such set (TEST_FRACTION is carved out)
TEST_SEED = 1
TEST_PAIRS = {"cpu": 300, "gpu": 300, "smoke": 8}
TEST_FRACTION = 0.15  # of real MOON_SEGMENTATION_BINARY: the fixed test part of its split (make_split)
RENDER_DIR = Path("images/render")
GROUND_DIR = Path("images/ground")
SIZE = 128
CACHE_VERSION = 1
MIN_PAIRS = 5  # the smallest set a train/validation split is made of
_RENDER = re.compile(r"^render(\d+)\.png$", re.IGNORECASE)
_GROUND = re.compile(r"^ground(\d+)\.png$", re.IGNORECASE)


class MoonDataError(DataError):
    """The moon data set is missing or inconsistent; the message names the files."""


def is_moon_root(root: Path) -> bool:
    return (Path(root) / RENDER_DIR).is_dir() and (Path(root) / GROUND_DIR).is_dir()


def find_pairs(root: Path, strict: bool = False) -> list[tuple[str, Path, Path]]:
    """(number, render, ground) for every number present in both folders, sorted by number.

    Files without a partner are listed in a warning (an error with ``strict=True``).
    """
    root = Path(root)
    if not is_moon_root(root):
        raise MoonDataError(
            f"{root} is not in the MOON_SEGMENTATION_BINARY layout: expected the folders "
            f"{root / RENDER_DIR} and {root / GROUND_DIR}"
        )
    renders = {m.group(1): p for p in (root / RENDER_DIR).iterdir() if (m := _RENDER.match(p.name))}
    grounds = {m.group(1): p for p in (root / GROUND_DIR).iterdir() if (m := _GROUND.match(p.name))}
    unmatched = sorted(
        [renders[n].name for n in renders.keys() - grounds.keys()]
        + [grounds[n].name for n in grounds.keys() - renders.keys()]
    )
    if unmatched:
        message = (
            f"{root}: {len(unmatched)} file(s) without a partner are left out: "
            f"{', '.join(unmatched[:10])}{' ...' if len(unmatched) > 10 else ''}"
        )
        if strict:
            raise MoonDataError(message)
        warnings.warn(message, stacklevel=2)
    numbers = sorted(renders.keys() & grounds.keys(), key=lambda n: (int(n), n))
    if not numbers:
        raise MoonDataError(f"{root}: no render/ground pairs (renderNNNN.png with groundNNNN.png)")
    return [(n, renders[n], grounds[n]) for n in numbers]


def _open(path: Path) -> Image.Image:
    try:
        im = Image.open(path)
        im.load()
        return im
    except Exception as e:  # PIL raises several types for broken files
        raise MoonDataError(f"cannot read {path}: {e}") from e


def read_mask(path: Path) -> np.ndarray:
    """A boolean rock mask from any accepted encoding (see the module docstring); a palette image is
    read through its palette, so the class colours mean the same in P mode as in RGB."""
    im = _open(path)
    if im.mode in ("1", "L", "I", "LA"):
        return _binary(np.asarray(im.convert("L")), path)
    # palette images (P, PA) through their palette: their class colours are colours, not grey levels
    rgb = np.asarray(im.convert("RGB")).astype(np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if ((r == g) & (g == b)).all():
        return _binary(r, path)
    pure = ((rgb == 0) | (rgb == 255)).all(-1) & ((rgb == 255).sum(-1) <= 1)
    if not pure.all():
        bad = rgb[~pure][:3].tolist()
        raise MoonDataError(
            f"{path}: colours such as {bad} are neither 0/255 nor the class colours "
            "red (sky), green / blue (rocks), black (ground)"
        )
    return (g == 255) | (b == 255)


def _binary(values: np.ndarray, path: Path) -> np.ndarray:
    """Rock where the value is 255 (0/255 masks) or 1 (0/1 masks); any other value is an error."""
    if np.isin(values, (0, 255)).all():
        return values == 255
    if np.isin(values, (0, 1)).all():
        return values == 1
    raise MoonDataError(f"{path}: mask values {_sample(values)} are neither 0/255 nor 0/1")


def _sample(values: np.ndarray) -> list[int]:
    return np.unique(values)[:8].tolist()


def resize_image(rgb: np.ndarray, size: int = SIZE) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.BOX))


def resize_mask(mask: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Rock where at least half of the pixel is rock; every rock keeps at least its best-covered pixel."""
    coverage = np.asarray(Image.fromarray(mask.astype(np.float32)).resize((size, size), Image.BOX))
    small = coverage >= 0.5
    labels, count = ndimage.label(mask)
    if count:
        # the small pixel that each full-resolution pixel falls into
        h, w = mask.shape
        rows = np.minimum((np.arange(h) * size) // h, size - 1)
        cols = np.minimum((np.arange(w) * size) // w, size - 1)
        cell = (rows[:, None] * size + cols[None, :])[mask]
        rock = labels[mask]
        survived = np.zeros(count + 1, dtype=bool)
        survived[rock[small.ravel()[cell]]] = True
        lost = ~survived[rock]
        if lost.any():
            # for each lost rock, its pixel with the highest coverage (sort by rock, then coverage)
            cell, rock = cell[lost], rock[lost]
            order = np.lexsort((-coverage.ravel()[cell], rock))
            first = order[np.r_[True, rock[order][1:] != rock[order][:-1]]]
            small.flat[cell[first]] = True
    return small


def load_pair(render: Path, ground: Path, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The render (uint8 size×size×3) and mask (uint8 size×size, 1 = rock) of one pair."""
    image = _open(render)
    mask = read_mask(ground)
    if image.size != (mask.shape[1], mask.shape[0]):
        raise MoonDataError(
            f"size mismatch: {render.name} is {image.size[0]}×{image.size[1]}, "
            f"{ground.name} is {mask.shape[1]}×{mask.shape[0]}"
        )
    return resize_image(np.asarray(image.convert("RGB")), size), resize_mask(mask, size).astype(np.uint8)


@dataclass
class MoonData(Dataset):
    """All pairs in memory: images uint8 N×3×128×128 (channels_last), masks uint8 N×1×128×128 (0/1)."""

    images: torch.Tensor
    masks: torch.Tensor
    numbers: list[str]
    source: Source
    where: str  # the source in words, with a relative location

    def rock_fraction(self) -> np.ndarray:
        return self.masks.float().mean(dim=(1, 2, 3)).numpy()

    def facts(self) -> dict:
        frac = self.rock_fraction()
        return {
            "data": self.where,
            "pairs": len(self.numbers),
            "size": f"{self.images.shape[-1]}×{self.images.shape[-2]}",
            "rock_fraction_mean": float(frac.mean()),
            "rock_fraction_median": float(np.median(frac)),
            "images_without_rocks": int((frac == 0).sum()),
        }


def load(source: Source, paths: Paths | None = None) -> MoonData:
    """Pair, check, resize and cache every pair of the located data (decoded once, then from the cache).
    Files without a partner are left out with a warning (:func:`find_pairs`)."""
    paths = paths or get_paths()
    pairs = find_pairs(source.location)
    key = fingerprint(((f"{n}:{p.name}", p) for n, r, g in pairs for p in (r, g)), salt=f"moon v{CACHE_VERSION}|{SIZE}")

    def build():
        images = np.empty((len(pairs), SIZE, SIZE, 3), dtype=np.uint8)
        masks = np.empty((len(pairs), SIZE, SIZE), dtype=np.uint8)
        for i, (_, render, ground) in enumerate(progress(pairs, desc="read moon pairs", unit="pair")):
            images[i], masks[i] = load_pair(render, ground)
        return {"images": images, "masks": masks}, {"numbers": [n for n, _, _ in pairs]}

    arrays, meta = cached_arrays(paths.cache_dir / f"moon-{key}", build)
    return MoonData(
        torch.from_numpy(arrays["images"]).permute(0, 3, 1, 2),
        torch.from_numpy(arrays["masks"]).unsqueeze(1),
        meta["numbers"],
        source,
        source.describe(paths),
    )


@dataclass(frozen=True)
class Split:
    """The fixed split of a moon data set by pair number: train / val, and, for real data only, a test part
    (the generated stand-in's test set is generated separately: :func:`locate_test`). A ``split.json`` written
    before the test part existed reads with an empty one."""

    train: list[str]  # pair numbers
    val: list[str]
    seed: int
    test: list[str] = field(default_factory=list)  # real data only: reported, never used to choose

    def indices(self, data: MoonData) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions of the training and validation pairs in ``data``."""
        train, val, _ = self.all_indices(data)
        return train, val

    def all_indices(self, data: MoonData) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Positions of the training, validation and test pairs in ``data`` (the last empty without a test part)."""
        pos = {n: i for i, n in enumerate(data.numbers)}
        missing = [n for n in self.train + self.val + self.test if n not in pos]
        if missing:
            raise MoonDataError(f"the split names pairs that are not in {data.where}: {missing[:10]}")
        return tuple(
            torch.tensor([pos[n] for n in part], dtype=torch.long) for part in (self.train, self.val, self.test)
        )

    def save(self, path: Path) -> None:
        write_json(
            path,
            {"seed": self.seed, "train": self.train, "val": self.val, **({"test": self.test} if self.test else {})},
        )

    @classmethod
    def read(cls, path: Path) -> Split:
        d = json.loads(Path(path).read_text())
        return cls(d["train"], d["val"], d["seed"], d.get("test", []))


def make_split(data: MoonData, val_fraction: float = 0.2, seed: int = 0, test_fraction: float | None = None) -> Split:
    """Deterministic split stratified by rock fraction (quintiles where the set is large enough).

    ``test_fraction`` (default: :data:`TEST_FRACTION` for real data, 0 otherwise) is set aside first as the
    fixed test part; the rest is split ``1 - val_fraction`` / ``val_fraction`` into train and val. A generated
    stand-in has no test part here: its test set is generated separately (:func:`locate_test`)."""
    numbers = np.array(data.numbers)
    if test_fraction is None:
        test_fraction = TEST_FRACTION if data.kind == "real" else 0.0
    n_test = max(1, round(len(numbers) * test_fraction)) if test_fraction > 0 else 0
    if len(numbers) - n_test < MIN_PAIRS:
        raise MoonDataError(
            f"{data.where} holds {len(numbers)} pair(s); a train/validation split needs at least "
            f"{MIN_PAIRS}{f' besides its {n_test} test pair(s)' if n_test else ''}. Add pairs or point MOON_ROOT "
            "at the whole data set."
        )
    frac = data.rock_fraction()
    test = np.array([], dtype=numbers.dtype)
    if n_test:
        keep, held = _stratified(np.arange(len(numbers)), frac, n_test, seed)
        test, numbers, frac = numbers[held], numbers[keep], frac[keep]
    train, val = _stratified(numbers, frac, max(1, round(len(numbers) * val_fraction)), seed)
    return Split(*(sorted(part.tolist(), key=int) for part in (train, val)), seed, sorted(test.tolist(), key=int))


def _stratified(items: np.ndarray, frac: np.ndarray, n_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``items`` split into (the rest, ``n_out`` of them), stratified by rock fraction where it can be."""
    from sklearn.model_selection import train_test_split

    bins = min(5, n_out, len(items) - n_out)
    strata = None
    if bins >= 2:
        strata = np.digitize(frac, np.quantile(frac, np.linspace(0, 1, bins + 1)[1:-1]))
    try:
        rest, out = train_test_split(items, test_size=n_out, random_state=seed, stratify=strata)
    except ValueError:  # a stratum with a single image: split without strata
        rest, out = train_test_split(items, test_size=n_out, random_state=seed)
    return rest, out


def locate(paths: Paths | None = None, *, profile: str = "cpu", generate: bool = True) -> Source:
    """The real data set at ``MOON_ROOT``; when that variable is unset and the default location is
    empty, the generated stand-in (announced). A ``MOON_ROOT`` that is set but not in the layout is
    an error: a typo must not silently train on generated data.

    The stand-in (``PAIRS[profile]`` pairs from seed ``STAND_IN_SEED``, the current generator version)
    is written once under ``DATA_DIR/moon_synth``; an interrupted generation continues where it
    stopped. ``generate=False``: an error instead of generating a missing stand-in.
    """
    paths = paths or get_paths()
    if is_moon_root(paths.moon_root):
        kind = "generated" if (paths.moon_root / "GENERATED.txt").exists() else "real"
        return Source(NAME, kind, paths.moon_root)
    if paths.is_explicit("MOON_ROOT"):
        raise MoonDataError(
            f"MOON_ROOT={paths.moon_root} {_layout_problem(paths.moon_root)}. Point MOON_ROOT at "
            f"the folder holding images/render/renderNNNN.png and images/ground/groundNNNN.png, "
            "or unset it to use the generated stand-in."
        )
    n, seed, version = PAIRS[resolve_profile(profile)], STAND_IN_SEED, lunar_synth.VERSION
    print(
        f"MOON_SEGMENTATION_BINARY not found at {paths.relative(paths.moon_root)} (MOON_ROOT is not set): "
        f"using the GENERATED stand-in ({n} pairs, seed {seed}, generator version {version}) "
        f"at {paths.relative(stand_in_dir(paths, n, seed, version))}"
    )
    return stand_in(paths, n, seed, version, generate)


def stand_in_dir(paths: Paths, n: int, seed: int, version: int) -> Path:
    """Where the stand-in of (pairs, seed, generator version) lives; version 1 keeps its first name."""
    return paths.moon_synth_dir / (f"seed{seed}-n{n}" + (f"-v{version}" if version > 1 else ""))


_STAND_IN = re.compile(r"^seed(\d+)-n(\d+)(?:-v(\d+))?$")


def stand_in(paths: Paths, n: int, seed: int, version: int, generate: bool = True) -> Source:
    """The generated stand-in of (pairs, seed, generator version), generated first when it is missing."""
    root = stand_in_dir(paths, n, seed, version)
    if not (root / "GENERATED.txt").exists():
        if not generate:
            raise MoonDataError(
                f"no moon data: {paths.moon_root} is not in the MOON_SEGMENTATION_BINARY layout "
                f"and the generated stand-in {root} does not exist"
            )
        lunar_synth.generate(root, n=n, seed=seed, version=version)
    return Source(NAME, "generated", root)


def locate_test(paths: Paths, source: Source, *, profile: str = "cpu", generate: bool = True) -> Source | None:
    """The test set of the training data ``source``: for a generated stand-in, a set generated separately with
    seed :data:`TEST_SEED` and the same generator version, ``TEST_PAIRS[profile]`` pairs (written once under
    ``DATA_DIR/moon_synth`` like the stand-in); never used for training, early stopping or any choice. None for
    real data (its test part is carved out of the split, :func:`make_split`) and for a generated set whose
    generator version is not known (a custom style): the report then says there is no test set.
    ``generate=False``: an error instead of generating a missing test set."""
    if source.kind != "generated":
        return None
    found = generated_set(source.location)
    if found is None:
        print(
            f"{paths.relative(source.location)}: the generator version of this generated set is not known "
            "(GENERATED.txt names none), so no test set is generated for it"
        )
        return None
    _, seed, version = found
    if seed == TEST_SEED:
        raise MoonDataError(
            f"{paths.relative(source.location)} is generated with seed {seed}, the seed of the stand-in's test "
            f"set: training on it would train on the test set. Use another seed (the stand-in's is {STAND_IN_SEED})."
        )
    n = TEST_PAIRS[resolve_profile(profile)]
    root = stand_in_dir(paths, n, TEST_SEED, version)
    print(
        f"stand-in test set ({n} pairs, seed {TEST_SEED}, generator version {version}; for the reported numbers "
        f"only) at {paths.relative(root)}"
    )
    return stand_in(paths, n, TEST_SEED, version, generate)


def stand_in_name(name: str) -> tuple[int, int, int] | None:
    """(pairs, seed, generator version) that a folder name of :func:`stand_in_dir` says; None for other names."""
    m = _STAND_IN.match(name)
    return (int(m.group(2)), int(m.group(1)), int(m.group(3) or 1)) if m else None


_VERSION_NOTE = re.compile(r"lunar_synth version (\d+):.*\bseed (\d+)")


def generated_set(root: Path) -> tuple[int, int, int] | None:
    """(pairs, seed, generator version) of a generated set: from its folder name when :func:`stand_in_dir`
    named it, else from the ``GENERATED.txt`` note the generator writes; None when neither says."""
    root = Path(root)
    if found := stand_in_name(root.name):
        return found
    note = root / "GENERATED.txt"
    m = _VERSION_NOTE.search(note.read_text(errors="replace")) if note.is_file() else None
    if m is None:
        return None
    return len(find_pairs(root)), int(m.group(2)), int(m.group(1))


def recorded_stand_in(paths: Paths, record: dict) -> tuple[Path, int, int, int] | None:
    """(folder, pairs, seed, generator version) of the generated stand-in a run's data record names, the
    folder wherever DATA_DIR is now (the stand-in is named by its seed, pairs and version); None for other data."""
    location = record["location"]
    root = (
        paths.data_dir / location[len("$DATA_DIR/") :] if location.startswith("$DATA_DIR/") else paths.root / location
    )
    if record["kind"] == "generated" and (m := _STAND_IN.match(root.name)):
        n, seed, version = int(m.group(2)), int(m.group(1)), int(m.group(3) or 1)
        return stand_in_dir(paths, n, seed, version), n, seed, version
    return None


def stand_in_pairs(paths: Paths, record: dict, numbers: Sequence[str], workers: int | None = None) -> MoonData:
    """Only the pairs ``numbers`` of the generated stand-in a run's data record names, exactly as :func:`load`
    reads them (sorted by number): from its folder when it is there, else rendered again by the generator,
    which is deterministic per scene index (the recorded seed and version), and resized by the same rules, in
    ``workers`` processes (default: one per CPU core). Nothing is written but the decoded-data cache: a report
    on a fresh clone renders the pairs it needs in a minute or two instead of writing the whole set."""
    found = recorded_stand_in(paths, record)
    if found is None:
        raise MoonDataError(f"{record['kind']} data at {record['location']} is not a generated stand-in")
    root, n, seed, version = found
    numbers = sorted(dict.fromkeys(str(x) for x in numbers), key=lambda x: (int(x), x))
    if outside := [x for x in numbers if not 0 <= int(x) < n]:
        raise MoonDataError(f"pairs {outside[:10]} are not in {paths.relative(root)}: it has pairs 0 to {n - 1}")
    source = Source(NAME, "generated", root)
    if (root / "GENERATED.txt").exists():
        data = load(source, paths)
        at = {x: i for i, x in enumerate(data.numbers)}
        index = torch.tensor([at[x] for x in numbers], dtype=torch.long)
        return MoonData(data.images[index], data.masks[index], numbers, source, data.where)

    def build():
        pairs = _render_pairs(seed, version, [int(x) for x in numbers], workers)
        return {"images": np.stack([p[0] for p in pairs]), "masks": np.stack([p[1] for p in pairs])}, {}

    key = hashlib.sha1(",".join(numbers).encode()).hexdigest()[:16]
    arrays, _ = cached_arrays(paths.cache_dir / f"moon-{root.name}-pairs-{key}", build)
    return MoonData(
        torch.from_numpy(arrays["images"]).permute(0, 3, 1, 2),
        torch.from_numpy(arrays["masks"]).unsqueeze(1),
        numbers,
        source,
        f"{source.describe(paths)}: {len(numbers)} of its {n} pairs, rendered again (the folder is not there)",
    )


def _render_pairs(seed: int, version: int, indices: list[int], workers: int | None) -> list:
    """:func:`_render_pair` of every index, in worker processes when there are enough to pay for starting them."""
    render = partial(_render_pair, seed, version)
    workers = min(os.cpu_count() or 1, 8) if workers is None else workers
    if workers < 2 or len(indices) < 32:
        return [render(i) for i in progress(indices, desc=f"render lunar scenes (seed {seed})", unit="scene")]
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads inherited from the caller
    with ProcessPoolExecutor(workers, mp_context=context, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        done = pool.map(render, indices, chunksize=4)
        return list(progress(done, total=len(indices), desc=f"render lunar scenes (seed {seed})", unit="scene"))


def _render_pair(seed: int, version: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Scene ``index`` as :func:`lunar_synth.generate` writes it and :func:`load_pair` reads it back (PNG is
    lossless and the mask is 0/255): the image and mask at 128×128, by :func:`resize_image` and :func:`resize_mask`."""
    rgb, mask = lunar_synth.render_index(seed, index, style=lunar_synth.STYLES[version])
    return resize_image(rgb), resize_mask(mask).astype(np.uint8)


def locate_recorded(paths: Paths, record: dict) -> Source:
    """The data a run's log names (``summary.json``'s ``data``): the report evaluates on exactly the data
    the runs were trained on. A generated stand-in that is missing (a fresh clone) is generated again
    with the recorded generator version, pairs and seed; real data must be where the log says."""
    if found := recorded_stand_in(paths, record):
        _, n, seed, version = found
        return stand_in(paths, n, seed, version)
    location = record["location"]
    root = (
        paths.data_dir / location[len("$DATA_DIR/") :] if location.startswith("$DATA_DIR/") else paths.root / location
    )
    if not is_moon_root(root):
        raise MoonDataError(
            f"the runs were trained on {record['kind']} data at {location}, which is not there "
            f'({_layout_problem(root)}); put it back, or retrain with make run FORCE="02 03"'
        )
    return Source(NAME, record["kind"], root)


CHECK_HALVES = ("tuning", "test")  # the real check set's halves (its README): even / odd positions


def check_half_indices(numbers: list[str], half: str) -> np.ndarray:
    """Positions of the real check set's ``half`` among pairs ``numbers``: by position in number order
    (0-based), the *tuning half* is the even positions (choices may look at it), the *test half* the odd
    ones (reported, never used to choose)."""
    if half not in CHECK_HALVES:
        raise ValueError(f"unknown half {half!r}: one of {CHECK_HALVES}")
    order = sorted(range(len(numbers)), key=lambda i: (int(numbers[i]), numbers[i]))
    return np.array(sorted(order[CHECK_HALVES.index(half) :: 2]), dtype=np.int64)


def locate_check(paths: Paths | None = None) -> Source | None:
    """The real check set (real renders with *cleaned* masks: larger rocks only), or None when it is
    not there (the real-render sections then skip, saying so). For evaluation only: never trained on.
    A ``MOON_CHECK_ROOT`` that is set but not in the layout is an error; so is a check set that is a
    generated stand-in (``GENERATED.txt``) or that shares its folder or pair files with ``MOON_ROOT``
    (the "real check" would be measured on generated or training pairs)."""
    paths = paths or get_paths()
    root = paths.moon_check_root
    if is_moon_root(root):
        if problem := _check_set_problem(root, paths.moon_root):
            raise MoonDataError(
                f"MOON_CHECK_ROOT={root} {problem}: the real check set must be real renders that no model "
                "trained on. Point MOON_CHECK_ROOT at the real check set, or unset it."
            )
        return Source(NAME, "check", root)
    if paths.is_explicit("MOON_CHECK_ROOT"):
        raise MoonDataError(
            f"MOON_CHECK_ROOT={root} {_layout_problem(root)}. Point it at the real check set "
            "(images/render, images/ground) or unset it."
        )
    print(
        f"real check set not found at {paths.relative(root)} (set MOON_CHECK_ROOT): the real-render "
        "evaluation is skipped"
    )
    return None


def _check_set_problem(check: Path, train: Path) -> str:
    """Why ``check`` cannot serve as the real check set beside the training data at ``train``, or ""."""
    if (check / "GENERATED.txt").exists():
        return "is a generated stand-in (it holds GENERATED.txt), not real renders"
    check, train = check.resolve(), train.resolve()
    if check == train:
        return f"is MOON_ROOT ({train}), the training data"
    if check.is_relative_to(train) or train.is_relative_to(check):
        return f"{'lies inside' if check.is_relative_to(train) else 'contains'} MOON_ROOT ({train}), the training data"
    if not is_moon_root(train):
        return ""
    shared = _same_files(check, train)
    if shared:
        return (
            f"shares {len(shared)} file(s) with MOON_ROOT ({train}), the training data: "
            f"{', '.join(p.relative_to(check).as_posix() for p in shared[:3])}{' ...' if len(shared) > 3 else ''}"
        )
    return ""


def _same_files(check: Path, train: Path) -> list[Path]:
    """The render and mask files of ``check`` whose bytes equal a file of ``train`` (links and copies alike).
    Only files of equal size are hashed, so this costs directory listings and a few reads."""

    def listing(root: Path) -> list[tuple[Path, int]]:
        return [(p, p.stat().st_size) for d in (RENDER_DIR, GROUND_DIR) for p in (root / d).iterdir() if p.is_file()]

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    ours = listing(check)
    sizes = {size for _, size in ours}
    theirs = {}
    for path, size in listing(train):
        if size in sizes:
            theirs.setdefault(size, set()).add(digest(path))
    return sorted(path for path, size in ours if size in theirs and digest(path) in theirs[size])


def _layout_problem(root: Path) -> str:
    """What is wrong with a folder that should be in the MOON_SEGMENTATION_BINARY layout."""
    if not root.exists():
        return "does not exist"
    if not root.is_dir():
        return "is a file, not a folder"
    missing = [str(d) for d in (RENDER_DIR, GROUND_DIR) if not (root / d).is_dir()]
    return f"is not in the MOON_SEGMENTATION_BINARY layout: {' and '.join(missing)} missing"
