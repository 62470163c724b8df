"""Every data set of the project behind the same two steps, like torchvision's datasets.

* ``locate(paths) -> Source``: find the data (extracting, downloading or generating it when
  that is what the user asked for) and say what it is: its kind (``real`` data, the
  ``generated`` stand-in) and where it lies;
* ``load(source, paths)``: the whole set as uint8 tensors in memory, decoded once into the
  shared cache (:mod:`.cache`) and served from there afterwards (airbench's data path).

Modules: :mod:`.tiny_imagenet` (part 1), :mod:`.moon` (MOON_SEGMENTATION_BINARY, parts 2–3),
:mod:`.lunar_synth` (the procedural stand-in in the MOON layout), :mod:`.augment` (batched
augmentation on the device), :mod:`.loaders` (index-batch loaders over in-memory tensors),
:mod:`.fixtures` (tiny data sets in the official layouts for tests and smoke runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """Where a data set was found and what it is."""

    dataset: str          # "Tiny ImageNet-200" | "MOON_SEGMENTATION_BINARY"
    kind: str             # "real" | "generated" | "check" (real renders kept for evaluation only)
    location: Path        # the folder the data is read from
    origin: Path | None = None   # what the user pointed to, when it differs (e.g. the zip it was extracted from)

    def describe(self, paths) -> str:
        """One line for notebooks and logs, with relative locations only."""
        where = paths.relative(self.location)
        if self.origin is not None and self.origin != self.location:
            where += f" (from {paths.relative(self.origin)})"
        what = {"real": self.dataset, "generated": f"GENERATED stand-in for {self.dataset}",
                "check": "REAL renders with cleaned masks (the check set; larger rocks only)"}.get(self.kind, self.kind)
        return f"{what} at {where}"


__all__ = ["Source"]
