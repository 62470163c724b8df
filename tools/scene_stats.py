"""Scene statistics of a MOON-layout folder at 128×128: what the generator is matched to.

    python tools/scene_stats.py [--tuning-half] ROOT [ROOT ...] [--limit N]

Per set: rock share of pixels, rocks (connected components) per image and their sizes, the share of
the largest rock, horizon row (first row from the top that is not sky), brightness of ground and rock
pixels and of the rock/ground ratio. ``--tuning-half`` keeps only the real check set's tuning half
(even positions in number order) — the only real pairs a choice may look at.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from tinyseg.data import Source, moon
from tinyseg.paths import get_paths


def stats(images: np.ndarray, masks: np.ndarray) -> dict:
    """``images`` N×3×H×W uint8, ``masks`` N×1×H×W 0/1."""
    grey = images.astype(np.float32).mean(1) / 255  # N×H×W
    m = masks[:, 0].astype(bool)
    sizes, per_image, largest, horizon, ground_v, rock_v, ratio, dark_rock = [], [], [], [], [], [], [], []
    for g, mk in zip(grey, m):
        labels, n = ndimage.label(mk)
        s = ndimage.sum_labels(np.ones_like(labels), labels, np.arange(1, n + 1)) if n else np.zeros(0)
        sizes.append(s)
        per_image.append(n)
        largest.append(s.max() / mk.size if n else 0.0)
        sky_rows = (g < 0.03).mean(1) > 0.9
        horizon.append(int(np.argmin(sky_rows)) if sky_rows[0] else 0)
        ground = g[(~mk) & (g >= 0.03)]
        ground_v.append(np.median(ground) if ground.size else np.nan)
        if mk.any():
            rock_v.append(np.median(g[mk]))
            ratio.append(np.median(g[mk]) / max(np.median(ground), 1e-3))
            dark_rock.append(float((g[mk] < 0.5 * np.median(ground)).mean()))
    sizes = np.concatenate(sizes)
    q = lambda a, p: float(np.nanpercentile(a, p))  # noqa: E731
    return {
        "images": len(images),
        "rock_share": float(m.mean()),
        "rock_share_median": float(np.median(m.mean((1, 2)))),
        "no_rock_images": int((m.sum((1, 2)) == 0).sum()),
        "rocks_per_image_mean": float(np.mean(per_image)),
        "rocks_per_image_median": float(np.median(per_image)),
        "rock_px_p50": q(sizes, 50),
        "rock_px_p90": q(sizes, 90),
        "rocks_lt10px": float((sizes < 10).mean()),
        "rocks_10_100px": float(((sizes >= 10) & (sizes < 100)).mean()),
        "rocks_ge100px": float((sizes >= 100).mean()),
        "largest_share_mean": float(np.mean(largest)),
        "horizon_row_p10_50_90": [q(horizon, 10), q(horizon, 50), q(horizon, 90)],
        "ground_v_p10_50_90": [q(ground_v, 10), q(ground_v, 50), q(ground_v, 90)],
        "rock_v_p10_50_90": [q(rock_v, 10), q(rock_v, 50), q(rock_v, 90)],
        "rock_ground_ratio_p10_50_90": [q(ratio, 10), q(ratio, 50), q(ratio, 90)],
        "dark_rock_px_share_mean": float(np.mean(dark_rock)),
        "grey_hist16": np.histogram(grey[grey >= 0.03], bins=16, range=(0, 1), density=True)[0].round(2).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--tuning-half", action="store_true")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    paths = get_paths()
    for root in args.roots:
        data = moon.load(Source(moon.NAME, "check", root), paths)
        idx = np.arange(len(data.numbers))
        if args.tuning_half:
            idx = moon.check_half_indices(data.numbers, "tuning")
        idx = idx[: args.limit]
        s = stats(data.images[idx].numpy(), data.masks[idx].numpy())
        print(json.dumps({"root": paths.relative(root), **s}))


if __name__ == "__main__":
    main()
