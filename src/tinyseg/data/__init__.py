"""Every data set of the project behind the same two steps, like torchvision's datasets.

* ``locate(paths=None, *, profile="cpu") -> Source``: find the data (extracting, downloading or
  generating it when that is what the user asked for) and say what it is: its kind (``real``
  data, the ``generated`` stand-in), where it lies, and what ``load`` must check it against
  (``expected``; the profile decides, e.g. the smoke profile's small fixtures skip the official
  counts). An explicit location that is wrong is an error, never a silent fallback;
* ``load(source, paths=None) -> Dataset``: the whole set as uint8 tensors in memory, decoded once
  into the shared cache (:mod:`.cache`) and served from there afterwards (airbench's data path).

So any data set is ``module.load(module.locate(paths, profile=profile), paths)``.

Modules: :mod:`.tiny_imagenet` (part 1), :mod:`.moon` (MOON_SEGMENTATION_BINARY, parts 2–3),
:mod:`.lunar_synth` (the procedural stand-in in the MOON layout), :mod:`.augment` (batched
augmentation on the device), :mod:`.loaders` (index-batch loaders over in-memory tensors),
:mod:`.fixtures` (tiny data sets in the official layouts for tests and smoke runs). Imports run one way:
:mod:`.moon` uses :mod:`.lunar_synth` to generate the stand-in; the generator knows nothing of the loader
(``tools/stand_in_sheet.py`` puts real renders and generated scenes side by side).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """A data set is missing, incomplete or inconsistent, or an explicit location is wrong; the message says
    what and where (each data module raises its own subclass)."""


@dataclass(frozen=True)
class Source:
    """Where a data set was found and what it is."""

    dataset: str  # "Tiny ImageNet-200" | "MOON_SEGMENTATION_BINARY"
    kind: str  # "real" | "generated" | "check" (real renders kept for evaluation only)
    location: Path  # the folder the data is read from
    origin: Path | None = None  # what the user pointed to, when it differs (e.g. the zip it was extracted from)
    expected: Any = None  # what ``load`` checks the set against (e.g. tiny_imagenet.OFFICIAL); None: consistency only

    def describe(self, paths) -> str:
        """One line for notebooks and logs, with relative locations only."""
        where = paths.relative(self.location)
        if self.origin is not None and self.origin != self.location:
            where += f" (from {paths.relative(self.origin)})"
        what = {
            "real": self.dataset,
            "generated": f"GENERATED stand-in for {self.dataset}",
            "check": "REAL renders with cleaned masks (the check set; larger rocks only)",
        }.get(self.kind, self.kind)
        return f"{what} at {where}"


class Dataset(ABC):
    """The record every ``load`` returns: the data in memory, the :class:`Source` it came from, that source
    in words (``where``, relative locations only) and its plain facts (``facts()``: English keys, numbers)."""

    source: Source
    where: str

    @property
    def kind(self) -> str:
        return self.source.kind

    @abstractmethod
    def facts(self) -> dict:
        """What the set holds: ``{"data": where, ...}`` with counts and sizes."""


__all__ = ["DataError", "Dataset", "Source"]
