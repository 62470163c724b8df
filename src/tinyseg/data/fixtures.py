"""Tiny data sets in the official layouts, for the tests and the smoke profile (no downloads)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def write_tiny_imagenet(root: Path, classes: int = 4, train_per_class: int = 8, val_per_class: int = 2,
                        seed: int = 0, as_zip: bool = False) -> Path:
    """Write a small Tiny ImageNet-200 look-alike (``tiny-imagenet-200/...``) under ``root``.

    Each class is a noisy image with its own colour, so a classifier can learn it. Returns the
    ``tiny-imagenet-200`` folder, or the zip holding it when ``as_zip``.
    """
    rng = np.random.default_rng(seed)
    base = Path(root) / "tiny-imagenet-200"
    wnids = [f"n{9000000 + i:08d}" for i in range(classes)]
    (base / "val" / "images").mkdir(parents=True, exist_ok=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (base / "words.txt").write_text("n00000001\tentity\n" + "".join(
        f"{w}\tthing {i}, object {i}\n" for i, w in enumerate(wnids)))
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


def write_moon_check(root: Path, n: int = 6, seed: int = 99) -> Path:
    """A small stand-in for the real check set: ``n`` generated pairs in the MOON layout, without the
    GENERATED.txt note (so it is read exactly as the real check set is)."""
    from .lunar_synth import generate

    generate(root, n=n, seed=seed, width=120, height=80)
    (Path(root) / "GENERATED.txt").unlink()
    return Path(root)
