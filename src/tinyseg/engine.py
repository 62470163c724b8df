"""The one training loop of the project: :func:`fit` trains every model, classifier and U-Nets alike.

Read it top to bottom: the optimizer and schedule built from a :class:`TrainConfig` (which the
task derives from the run's recipe), then ``for epoch: train → validate → log → checkpoint → early
stop``. What differs between tasks comes in as an :class:`Objective` (loss, a torchmetrics
``MetricCollection``, batch transforms — augmentation runs on whole batches on the device) and
callbacks (:class:`~tinyseg.callbacks.Callback`). Resume, RNG and the run signature live in
:mod:`tinyseg.checkpoint`; the log files in :mod:`tinyseg.runlog`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import torch
from torch import nn
from torchmetrics import MetricCollection

from . import words
from .callbacks import Callback, check_callbacks
from .checkpoint import FinishedRunError, RunMismatchError, check_signature, restore_last, save_last, seed_everything
from .device import Runtime, select_runtime
from .freeze import train_mode
from .locks import hold
from .models.base import count_parameters
from .paths import Paths, get_paths
from .progress import progress, write
from .runlog import (
    RunConfig,
    RunInfo,
    RunLog,
    RunSummary,
    TrainConfig,
    _jsonable,
    file_sha256,
    load_weights,
    remove_stale_temporaries,
    save_weights,
)

__all__ = [
    "fit",
    "evaluate",
    "Objective",
    "RunMeta",
    "FitState",
    "TrainConfig",
    "Callback",
    "NonFiniteLossError",
    "RunMismatchError",
    "FinishedRunError",
    "seed_everything",
    "build_optimizer",
    "build_scheduler",
]

Batch = tuple[torch.Tensor, torch.Tensor]
Transform = Callable[[torch.Tensor, torch.Tensor], Batch]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def _unchanged(x: torch.Tensor) -> torch.Tensor:
    return x


@dataclass
class Objective:
    """What a task computes on a batch: ``loss(logits, target)``; ``metrics`` updated with
    ``(to_preds(logits), target)``; the batch transforms of training and validation."""

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    metrics: MetricCollection
    to_preds: Callable[[torch.Tensor], torch.Tensor] = _unchanged
    train_transform: Transform | None = None
    val_transform: Transform | None = None


@dataclass
class RunMeta:
    """What is written beside the training: the run's info (config.json, summary.json), its signature
    (resume and reuse compare it; a task passes :func:`tinyseg.recipes.signature`, the default is the
    train config, model config, batch size, steps per epoch and data identity) and what the weights
    file carries besides the state_dict (class names, preprocessing)."""

    info: RunInfo | None = None
    signature: dict | None = None
    checkpoint: dict = field(default_factory=dict)


@dataclass
class FitState:
    """What callbacks see: the live objects and the history so far."""

    cfg: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int = 0  # the current (1-based) epoch
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    bad_epochs: int = 0
    status: str = "running"

    @property
    def done(self) -> bool:
        return self.status in ("completed", "early_stopped")


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Parameter groups by (LR scale, decay): norms and biases (ndim ≤ 1) get no weight decay.

    Frozen parameters are included too, so that a module unfrozen later trains with its
    own group's learning rate (optimizers skip parameters without gradients).
    """
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        scale = next((s for prefix, s in cfg.lr_scales.items() if name.startswith(prefix)), 1.0)
        groups.setdefault((scale, p.ndim > 1), []).append(p)
    param_groups = [
        {"params": ps, "lr": cfg.lr * scale, "weight_decay": cfg.weight_decay if decay else 0.0}
        for (scale, decay), ps in sorted(groups.items())
    ]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    return torch.optim.AdamW(param_groups, lr=cfg.lr, betas=tuple(cfg.betas))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    """A per-step schedule: one-cycle, or linear warm-up then cosine decay, or constant."""
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=total_steps,
            pct_start=cfg.warmup,
            cycle_momentum=cfg.optimizer == "sgd",
        )
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


def layout(x: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    """channels_last for 4-D inputs when the runtime uses it."""
    return x.contiguous(memory_format=torch.channels_last) if runtime.channels_last and x.ndim == 4 else x


def _compute(metrics: MetricCollection, prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.compute().items()}


def _forward(
    model: nn.Module, batch: Sequence[torch.Tensor], transform: Transform | None, loss_fn: Callable, runtime: Runtime
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch through transform, model and loss: (inputs, targets, outputs, loss)."""
    x, y = _to_device(batch, runtime)
    if transform is not None:
        x, y = transform(x, y)
    with runtime.autocast():
        out = model(layout(x, runtime))
        loss = loss_fn(out, y)
    return x, y, out, loss


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    objective: Objective,
    runtime: Runtime,
    metrics: MetricCollection | None = None,
    verbose: bool = True,
) -> dict[str, float]:
    """Loss and metrics over the whole loader with the validation transform, accumulated (not averaged
    over batches)."""
    model.eval()
    metrics = (metrics or objective.metrics).to(runtime.device)
    metrics.reset()
    loss_sum, count = 0.0, 0
    for batch in progress(loader, desc="val", leave=False, disable=not verbose):
        x, y, out, loss = _forward(model, batch, objective.val_transform, objective.loss, runtime)
        loss_sum += float(loss) * len(x)
        count += len(x)
        metrics.update(objective.to_preds(out.float()), y)
    if count == 0:
        raise ValueError("the validation loader yielded no batches")
    return {"loss": loss_sum / count, **_compute(metrics, "")}


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    *,
    cfg: TrainConfig,
    objective: Objective,
    runtime: Runtime | None = None,
    paths: Paths | None = None,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
    meta: RunMeta | None = None,
    verbose: bool = True,
) -> FitState:
    """Train ``model``; log to ``runs/<run>/``; keep the best epoch in ``weights/<run>.pt``.

    Metrics are computed over the whole validation set each epoch (and over the training batches
    when ``cfg.train_metrics``). ``resume=True`` continues from ``runs/<run>/last.pt`` (saved after
    every epoch), or reuses a finished run from its logs, when its signature equals ``meta.signature``;
    any difference is a :class:`RunMismatchError` naming the fields. Ctrl-C stops cleanly: the last
    finished epoch stays resumable. A non-finite loss raises :class:`NonFiniteLossError`. On return the
    model holds the best epoch's weights. ``verbose=False``: no progress bars and no epoch lines.
    """
    callbacks = check_callbacks(callbacks)
    paths = paths or get_paths()
    # one process per run: a second fit of the same run (a notebook beside the main job) stops here
    with hold(paths.run_dir(cfg.run) / ".lock", paths.relative(paths.run_dir(cfg.run))):
        run = _Run(model, train_loader, cfg, objective, runtime, paths, meta or RunMeta(), verbose)
        run.begin(resume)
        state = run.state

        def emit(event: str, *args) -> None:
            for cb in callbacks:
                getattr(cb, event)(state, *args)

        emit("on_fit_start")
        try:
            while not state.done and state.epoch < cfg.epochs:
                state.epoch += 1
                emit("on_epoch_start")
                record = run.train_epoch(train_loader)
                record.update(run.validate(val_loader))
                emit("on_epoch_record", record)
                run.end_epoch(record)  # best epoch, status, logs, last.pt, weights, summary, the epoch's line
                emit("on_epoch_end", record)
        except KeyboardInterrupt:
            run.interrupted()
        except NonFiniteLossError:
            run.write_summary("diverged")
            raise
        if state.best_epoch is not None and run.weights_path.exists():
            model.load_state_dict(load_weights(run.weights_path)["state_dict"])
        emit("on_fit_end")
        return state


class _Run:
    """One call of :func:`fit`: the live objects, the run's files and its config, and the steps of an epoch."""

    def __init__(
        self, model, train_loader, cfg: TrainConfig, objective: Objective, runtime, paths, meta: RunMeta, verbose: bool
    ):
        self.runtime, self.paths = runtime or select_runtime(verbose=False), paths
        self.cfg, self.objective, self.meta, self.verbose = cfg, objective, meta, verbose
        self.log, self.weights_path = RunLog(self.paths.run_dir(cfg.run)), self.paths.weights(cfg.run)
        self.steps = min(len(train_loader), cfg.max_steps_per_epoch or len(train_loader))
        if self.steps == 0:
            raise ValueError("the training loader yields no batches (data set smaller than one batch?)")
        model.to(self.runtime.device)
        if self.runtime.channels_last:
            model.to(memory_format=torch.channels_last)
        optimizer = build_optimizer(model, cfg)
        self.scheduler = build_scheduler(optimizer, cfg, cfg.epochs * self.steps)
        self.scaler = torch.amp.GradScaler(self.runtime.device.type, enabled=self.runtime.needs_grad_scaler)
        self.val_metrics = objective.metrics.clone().to(self.runtime.device)
        self.train_metrics = objective.metrics.clone().to(self.runtime.device) if cfg.train_metrics else None
        self.state = FitState(cfg=cfg, model=model, optimizer=optimizer)
        model_config, batch_size = _jsonable(getattr(model, "config", {})), _batch_size(train_loader)
        default_signature = {
            "train": asdict(cfg),
            "model": model_config,
            "steps_per_epoch": self.steps,
            "batch_size": batch_size,
            "data": meta.info.data.identity if meta.info else None,
        }
        self.config = RunConfig(
            cfg,
            model_config,
            self.runtime.as_dict(),
            self.steps,
            batch_size,
            _jsonable(meta.signature or default_signature),
            meta.info,
        )

    def begin(self, resume: bool) -> None:
        """Start fresh, resume from last.pt, or take a finished run from its logs, as the files and
        ``resume`` say; anything that would lose or mix runs is an error naming the way out."""
        log, state, weights, rel = self.log, self.state, self.weights_path, self.paths.relative
        remove_stale_temporaries(log.dir, "last.pt")  # left by a process killed mid-write
        remove_stale_temporaries(weights.parent, weights.name)
        run, where = self.cfg.run, rel(log.dir)
        if log.is_finished() and not weights.exists():
            if self.cfg.seed and run.endswith(f"-seed{self.cfg.seed}"):  # another seed (runs.run_id): never committed
                raise FinishedRunError(
                    f"{run} is finished ({rel(log.summary_path)}) but its weights {rel(weights)} are missing; the "
                    f"weights of seeds other than 0 are working files, never committed. Delete {where} to retrain "
                    "that seed (or check WEIGHTS_DIR)."
                )
            raise FinishedRunError(
                f"{run} is finished ({rel(log.summary_path)}) but its weights {rel(weights)} are missing. Restore "
                f"the file (git checkout -- {rel(weights)}, or check WEIGHTS_DIR), or retrain the run on purpose "
                "with make run FORCE=<its notebook> (the old run is archived, nothing is deleted)."
            )
        if not resume and log.is_finished():
            raise FinishedRunError(
                f"{run} is finished ({rel(log.summary_path)}): training it again with resume=False would "
                "overwrite its logs. Archive it first (make run FORCE=<its notebook>) or use another run name."
            )
        if resume and log.is_finished():  # reused from its logs (a fresh clone, or a replay beside last.pt)
            check_signature(
                log.config().signature,
                self.config.signature,
                f"{where} holds a finished run made differently",
                "Archive it to train with the new settings (make run FORCE=<its notebook>), or use another run name.",
            )
            summary = log.summary()
            state.history, state.status, state.best_epoch = log.metrics(), summary.status, summary.best_epoch
            state.epoch, state.best_value = len(state.history), summary.best.get(self.cfg.monitor)
            if self.verbose:  # the logged epochs, as the training printed them
                print(
                    f"{run}: запуск уже обучен — ниже его журнал по эпохам ({rel(log.metrics_path)}) и кривые; "
                    f"веса {rel(weights)} взяты как есть (обучить заново: удалить {where})"
                )
                self.write_epochs(state.history)
        elif resume and log.last_path.exists():
            restore_last(log.last_path, state, self.scheduler, self.scaler, self.config.signature, rel(log.last_path))
            log.rewrite_metrics(state.history)  # drop lines of an epoch that did not reach last.pt
            self.repair_best()
            print(f"{run}: resumed after epoch {state.epoch} of {self.cfg.epochs} ({rel(log.last_path)})")
            if self.verbose:  # the epochs so far, as the training printed them
                self.write_epochs(state.history)
        else:
            seed_everything(self.cfg.seed)
            log.start(self.config)
        self.mark_saved()
        # training time over resumptions: the logged epochs' seconds plus this session's
        self.seconds_before, self.started = sum(r["seconds"] for r in state.history), time.time()

    def train_epoch(self, loader: Iterable) -> dict:
        return _train_one_epoch(
            self.state,
            loader,
            self.steps,
            self.scheduler,
            self.scaler,
            self.objective,
            self.train_metrics,
            self.runtime,
            self.verbose,
        )

    def validate(self, loader: Iterable) -> dict:
        t0 = time.time()
        val = evaluate(self.state.model, loader, self.objective, self.runtime, self.val_metrics, self.verbose)
        return {**{f"val_{k}": v for k, v in val.items()}, "seconds_val": time.time() - t0}

    def end_epoch(self, record: dict) -> None:
        """The epoch's bookkeeping. ``last.pt`` is written before the best weights: an interruption between
        the two leaves weights one epoch behind, which the resume repairs from ``last.pt`` (whose model *is*
        the best epoch's when that epoch improved), never weights ahead of the logs."""
        state, cfg = self.state, self.cfg
        record["seconds"] = record["seconds_train"] + record["seconds_val"]
        improved = _update_best(state, record)
        state.history.append(record)
        stop_early = cfg.patience is not None and state.bad_epochs >= cfg.patience
        status = "early_stopped" if stop_early else "completed" if state.epoch == cfg.epochs else "running"
        self.log.append_metrics(record)
        state.status = status
        save_last(self.log.last_path, state, self.scheduler, self.scaler, self.config.signature)
        self.mark_saved()
        if improved:
            self.save_best(record)
        self.write_summary(status)
        if self.verbose:
            self.write_epochs([record], improved)
            if stop_early:
                write(
                    f"ранняя остановка: {_metric(cfg.monitor)} не улучшался {cfg.patience} эпох подряд "
                    f"(лучшее значение {state.best_value:.4f} на эпохе {state.best_epoch})"
                )

    def write_epochs(self, records: list[dict], improved: bool | None = None) -> None:
        """The epoch lines (under a header, once per call of :func:`fit`); ``improved`` marks the best epoch of a
        live epoch, else the logged best epoch is marked."""
        if not getattr(self, "header_written", False) and records:
            write(_epoch_header(self.cfg, records[0]))
            self.header_written = True
        for record in records:
            best = improved if improved is not None else record["epoch"] == self.state.best_epoch
            write(_epoch_line(self.cfg, record, best))

    def mark_saved(self) -> None:
        """What last.pt now holds: an interruption goes back to exactly this."""
        state = self.state
        self.saved = (state.epoch, state.best_epoch, state.best_value, state.bad_epochs)

    def save_best(self, record: dict) -> None:
        save_weights(
            self.weights_path,
            self.state.model,
            run=self.cfg.run,
            epoch=record["epoch"],
            metrics={k: v for k, v in record.items() if k.startswith("val_")},
            **self.meta.checkpoint,
        )

    def repair_best(self) -> None:
        """After a resume: when the last saved epoch was the best one but the weights file holds another epoch
        (interrupted between last.pt and the weights), write the best weights from the restored model."""
        state = self.state
        if state.best_epoch is None or state.best_epoch != state.epoch:
            return
        held = load_weights(self.weights_path).get("epoch") if self.weights_path.exists() else None
        if held != state.best_epoch:
            self.save_best(next(r for r in state.history if r["epoch"] == state.best_epoch))

    def interrupted(self) -> None:
        """Ctrl-C: back to what last.pt holds (epochs and best-epoch bookkeeping); say how to continue."""
        state = self.state
        saved, state.best_epoch, state.best_value, state.bad_epochs = self.saved
        state.status, state.history, state.epoch = "interrupted", state.history[:saved], saved
        print(
            f"\n{self.cfg.run}: interrupted; {saved} finished epoch(s) are saved in "
            f"{self.paths.relative(self.log.last_path)}. Run again (fit(..., resume=True)) to continue from "
            f"epoch {saved + 1}."
        )
        self.log.rewrite_metrics(state.history)
        self.write_summary("interrupted")

    def write_summary(self, status: str) -> None:
        state, cfg, info = self.state, self.cfg, self.config.info
        state.status = status
        total, trainable = count_parameters(state.model)
        self.log.write_summary(
            RunSummary(
                run=cfg.run,
                status=status,
                monitor=cfg.monitor,
                mode=cfg.mode,
                best_epoch=state.best_epoch,
                best=next((r for r in state.history if r["epoch"] == state.best_epoch), {}),
                epochs_run=len(state.history),
                epochs_planned=cfg.epochs,
                params_total=total,
                params_trainable=trainable,
                device=self.runtime.describe(),
                precision=self.runtime.precision,
                wall_time_s=self.seconds_before + time.time() - self.started,
                weights=self.paths.relative(self.weights_path),
                # the best epoch's weights as this run saved them: loaders of the run verify the file against it
                weights_sha256=file_sha256(self.weights_path)
                if state.best_epoch is not None and self.weights_path.exists()
                else "",
                finished_at=datetime.now(timezone.utc).isoformat(),
                profile=info.profile if info else None,
                seed=info.seed if info else None,
                data=info.data if info else None,
            )
        )


def _train_one_epoch(
    state: FitState,
    loader: Iterable,
    steps: int,
    scheduler,
    scaler,
    objective: Objective,
    metrics: MetricCollection | None,
    runtime: Runtime,
    verbose: bool = True,
) -> dict:
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
        x, y, out, loss = _forward(model, batch, objective.train_transform, objective.loss, runtime)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            bar.close()
            raise NonFiniteLossError(
                f"{cfg.run}: the training loss became {loss_value} at epoch {state.epoch}, step {step + 1} "
                f"of {steps} (lr {_peak_lr(optimizer):.3g}). Lower the learning rate, enable "
                "grad_clip or check the inputs; the last good epoch stays in last.pt."
            )
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
            metrics.update(objective.to_preds(out.detach().float()), y)
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
    better = state.best_value is None or (value > state.best_value if cfg.mode == "max" else value < state.best_value)
    if better and math.isfinite(value):
        state.best_value, state.best_epoch, state.bad_epochs = value, state.epoch, 0
        return True
    state.bad_epochs += 1
    return False


METRIC_ORDER = ("iou", "dice", "pixel_acc", "top1", "top5", "macro_f1")  # the epoch line's metric columns, in order


def _metric(key: str) -> str:
    """A logged key in words: ``val_iou`` → «IoU на валидации»."""
    name = key.removeprefix("val_").removeprefix("train_")
    where = " на валидации" if key.startswith("val_") else " на обучении" if key.startswith("train_") else ""
    return words.metric(name) + where


def _epoch_columns(record: dict) -> list[str]:
    """The validation metrics of the epoch line (beside the losses), in :data:`METRIC_ORDER`."""
    names = [k[4:] for k in record if k.startswith("val_") and k != "val_loss"]
    return sorted(names, key=lambda n: (METRIC_ORDER.index(n) if n in METRIC_ORDER else len(METRIC_ORDER), n))


def _epoch_header(cfg: TrainConfig, record: dict) -> str:
    """The header of the epoch lines: epoch, input size (progressive resizing), loss on training / validation,
    the validation metrics, seconds."""
    cells = [f"{'эпоха':<{len(str(cfg.epochs)) * 2 + 1}}"] + (["вход  "] if "size" in record else [])
    cells.append(f"{'потери обуч./вал.':<15}")
    cells += [f"{words.metric(n):<{max(6, len(words.metric(n)))}}" for n in _epoch_columns(record)]
    return "  ".join(cells) + "  время (метрики — на валидации)"


def _epoch_line(cfg: TrainConfig, record: dict, improved: bool) -> str:
    """One epoch in the columns of :func:`_epoch_header` (about 70 characters: it fits a printed page)."""
    width = len(str(cfg.epochs))
    cells = [f"{record['epoch']:>{width}}/{cfg.epochs}"] + ([f"{record['size']:>3} px"] if "size" in record else [])
    cells.append(f"{record['train_loss']:.4f} / {record['val_loss']:.4f}".ljust(17))
    cells += [f"{record['val_' + n]:<{max(6, len(words.metric(n)))}.4f}" for n in _epoch_columns(record)]
    return "  ".join(cells) + f"  {record['seconds']:.0f} с" + ("  ← лучшая" if improved else "")


def _batch_size(loader) -> int | None:
    """The batch size of a DataLoader (also when it batches through a BatchSampler); None for other iterables."""
    for holder in (loader, getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
        size = getattr(holder, "batch_size", None)
        if size is not None:
            return size
    return None
