"""Text progress bars on stdout: they work in a terminal and in notebooks, and an executed
notebook keeps only their last state (no widgets that an HTML export cannot show).

A notebook executed by the main job (:func:`tinyseg.pipeline.execute_notebook`) shows no bars at all: it sets
``TINYSEG_PROGRESS=0`` for its kernel, so the committed outputs hold the epoch lines, never a bar's last state.
"""

import os
import sys

from tqdm.std import tqdm

QUIET = "TINYSEG_PROGRESS"  # "0": no progress bars (the main job's notebooks)
_STDOUT = sys.stdout  # the stream at import (a notebook's cell output; in tests, the real stdout, not a capture)


def bars_enabled() -> bool:
    return os.environ.get(QUIET, "1") != "0"


def progress(*args, **kwargs) -> tqdm:
    """A tqdm bar on stdout (at most one refresh a second), disabled when :func:`bars_enabled` says so."""
    kwargs.setdefault("file", _STDOUT)
    kwargs.setdefault("mininterval", 1.0)
    kwargs["disable"] = kwargs.get("disable", False) or not bars_enabled()
    return tqdm(*args, **kwargs)


def write(line: str) -> None:
    """Print a line without breaking a running bar."""
    tqdm.write(line, file=sys.stdout)
