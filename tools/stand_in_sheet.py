"""Pictures of the generated stand-in: scenes with their rock masks, alone or under real renders.

    python tools/stand_in_sheet.py sheet.png [--seed 0] [--version 2]                    # 12 scenes
    python tools/stand_in_sheet.py compare.png --compare-with REAL_MOON_ROOT [--seed 0]   # 6 real above 6 generated

The real renders shown are the first ``n`` of the folder's even positions in number order: of the real
check set, its *tuning half* only (the test half is never looked at to make a choice).

Each render is shown beside (``contact_sheet``) or above (``comparison_sheet``) itself with its mask
overlaid in red. ``docs/lunar_synth_contact_sheet.png`` and ``docs/stand_in_vs_real.png`` were made so.
The real renders are read with the moon loader (:mod:`tinyseg.data.moon`), the scenes rendered by
:mod:`tinyseg.data.lunar_synth`: this script is the one place that needs both.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from tinyseg.data.lunar_synth import STYLES, VERSION, render_index
from tinyseg.data.moon import check_half_indices, find_pairs, read_mask
from tinyseg.report.figures import overlay


def _overlaid(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """An H×W×3 uint8 render with its boolean mask in red, as an H×W×3 uint8 array."""
    return overlay(rgb, mask).permute(1, 2, 0).numpy()


def _save(sheet: np.ndarray, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path, optimize=True)
    return path


def contact_sheet(path: Path, seed: int = 0, n: int = 12, cols: int = 3, version: int = VERSION) -> Path:
    """A PNG of ``n`` scenes from ``seed``: each render beside its mask overlaid in red."""
    tiles = []
    for i in range(n):
        rgb, mask = render_index(seed, i, style=STYLES[version])
        pair = np.concatenate([rgb, np.full((rgb.shape[0], 6, 3), 255, np.uint8), _overlaid(rgb, mask)], 1)
        tiles.append(np.pad(pair, ((6, 6), (6, 6), (0, 0)), constant_values=255))
    rows = [np.concatenate(tiles[r : r + cols], 1) for r in range(0, n, cols)]
    return _save(np.concatenate(rows, 0), path)


def comparison_sheet(
    path: Path, real_root: Path, seed: int = 0, n: int = 6, version: int = VERSION, size: tuple[int, int] = (240, 160)
) -> Path:
    """A PNG with ``n`` real renders (from ``real_root``, MOON layout) above ``n`` generated scenes, each
    with its rock mask overlaid in red below it: how close the stand-in looks to the real data."""

    def tile(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.BOX))
        m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.BOX)) >= 128
        return np.concatenate([rgb, np.full((4, size[0], 3), 255, np.uint8), _overlaid(rgb, m)], 0)

    pairs = find_pairs(real_root)
    tuning = [pairs[i] for i in check_half_indices([number for number, _, _ in pairs], "tuning")]
    real = [tile(np.asarray(Image.open(r).convert("RGB")), read_mask(g)) for _, r, g in tuning[:n]]
    generated = [tile(*render_index(seed, i, style=STYLES[version])) for i in range(n)]
    rows = [
        np.concatenate([np.pad(t, ((4, 4), (4, 4), (0, 0)), constant_values=255) for t in tiles], 1)
        for tiles in (real, generated)
    ]
    return _save(np.concatenate([rows[0], np.full((12, rows[0].shape[1], 3), 255, np.uint8), rows[1]], 0), path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--version", type=int, default=VERSION, help="generator version (see lunar_synth.STYLES)")
    parser.add_argument(
        "--compare-with", type=Path, default=None, help="real renders (MOON layout) to put above 6 generated scenes"
    )
    args = parser.parse_args(argv)
    if args.compare_with:
        print(comparison_sheet(args.out, args.compare_with, args.seed, version=args.version))
    else:
        print(contact_sheet(args.out, args.seed, version=args.version))


if __name__ == "__main__":
    main()
