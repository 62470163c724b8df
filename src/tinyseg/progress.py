"""Text progress bars on stdout: they work in a terminal and in notebooks, and an executed
notebook keeps only their last state (no widgets that an HTML export cannot show)."""

import sys
from functools import partial

from tqdm.std import tqdm

progress = partial(tqdm, file=sys.stdout, mininterval=1.0)


def write(line: str) -> None:
    """Print a line without breaking a running bar."""
    tqdm.write(line, file=sys.stdout)
