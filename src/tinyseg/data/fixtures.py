"""Tiny data sets in the official layouts, for the tests and the smoke profile (no downloads), written in
milliseconds: Tiny ImageNet-200 look-alikes and MOON_SEGMENTATION_BINARY folders of simple shapes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def write_tiny_imagenet(
    root: Path, classes: int = 4, train_per_class: int = 8, val_per_class: int = 2, seed: int = 0, as_zip: bool = False
) -> Path:
    """Write a small Tiny ImageNet-200 look-alike (``tiny-imagenet-200/...``) under ``root``.

    Each class is a noisy image with its own colour, so a classifier can learn it. Returns the
    ``tiny-imagenet-200`` folder, or the zip holding it when ``as_zip``.
    """
    rng = np.random.default_rng(seed)
    base = Path(root) / "tiny-imagenet-200"
    wnids = [f"n{9000000 + i:08d}" for i in range(classes)]
    (base / "val" / "images").mkdir(parents=True, exist_ok=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (base / "words.txt").write_text(
        "n00000001\tentity\n" + "".join(f"{w}\tthing {i}, object {i}\n" for i, w in enumerate(wnids))
    )
    colours = rng.integers(0, 256, (classes, 3))

    def image(c: int) -> Image.Image:
        pixels = colours[c] + rng.normal(0, 40, (64, 64, 3))
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))

    for c, w in enumerate(wnids):
        folder = base / "train" / w / "images"
        folder.mkdir(parents=True, exist_ok=True)
        boxes = []
        for k in range(train_per_class):
            image(c).save(folder / f"{w}_{k}.JPEG", quality=90)
            boxes.append(f"{w}_{k}.JPEG\t0\t0\t63\t63\n")
        (base / "train" / w / f"{w}_boxes.txt").write_text("".join(boxes))
    lines = []
    for k in range(classes * val_per_class):
        c = k % classes
        image(c).save(base / "val" / "images" / f"val_{k}.JPEG", quality=90)
        lines.append(f"val_{k}.JPEG\t{wnids[c]}\t0\t0\t63\t63\n")
    (base / "val" / "val_annotations.txt").write_text("".join(lines))
    if not as_zip:
        return base
    zip_path = Path(root) / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        for f in sorted(base.rglob("*")):
            z.write(f, f.relative_to(root))
    return zip_path


def moon_scene(
    seed: int, index: int, width: int = 120, height: int = 80, rocks: tuple[int, int] = (1, 6)
) -> tuple[np.ndarray, np.ndarray]:
    """One fake scene in milliseconds: a noisy grey ground under a black sky band, with random
    ellipses ("rocks") brighter than the ground. Returns (H×W×3 uint8 RGB, H×W boolean mask);
    deterministic from (``seed``, ``index``). It has the layout and conventions of the MOON data, not
    its look: for tests of paths, layout and loaders (the look is :mod:`.lunar_synth`'s)."""
    rng = np.random.default_rng([seed, index, 7919])
    yy, xx = np.mgrid[:height, :width]
    mask = np.zeros((height, width), bool)
    horizon = int(rng.integers(0, max(1, height // 4)))
    for _ in range(int(rng.integers(rocks[0], rocks[1] + 1))):
        cy = rng.uniform(horizon + 1, height)
        cx = rng.uniform(0, width)
        ry, rx = rng.uniform(1.5, max(2.0, height / 6)), rng.uniform(1.5, max(2.0, width / 6))
        mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    mask[:horizon] = False
    grey = rng.normal(90, 15, (height, width)) + 100 * mask
    grey[:horizon] = 0
    rgb = np.clip(grey, 0, 255).astype(np.uint8)
    return np.repeat(rgb[..., None], 3, axis=-1), mask


def write_moon_layout(
    root: Path, n: int = 6, seed: int = 0, width: int = 120, height: int = 80, start: int = 0, generated: bool = False
) -> Path:
    """A folder in the MOON_SEGMENTATION_BINARY layout in milliseconds: ``n`` pairs
    ``images/render/renderNNNN.png`` (RGB) and ``images/ground/groundNNNN.png`` (0/255, mode L) of
    :func:`moon_scene`, numbered from ``start``. ``generated``: with a ``GENERATED.txt`` note, so the
    loaders read it as a generated stand-in; without it, it reads as real data. Returns ``root``."""
    root = Path(root)
    render_dir, ground_dir = root / "images" / "render", root / "images" / "ground"
    render_dir.mkdir(parents=True, exist_ok=True)
    ground_dir.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        rgb, mask = moon_scene(seed, i, width, height)
        Image.fromarray(rgb).save(render_dir / f"render{i:04d}.png", compress_level=1)
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(
            ground_dir / f"ground{i:04d}.png", compress_level=1
        )
    if generated:
        (root / "GENERATED.txt").write_text(
            f"Test fixture (tinyseg.data.fixtures.write_moon_layout): {n} pairs, seed {seed}, {width}x{height}.\n"
        )
    return root


def write_moon_check(root: Path, n: int = 6, seed: int = 99) -> Path:
    """A small stand-in for the real check set: ``n`` pairs in the MOON layout, without a
    GENERATED.txt note (so it is read exactly as the real check set is). The scenes are
    :func:`moon_scene`'s simple shapes (milliseconds), not rendered lunar scenes."""
    return write_moon_layout(root, n=n, seed=seed)
