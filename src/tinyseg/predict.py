"""Command line: the trained models on your own images.

    python -m tinyseg.predict weights/classifier.pt cat.jpg dog.png          # top-5 classes
    python -m tinyseg.predict weights/unet_base.pt render0001.png --out masks  # rock masks (0/255 PNG)

The checkpoint says which model it is; a U-Net writes ``<out>/<image stem>_mask.png`` at the image's
own size and prints the share of rock pixels. A checkpoint of the project's ``weights/`` is checked against
the sha256 its run's summary records.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .inference import Segmenter, load_tool
from .runlog import CheckpointError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyseg.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path, help="a checkpoint from weights/")
    parser.add_argument("images", type=Path, nargs="+", help="image files (any size; converted to RGB)")
    parser.add_argument("--out", type=Path, default=Path("masks"), help="folder for U-Net masks (default: masks)")
    parser.add_argument("--top", type=int, default=5, help="classes to show per image (classifier)")
    parser.add_argument("--threshold", type=float, default=0.5, help="rock probability threshold (U-Net)")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.images if not p.is_file()]
    try:
        if missing:
            raise ValueError(f"no such image file(s): {', '.join(missing)}")
        tool = load_tool(args.weights)
        if isinstance(tool, Segmenter):
            args.out.mkdir(parents=True, exist_ok=True)
            for path, mask in zip(args.images, tool.masks(args.images, args.threshold)):
                target = args.out / f"{path.stem}_mask.png"
                Image.fromarray(mask.astype(np.uint8) * 255).save(target)
                print(f"{path}: {mask.shape[1]}×{mask.shape[0]}, rock {mask.mean():.1%} → {target}")
        else:
            for path, top in zip(args.images, tool.topk(args.images, args.top)):
                print(f"{path}: " + "; ".join(f"{name} {p:.0%}" for name, p in top))
    except (CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
