"""The one training loop of the project: :func:`fit` trains every model, classifier and U-Nets alike.

Read it top to bottom: a config object, the optimizer and schedule built from it, then
``for epoch: train → validate → log → checkpoint → early stop``. What differs between
tasks comes in as arguments: the loss, a torchmetrics ``MetricCollection``, batch
transforms (augmentation runs on whole batches on the device) and callbacks.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics import MetricCollection

from .device import Runtime, select_runtime
from .freeze import train_mode
from .paths import Paths, get_paths
from .progress import progress, write
from .runlog import (RunInfo, RunLog, _jsonable, load_torch, load_weights,
                     remove_stale_temporaries, save_torch, save_weights)

Batch = tuple[torch.Tensor, torch.Tensor]
Transform = Callable[[torch.Tensor, torch.Tensor], Batch]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


class RunMismatchError(ValueError):
    """The logs of a run were made with another config, batch size, schedule length or data."""


class FinishedRunError(RuntimeError):
    """A finished run would be retrained or overwritten without an explicit decision."""


@dataclass
class TrainConfig:
    """Everything that shapes a training run; saved to ``runs/<run>/config.json``."""

    run: str
    epochs: int
    lr: float
    optimizer: str = "sgd"            # "sgd" (Nesterov momentum) | "adamw"
    momentum: float = 0.9             # SGD momentum / AdamW beta1
    weight_decay: float = 5e-4        # not applied to norms and biases
    schedule: str = "onecycle"        # "onecycle" | "cosine" (linear warm-up, cosine decay) | "constant"
    warmup: float = 0.15              # fraction of all steps spent warming up
    lr_scales: dict[str, float] = field(default_factory=dict)  # parameter-name prefix → LR multiplier
    grad_clip: float | None = None    # max gradient norm
    monitor: str = "val_loss"         # the record key that picks the best epoch
    mode: str = "min"                 # "min" | "max"
    monitor_from: int = 1             # epochs before this one do not compete for the best epoch
    patience: int | None = None       # early stopping after this many epochs without improvement
    max_steps_per_epoch: int | None = None  # cut epochs short (smoke profile)
    train_metrics: bool = True        # also compute the metrics on training batches
    seed: int = 0

    def __post_init__(self):
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {self.mode!r}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', not {self.optimizer!r}")
        if self.schedule not in ("onecycle", "cosine", "constant"):
            raise ValueError(f"schedule must be 'onecycle', 'cosine' or 'constant', not {self.schedule!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {self.epochs}")


@dataclass
class FitState:
    """What callbacks see: the live objects and the history so far."""

    cfg: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int = 0                    # the current (1-based) epoch
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    bad_epochs: int = 0
    status: str = "running"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Parameter groups by (LR scale, decay): norms and biases (ndim ≤ 1) get no weight decay.

    Frozen parameters are included too, so that a module unfrozen later trains with its
    own group's learning rate (optimizers skip parameters without gradients).
    """
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        scale = next((s for prefix, s in cfg.lr_scales.items() if name.startswith(prefix)), 1.0)
        groups.setdefault((scale, p.ndim > 1), []).append(p)
    param_groups = [{"params": ps, "lr": cfg.lr * scale, "weight_decay": cfg.weight_decay if decay else 0.0}
                    for (scale, decay), ps in sorted(groups.items())]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    return torch.optim.AdamW(param_groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    """A per-step schedule: one-cycle, or linear warm-up then cosine decay, or constant."""
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total_steps,
            pct_start=cfg.warmup, cycle_momentum=cfg.optimizer == "sgd")
    warmup = max(1, round(cfg.warmup * total_steps))

    def factor(step: int) -> float:
        if cfg.schedule == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _to_device(batch: Sequence[torch.Tensor], runtime: Runtime) -> Batch:
    x, y = batch[0], batch[1]
    non_blocking = runtime.device.type == "cuda"
    return x.to(runtime.device, non_blocking=non_blocking), y.to(runtime.device, non_blocking=non_blocking)


def _layout(x: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if runtime.channels_last and x.ndim == 4 else x


def _compute(metrics: MetricCollection, prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.compute().items()}


def _unchanged(x: torch.Tensor) -> torch.Tensor:
    return x


def _forward(model: nn.Module, batch: Sequence[torch.Tensor], transform: Transform | None, loss_fn: Callable,
             runtime: Runtime) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch through transform, model and loss: (inputs, targets, outputs, loss)."""
    x, y = _to_device(batch, runtime)
    if transform is not None:
        x, y = transform(x, y)
    with runtime.autocast():
        out = model(_layout(x, runtime))
        loss = loss_fn(out, y)
    return x, y, out, loss


@torch.inference_mode()
def predict(model: nn.Module, inputs: torch.Tensor, *, runtime: Runtime,
            transform: Callable[[torch.Tensor], torch.Tensor],
            activation: Callable[[torch.Tensor], torch.Tensor] = _unchanged, batch_size: int = 64) -> torch.Tensor:
    """``activation(model(transform(inputs)))`` batch by batch, as at validation; float32 on the CPU."""
    model.eval().to(runtime.device)
    out = []
    for i in range(0, len(inputs), batch_size):
        x = transform(inputs[i:i + batch_size].to(runtime.device))
        with runtime.autocast():
            out.append(activation(model(_layout(x, runtime)).float()).cpu())
    return torch.cat(out)


@torch.inference_mode()
def evaluate(model: nn.Module, loader: Iterable, *, loss_fn: Callable, metrics: MetricCollection,
             runtime: Runtime, transform: Transform | None = None,
             to_preds: Callable[[torch.Tensor], torch.Tensor] = _unchanged,
             max_steps: int | None = None, desc: str = "val", verbose: bool = True) -> dict[str, float]:
    """Loss and metrics over the whole loader, accumulated (not averaged over batches)."""
    model.eval()
    metrics = metrics.to(runtime.device)
    metrics.reset()
    loss_sum, count = 0.0, 0
    for step, batch in enumerate(progress(loader, desc=desc, leave=False, disable=not verbose)):
        if max_steps is not None and step >= max_steps:
            break
        x, y, out, loss = _forward(model, batch, transform, loss_fn, runtime)
        loss_sum += float(loss) * len(x)
        count += len(x)
        metrics.update(to_preds(out.float()), y)
    if count == 0:
        raise ValueError("the validation loader yielded no batches")
    return {"loss": loss_sum / count, **_compute(metrics, "")}


def fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable, *, cfg: TrainConfig,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], metrics: MetricCollection,
        to_preds: Callable[[torch.Tensor], torch.Tensor] = _unchanged,
        train_transform: Transform | None = None, val_transform: Transform | None = None,
        runtime: Runtime | None = None, callbacks: Sequence[Any] = (), info: RunInfo | None = None,
        paths: Paths | None = None, resume: bool = False, checkpoint_meta: dict | None = None,
        verbose: bool = True) -> FitState:
    """Train ``model``; log to ``runs/<run>/``; keep the best epoch in ``weights/<run>.pt``.

    ``loss_fn(logits, target)`` is the training loss; ``metrics`` are updated with
    ``(to_preds(logits), target)`` and computed over the whole validation set each epoch
    (and over the training batches when ``cfg.train_metrics``). ``info`` (profile, seed, data,
    recipe, the run's spec) goes into ``config.json``; its profile, seed and data into ``summary.json``.
    Callbacks are objects with any of the methods ``on_fit_start(state)``,
    ``on_epoch_start(state)``, ``on_epoch_record(state, record)`` (may add fields to the epoch's
    record before it is logged), ``on_epoch_end(state, record)`` and ``on_fit_end(state)``.

    ``resume=True`` continues from ``runs/<run>/last.pt`` (saved after every epoch) when it
    exists and was made with the same config. Ctrl-C stops cleanly: the last finished epoch
    stays resumable. ``checkpoint_meta`` is stored in the weights file beside the state_dict and
    the model config (what a user of the checkpoint needs: class names, preprocessing). A
    non-finite loss raises :class:`NonFiniteLossError`. On return the model holds the best
    epoch's weights. ``verbose=False`` shows no progress bars and no epoch lines (repeats of a run
    with other seeds, whose curves are not watched).
    """
    runtime = runtime or select_runtime(verbose=False)
    paths = paths or get_paths()
    info_dict = info.as_dict() if info is not None else {}
    log = RunLog(paths.run_dir(cfg.run))
    weights_path = paths.weights(cfg.run)
    steps_per_epoch = len(train_loader)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    if steps_per_epoch == 0:
        raise ValueError("the training loader yields no batches (data set smaller than one batch?)")

    model.to(runtime.device)
    if runtime.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, cfg.epochs * steps_per_epoch)
    scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.needs_grad_scaler)
    val_metrics = metrics.clone().to(runtime.device)
    train_metrics = metrics.clone().to(runtime.device) if cfg.train_metrics else None
    state = FitState(cfg=cfg, model=model, optimizer=optimizer)
    config = {"train": asdict(cfg), "model": getattr(model, "config", {}), "runtime": runtime.as_dict(),
              "steps_per_epoch": steps_per_epoch, "batch_size": _batch_size(train_loader), "info": info_dict}
    config = json.loads(json.dumps(_jsonable(config)))  # as it reads back from config.json

    remove_stale_temporaries(log.dir, "last.pt")          # left by a process killed mid-write
    remove_stale_temporaries(weights_path.parent, weights_path.name)
    if log.is_finished() and not weights_path.exists():
        raise FinishedRunError(
            f"{cfg.run} is finished ({paths.relative(log.summary_path)}) but its weights "
            f"{paths.relative(weights_path)} are missing. Restore the file (git checkout -- "
            f"{paths.relative(weights_path)}, or check WEIGHTS_DIR), or retrain the run on purpose with "
            "make run FORCE=<its notebook> (the old run is archived, nothing is deleted).")
    if not resume and log.is_finished():
        raise FinishedRunError(
            f"{cfg.run} is finished ({paths.relative(log.summary_path)}): training it again with resume=False "
            "would overwrite its logs. Archive it first (make run FORCE=<its notebook>) or use another run name.")
    if resume and log.last_path.exists():
        _restore(log, state, scheduler, scaler, config, paths.relative(log.last_path))
        print(f"{cfg.run}: resumed after epoch {state.epoch} of {cfg.epochs} ({paths.relative(log.last_path)})")
    elif resume and log.is_finished():
        _restore_finished(log, state, config, paths.relative(log.dir))  # a fresh clone: logs and weights, no last.pt
        print(f"{cfg.run}: already {state.status} (best epoch {state.best_epoch}); its logs and "
              f"{paths.relative(weights_path)} are used as they are. Delete {paths.relative(log.dir)} to train it again.")
    else:
        seed_everything(cfg.seed)
        log.start(config)
    started = time.time()
    wall_before = sum(r["seconds"] for r in state.history)
    total = sum(p.numel() for p in model.parameters())

    def summary() -> dict:
        best = next((r for r in state.history if r["epoch"] == state.best_epoch), {})
        return {"run": cfg.run, "status": state.status, "monitor": cfg.monitor, "mode": cfg.mode,
                "best_epoch": state.best_epoch, "best": best, "epochs_run": len(state.history),
                "epochs_planned": cfg.epochs, "params_total": total,
                "params_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
                "device": runtime.describe(), "precision": runtime.precision,
                "wall_time_s": wall_before + time.time() - started,
                "weights": paths.relative(weights_path), "finished_at": datetime.now(timezone.utc).isoformat(),
                **{k: info_dict[k] for k in ("profile", "seed", "data") if k in info_dict}}

    def call(hook: str, *args) -> None:
        for cb in callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(state, *args)

    call("on_fit_start")
    finished = state.status in ("completed", "early_stopped")
    saved = len(state.history)  # the epochs that last.pt holds
    try:
        while not finished and state.epoch < cfg.epochs:
            state.epoch += 1
            call("on_epoch_start")
            record = _train_one_epoch(state, train_loader, steps_per_epoch, scheduler, scaler, loss_fn,
                                      train_metrics, to_preds, train_transform, runtime, verbose)
            t0 = time.time()
            val = evaluate(model, val_loader, loss_fn=loss_fn, metrics=val_metrics, runtime=runtime,
                           transform=val_transform, to_preds=to_preds, verbose=verbose)
            record.update({f"val_{k}": v for k, v in val.items()})
            record["seconds_val"] = time.time() - t0
            record["seconds"] = record["seconds_train"] + record["seconds_val"]
            call("on_epoch_record", record)
            improved = _update_best(state, record)
            if improved:
                save_weights(weights_path, model, run=cfg.run, epoch=state.epoch,
                             metrics={k: v for k, v in record.items() if k.startswith("val_")},
                             **(checkpoint_meta or {}))
            stop_early = cfg.patience is not None and state.bad_epochs >= cfg.patience
            state.history.append(record)
            if stop_early:
                state.status = "early_stopped"
            elif state.epoch == cfg.epochs:
                state.status = "completed"
            log.append_metrics(record)
            _save_last(log, state, scheduler, scaler, config)
            saved = state.epoch
            log.write_summary(summary())
            if verbose:
                write(_epoch_line(cfg, record, improved))
            call("on_epoch_end", record)
            if stop_early:
                if verbose:
                    write(f"early stop: {cfg.monitor} has not improved for {cfg.patience} epochs "
                          f"(best {state.best_value:.4f} at epoch {state.best_epoch})")
                break
    except KeyboardInterrupt:
        state.status = "interrupted"
        state.history = state.history[:saved]
        print(f"\n{cfg.run}: interrupted in epoch {state.epoch}; {saved} finished epoch(s) are saved in "
              f"{paths.relative(log.last_path)}. Run again (fit(..., resume=True)) to continue from epoch {saved + 1}.")
        state.epoch = saved
        log.rewrite_metrics(state.history)
        log.write_summary(summary())
    except NonFiniteLossError:
        state.status = "diverged"
        log.write_summary(summary())
        raise
    if state.best_epoch is not None and weights_path.exists():
        model.load_state_dict(load_weights(weights_path)["state_dict"])
    call("on_fit_end")
    return state


def _train_one_epoch(state: FitState, loader: Iterable, steps: int, scheduler, scaler, loss_fn,
                     metrics: MetricCollection | None, to_preds, transform, runtime: Runtime,
                     verbose: bool = True) -> dict:
    cfg, model, optimizer = state.cfg, state.model, state.optimizer
    train_mode(model)
    if metrics is not None:
        metrics.reset()
    loss_sum, count, t0 = 0.0, 0, time.time()
    lr = _peak_lr(optimizer)
    bar = progress(total=steps, desc=f"epoch {state.epoch}/{cfg.epochs}", leave=False, disable=not verbose)
    for step, batch in enumerate(loader):
        if step >= steps:
            break
        x, y, out, loss = _forward(model, batch, transform, loss_fn, runtime)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            bar.close()
            raise NonFiniteLossError(
                f"{cfg.run}: the training loss became {loss_value} at epoch {state.epoch}, step {step + 1} "
                f"of {steps} (lr {_peak_lr(optimizer):.3g}). Lower the learning rate, enable "
                "grad_clip or check the inputs; the last good epoch stays in last.pt.")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        lr = _peak_lr(optimizer)
        scheduler.step()
        loss_sum += loss_value * len(x)
        count += len(x)
        if metrics is not None:
            metrics.update(to_preds(out.detach().float()), y)
        bar.update()
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss_sum / count:.4f}", lr=f"{lr:.3g}")
    bar.close()
    record = {"epoch": state.epoch, "lr": lr, "train_loss": loss_sum / max(count, 1)}
    if metrics is not None:
        record.update(_compute(metrics, "train_"))
    record["seconds_train"] = time.time() - t0
    return record


def _peak_lr(optimizer: torch.optim.Optimizer) -> float:
    """The largest learning rate over the parameter groups (the base group's, with scales ≤ 1)."""
    return max(g["lr"] for g in optimizer.param_groups)


def _update_best(state: FitState, record: dict) -> bool:
    cfg = state.cfg
    if cfg.monitor not in record:
        raise KeyError(f"monitor {cfg.monitor!r} is not among the logged values: {sorted(record)}")
    if state.epoch < cfg.monitor_from:
        return False
    value = record[cfg.monitor]
    better = (state.best_value is None or (value > state.best_value if cfg.mode == "max"
                                           else value < state.best_value))
    if better and math.isfinite(value):
        state.best_value, state.best_epoch, state.bad_epochs = value, state.epoch, 0
        return True
    state.bad_epochs += 1
    return False


def _epoch_line(cfg: TrainConfig, record: dict, improved: bool) -> str:
    keys = ["train_loss", "val_loss"] + [k for k in record if k.startswith("val_") and k != "val_loss"]
    values = " | ".join(f"{k} {record[k]:.4f}" for k in keys)
    return (f"epoch {record['epoch']:>3}/{cfg.epochs} | {values} | {record['seconds']:.0f}s"
            + (" | best" if improved else ""))


def _save_last(log: RunLog, state: FitState, scheduler, scaler, config: dict) -> None:
    """The resumable state, in a form ``torch.load(weights_only=True)`` reads (no pickled objects)."""
    np_state = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    save_torch(log.last_path, {
        "identity": _identity(config), "epoch": state.epoch, "status": state.status,
        "model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
        "best_epoch": state.best_epoch, "best_value": state.best_value, "bad_epochs": state.bad_epochs,
        "history": state.history,
        "rng": {"torch": torch.get_rng_state(),
                "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                          "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
                "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64),
                           "gauss_next": py_gauss},
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
    })


def _batch_size(loader) -> int | None:
    """The batch size of a DataLoader (also when it batches through a BatchSampler); None for other iterables."""
    for holder in (loader, getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
        size = getattr(holder, "batch_size", None)
        if size is not None:
            return size
    return None


def _identity(config: dict) -> dict:
    """What defines a run beyond its name: training config, model, schedule length, batch size, data."""
    return {"train": config.get("train"), "model": config.get("model"),
            "steps_per_epoch": config.get("steps_per_epoch"), "batch_size": config.get("batch_size"),
            "data": (config.get("info") or {}).get("data", {}).get("identity") or None}


def _identity_diff(old: dict, new: dict) -> list[str]:
    """The differences between two run identities (``train.lr``, ``batch_size``, ``data``, ...). A field
    the older logs do not record (None) is not compared."""
    diff = []
    for key in new:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):  # field by field; a field one side lacks is not recorded
            diff += [f"{key}.{k}: {_short(a[k])} → {_short(b[k])}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
        elif a is not None and b is not None and a != b:
            diff.append(f"{key}: {_short(a)} → {_short(b)}")
    return diff


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _restore_finished(log: RunLog, state: FitState, config: dict, where: str) -> None:
    """Take a finished run from its logs (the best weights are loaded at the end of ``fit``)."""
    diff = _identity_diff(_identity(log.config()), _identity(config))
    if diff:
        raise RunMismatchError(
            f"{where} holds a finished run made differently: {'; '.join(diff)}. Archive it to train with the new "
            "settings (make run FORCE=<its notebook>), or use another run name.")
    summary = log.summary()
    state.history = log.metrics()
    state.epoch = len(state.history)
    state.status, state.best_epoch = summary["status"], summary["best_epoch"]
    state.best_value = summary["best"][state.cfg.monitor]


def _restore(log: RunLog, state: FitState, scheduler, scaler, config: dict, where: str) -> None:
    ckpt = load_torch(log.last_path, "resumable state",
                      f"Delete it to restart {state.cfg.run} from epoch 1 (its finished epochs are lost), or restore it.")
    diff = _identity_diff(ckpt.get("identity", {}), _identity(config))
    if diff:
        raise RunMismatchError(
            f"cannot resume {where}: it was made differently: {'; '.join(diff)}. Resuming would mix two runs. "
            "Restore the old settings, or delete the run folder to start over (or use another run name).")
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    scaler.load_state_dict(ckpt["scaler"])
    state.epoch, state.status = ckpt["epoch"], ckpt["status"]
    state.best_epoch, state.best_value, state.bad_epochs = ckpt["best_epoch"], ckpt["best_value"], ckpt["bad_epochs"]
    state.history = ckpt["history"]
    rng = ckpt["rng"]
    torch.set_rng_state(rng["torch"])
    np_rng = rng["numpy"]
    np.random.set_state(("MT19937", np_rng["keys"].numpy().astype(np.uint32), np_rng["pos"],
                         np_rng["has_gauss"], np_rng["cached_gaussian"]))
    py = rng["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss_next"]))
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    log.rewrite_metrics(state.history)  # drop lines of an epoch that did not reach last.pt
