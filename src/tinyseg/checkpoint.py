"""Resumable state, RNG, and the run signature: what lets a run continue exactly where it stopped,
and refuse to continue (or be reused) when anything that defines it has changed.

``runs/<run>/last.pt`` (saved after every epoch, never committed) holds the model, optimizer,
scheduler, grad scaler, history, best-epoch bookkeeping, every RNG state and the run's
**signature**. The signature is built by the task from the run's whole recipe, the model config,
the data identity and the seed (:func:`tinyseg.recipes.signature`); it is also written to
``config.json``. Resume and reuse compare it field by field and name every difference.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from .runlog import _jsonable, load_torch, save_torch


class RunMismatchError(ValueError):
    """The logs of a run were made with another recipe, model, data or seed."""


class FinishedRunError(RuntimeError):
    """A finished run would be retrained or overwritten without an explicit decision."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Every RNG the training touches, as tensors and plain values (``weights_only`` loads it)."""
    np_state = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss_next": py_gauss},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    np_rng = rng["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_rng["keys"].numpy().astype(np.uint32),
            np_rng["pos"],
            np_rng["has_gauss"],
            np_rng["cached_gaussian"],
        )
    )
    py = rng["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss_next"]))
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def save_last(path: Path, state, scheduler, scaler, signature: dict) -> None:
    """The resumable state after an epoch, in a form ``torch.load(weights_only=True)`` reads."""
    save_torch(
        path,
        {
            "signature": signature,
            "epoch": state.epoch,
            "status": state.status,
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "best_epoch": state.best_epoch,
            "best_value": state.best_value,
            "bad_epochs": state.bad_epochs,
            "history": state.history,
            "rng": rng_state(),
        },
    )


def restore_last(path: Path, state, scheduler, scaler, signature: dict, where: str) -> None:
    """Continue from ``last.pt``: refused (naming every difference) when the signature differs."""
    ckpt = load_torch(
        path,
        "resumable state",
        f"Delete it to restart {state.cfg.run} from epoch 1 (its finished epochs are lost), or restore it.",
    )
    check_signature(
        ckpt.get("signature"),
        signature,
        f"cannot resume {where}: it was made differently",
        "Resuming would mix two runs. Restore the old settings, or delete the run folder to start "
        "over (or use another run name).",
    )
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    scaler.load_state_dict(ckpt["scaler"])
    state.epoch, state.status = ckpt["epoch"], ckpt["status"]
    state.best_epoch, state.best_value, state.bad_epochs = ckpt["best_epoch"], ckpt["best_value"], ckpt["bad_epochs"]
    state.history = ckpt["history"]
    set_rng_state(ckpt["rng"])


def check_signature(old: dict | None, new: dict, problem: str, way_out: str) -> None:
    """Raise :class:`RunMismatchError` listing every field in which ``old`` and ``new`` differ."""
    if old is None:
        raise RunMismatchError(
            f"{problem}: its logs carry no run signature (an older version of the project). " + way_out
        )
    diff = signature_diff(old, new)
    if diff:
        raise RunMismatchError(f"{problem}: {'; '.join(diff)}. {way_out}")


def signature_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Every difference between two signatures as ``path: old → new`` (``recipe.bce_weight: 1.0 → 2.0``);
    a field on one side only is a difference too."""
    old, new = _jsonable(old), _jsonable(new)
    diff = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            diff += signature_diff(a, b, name + ".")
        elif a != b:
            diff.append(f"{name}: {_short(a)} → {_short(b)}")
    return diff


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
