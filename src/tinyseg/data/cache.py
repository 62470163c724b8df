"""The one cache of decoded data: uint8 arrays under ``DATA_DIR/cache/<name>-<fingerprint>/``.

A data set is decoded once (JPEG/PNG → arrays), written atomically (``meta.json`` last, so a
folder without it is an unfinished write and is rebuilt), and loaded from there afterwards.
The fingerprint covers every source file's name, size and modification time, so editing the
data makes a new cache entry instead of serving stale arrays.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..runlog import atomic_write, write_json


def fingerprint(files: Iterable[tuple[str, Path]], salt: str) -> str:
    """A short hash of ``(name, file)`` pairs: the name (e.g. a relative path with its label) and
    the file's size and modification time."""
    h = hashlib.sha1(salt.encode())
    for name, path in files:
        st = Path(path).stat()
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def content_hash(*tensors) -> str:
    """A short content hash of tensors (shape, dtype and bytes): the same data gives the same value on
    any machine, whatever its paths or file dates."""
    h = hashlib.sha1()
    for t in tensors:
        array = t.contiguous().numpy() if hasattr(t, "numpy") else np.ascontiguousarray(t)
        h.update(f"{array.shape}|{array.dtype};".encode())
        h.update(memoryview(array).cast("B"))
    return h.hexdigest()[:16]


def cached_arrays(
    folder: Path, build: Callable[[], tuple[dict[str, np.ndarray], dict]]
) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, meta)`` from ``folder``; on first use ``build()`` makes them and they are saved."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        arrays, meta = build()
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            atomic_write(folder / f"{name}.npy", lambda f, a=array: np.save(f, a))
        write_json(meta_path, {**meta, "arrays": sorted(arrays)})
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return {name: np.load(folder / f"{name}.npy") for name in meta["arrays"]}, meta
