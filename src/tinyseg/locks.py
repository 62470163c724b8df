"""Locks that keep two processes out of the same files: a run folder, the main job, the stand-in's folder.

    with hold(run_dir / ".lock", "runs/unet_base"):
        ...  # only this process trains the run

A lock is an exclusive ``flock`` on a small file. The operating system releases it when its process
ends, however it ends (Ctrl-C, SIGKILL, a crashed kernel), so a lock file left behind by a killed
process is simply free again: the next ``hold`` takes it over. The file records its holder (pid,
host, start time, command line), so a refused ``hold`` names who is in the way. ``wait`` makes
``hold`` wait for the holder (saying once whom it waits for) instead of refusing at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

POLL_S = 0.2  # how often a waiting hold tries again


class LockedError(RuntimeError):
    """Another process holds the lock; the message names it (pid, command, start time) and the way out."""

    def __init__(self, message: str, holder: dict | None = None):
        super().__init__(message)
        self.holder = holder


def _command_line() -> str:
    """This process's command line, short: ``python -m tinyseg.pipeline run --profile smoke``."""
    try:
        args = Path("/proc/self/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        args = []
    args = args or [sys.executable, *sys.argv]
    args[0] = Path(args[0]).name
    if args[0].startswith("python"):
        args[0] = "python"
    if any("ipykernel" in a for a in args):
        return "a notebook kernel (python -m ipykernel_launcher)"
    text = " ".join(" ".join(args).split())  # one line, even for python -c "<several lines>"
    return text if len(text) <= 120 else text[:117] + "..."


def _holder_text(holder: dict | None) -> str:
    """``pid 1234 (python -m tinyseg.pipeline run, started 06:31)``; what is known of an unknown holder."""
    if not holder:
        return "another process (it has not recorded itself yet)"
    started = holder.get("started", "")
    with contextlib.suppress(ValueError, TypeError):
        when = datetime.fromisoformat(started)
        started = when.strftime("%H:%M" if when.date() == datetime.now().date() else "%Y-%m-%d %H:%M")
    pid, host = holder.get("pid"), holder.get("host")
    where = "" if host in (None, socket.gethostname()) else f" on {host}"
    if pid == os.getpid() and not where:
        return f"this process (pid {pid}: {holder.get('command', '?')}, started {started}), in another thread or call"
    text = f"pid {pid}{where} ({holder.get('command', '?')}, started {started})"
    if not where and isinstance(pid, int) and not _alive(pid):
        text += ", which has exited; a process it started still holds the lock"
    return text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def read_holder(lock_path: str | Path) -> dict | None:
    """What the lock file says of its holder (None when it is missing, empty or unreadable). The file
    outlives a killed holder, so this is only meaningful while the lock is held."""
    for _ in range(5):  # the holder writes its record right after taking the lock: give it a moment
        with contextlib.suppress(OSError, ValueError):
            holder = json.loads(Path(lock_path).read_text(encoding="utf-8"))
            if isinstance(holder, dict):
                return holder
        time.sleep(0.02)
    return None


def _try_lock(lock_path: Path) -> int | None:
    """An fd holding the lock on ``lock_path``, or None when another process holds it."""
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        # the previous holder removes the file when it lets go: if it did so between our open and our
        # flock, we hold a lock on a file nobody else will look at; open the path again
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock_path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _release(fd: int, lock_path: Path) -> None:
    """Remove the lock file (only if it is still ours: a folder moved away takes it along) and unlock."""
    try:
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.stat(lock_path)):
                lock_path.unlink()
    finally:
        os.close(fd)  # closing the last fd of the open file releases the flock


@contextlib.contextmanager
def hold(lock_path: str | Path, what: str, wait: float = 0.0, doing: str = "") -> Iterator[Path]:
    """Hold the exclusive lock ``lock_path`` for the block; ``what`` names the thing it guards in messages.

    Another holder (another process, or another ``hold`` of this process) makes it raise
    :class:`LockedError` at once: ``runs/unet_base is in use by pid 1234 (python -m tinyseg.pipeline run,
    started 06:31): wait for it to finish or stop it``. With ``wait`` > 0 it waits up to that many
    seconds, printing once whom it waits for (``doing`` says what the holder is doing), and raises
    :class:`LockedError` naming the holder when the time is up.
    """
    lock_path = Path(lock_path)
    created = not lock_path.parent.exists()  # removed again on release if nothing was put in it
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline, announced = time.monotonic() + wait, False
    while (fd := _try_lock(lock_path)) is None:
        holder = read_holder(lock_path)
        if time.monotonic() >= deadline:
            waited = f" after waiting {_duration(wait)}" if wait > 0 else ""
            raise LockedError(
                f"{what} is in use by {_holder_text(holder)}{waited}: wait for it to finish or stop it",
                holder,
            )
        if not announced:
            print(
                f"{what} is in use by {_holder_text(holder)}{' ' + doing if doing else ''}; "
                f"waiting for it (at most {_duration(wait)})",
                flush=True,
            )
            announced = True
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
    try:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().isoformat(timespec="seconds"),
            "command": _command_line(),
            "what": what,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        yield lock_path
    finally:
        _release(fd, lock_path)
        if created:
            with contextlib.suppress(OSError):
                lock_path.parent.rmdir()  # only if empty
