"""The one cache of decoded data: uint8 arrays under ``DATA_DIR/cache/<name>-<fingerprint>/``.

A data set is decoded once (JPEG/PNG → arrays), written atomically (``meta.json`` last, so a
folder without it is an unfinished write and is rebuilt), and loaded from there afterwards.
The fingerprint covers every source file's name, size and modification time, so editing the
data makes a new cache entry instead of serving stale arrays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..runlog import atomic_write, write_json
from . import DataError


class CacheError(DataError):
    """The decoded-data cache could not be written (a full disk); the message names the folder and what to do."""


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
        _save(folder, arrays, meta)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return {name: np.load(folder / f"{name}.npy") for name in meta["arrays"]}, meta


def _save(folder: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write the arrays, then ``meta.json``. A failed write (a full disk) removes what this call wrote, so no
    half-written entry is left (nor the space it takes), and says where, how much room is left and what to do."""
    existed = folder.exists()
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            written.append(atomic_write(folder / f"{name}.npy", lambda f, a=array: np.save(f, a)))
        write_json(folder / "meta.json", {**meta, "arrays": sorted(arrays)})
    except OSError as e:  # numpy's own message on a full disk names no file: "393216 requested and 69504 written"
        for path in written:
            path.unlink(missing_ok=True)
        if not existed:
            with contextlib.suppress(OSError):
                folder.rmdir()
        need = size_text(sum(a.nbytes for a in arrays.values()))
        raise CacheError(
            f"could not write the decoded-data cache {folder} ({type(e).__name__}: {e}); it needs about "
            f"{need} and {free_space(folder)} on that disk. Free some space there, or set DATA_DIR "
            "to a folder on a disk with room, and run again (nothing half-written was left in the cache)."
        ) from e


def free_space(path: Path) -> str:
    """``12.3 GiB free`` on the disk that holds ``path`` (or its nearest existing parent)."""
    folder = next((p for p in (Path(path), *Path(path).parents) if p.exists()), Path("/"))
    return f"{size_text(shutil.disk_usage(folder).free)} free"


def size_text(nbytes: float) -> str:
    """A size in words: ``0.4 MiB``, ``375.0 MiB``, ``12.3 GiB``."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"
