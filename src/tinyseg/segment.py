"""Parts 2 and 3: U-Nets for rock segmentation — data, model, training.

The task shape (the same in :mod:`tinyseg.classify`): :data:`RECIPES`, :func:`recipe_for`,
:func:`load_data`, :func:`build_model`, :func:`train` (and :func:`train_seeds` for a run's other
seeds). Every segmentation run uses the same split, loss, metrics and augmentation; what differs
(model, encoder initialisation, freezing, unfreezing, encoder learning rate) comes from the run's
:class:`~tinyseg.runs.RunSpec` through its recipe (:mod:`tinyseg.recipes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from .callbacks import Callback
from .checkpoint import seed_everything
from .data import moon
from .data.cache import content_hash
from .data.loaders import tensor_loader
from .data.moon import MoonData, Split
from .engine import FitState, Objective, RunMeta, fit
from .freeze import UnfreezeAt, set_trainable
from .inference import predict
from .metrics import overlap_counts, rock_mask, segmentation_metrics
from .models import UNet, create_model
from .plots import LivePlot
from .progress import progress, write
from .recipes import RECIPES as _ALL_RECIPES
from .recipes import SegmentRecipe, recipe_for, signature
from .runlog import OVERLAPS, DataRecord, RunInfo, RunLog, load_weights, write_json
from .runs import RunSpec, run_id
from .session import Session

RECIPES: dict[str, SegmentRecipe] = _ALL_RECIPES["segmentation"]
__all__ = [
    "RECIPES",
    "recipe_for",
    "load_data",
    "build_model",
    "train",
    "train_seeds",
    "SegmentData",
    "BCEDiceLoss",
    "record_overlaps",
    "OVERLAPS",
]


@dataclass
class SegmentData:
    """The moon pairs with their fixed train/validation split, and the real check set (evaluation only,
    ``None`` when absent)."""

    pairs: MoonData
    split: Split
    check: MoonData | None = None
    train_idx: torch.Tensor = field(init=False)
    val_idx: torch.Tensor = field(init=False)

    def __post_init__(self):
        self.train_idx, self.val_idx = self.split.indices(self.pairs)

    @property
    def where(self) -> str:
        return self.pairs.where

    def val(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Validation images (uint8 N×3×128×128) and masks (N×1×128×128)."""
        return self.pairs.images[self.val_idx], self.pairs.masks[self.val_idx]

    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pairs.images[self.train_idx], self.pairs.masks[self.train_idx]


def load_data(session: Session) -> SegmentData:
    """The moon pairs the profile needs (the real set when found, else the generated stand-in), the fixed
    split (seed 0: every model is trained and validated on the same images) and the real check set."""
    pairs = moon.load(moon.locate(session.paths, profile=session.profile), session.paths)
    check_source = moon.locate_check(session.paths)
    check = moon.load(check_source, session.paths) if check_source is not None else None
    return SegmentData(pairs, moon.make_split(pairs), check)


def build_model(spec: RunSpec, session: Session, data: SegmentData | None = None, seed: int | None = None) -> UNet:
    """The model of a run, as its spec says: a backbone U-Net takes Classifier128's architecture from the
    checkpoint of ``spec.encoder_from`` (and its weights when ``init == "pretrained"``), frozen if ``frozen``.
    With ``seed``, the random initialisation is seeded first (a run's seed k starts from the same weights
    whatever was built before it)."""
    if seed is not None:
        seed_everything(seed)
    if spec.encoder_from is None:
        return create_model(spec.model, **spec.model_args)
    ckpt = load_weights(session.paths.weights(spec.encoder_from))
    model = create_model(spec.model, classifier_config=ckpt["config"], **spec.model_args)
    if spec.init == "pretrained":
        load_backbone(model, ckpt["state_dict"])
    if spec.frozen:
        set_trainable(model.backbone, False)
    return model


def load_backbone(model: UNet, classifier_state: dict) -> None:
    """Copy Classifier128's weights (without its FC head) into the U-Net's backbone, strictly."""
    state = {k: v for k, v in classifier_state.items() if not k.startswith("fc.")}
    model.backbone.load_state_dict(state, strict=True)


class BCEDiceLoss(nn.Module):
    """``bce_weight`` · BCE-with-logits (rock pixels weighted by ``pos_weight``) + ``dice_weight`` · (1 − soft Dice).

    The soft Dice is computed over the whole batch, so images without rocks do not produce 0/0.
    """

    def __init__(self, bce_weight: float = 1.0, dice_weight: float = 1.0, pos_weight: float = 1.0):
        super().__init__()
        self.bce_weight, self.dice_weight, self.pos_weight = bce_weight, dice_weight, pos_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.float(), target.float()
        bce = F.binary_cross_entropy_with_logits(
            logits, target, pos_weight=torch.tensor(self.pos_weight, device=logits.device)
        )
        p = torch.sigmoid(logits)
        dice = (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        return self.bce_weight * bce + self.dice_weight * (1 - dice)


def train(
    spec: RunSpec,
    model: UNet,
    data: SegmentData,
    session: Session,
    resume: bool = True,
    live: bool = True,
    seed: int | None = None,
    callbacks: tuple = (),
) -> FitState:
    """Train one run with one seed (default: the session's) on the split; logs in runs/<id>/ (with
    split.json), best epoch in weights/<id>.pt, where id is :func:`~tinyseg.runs.run_id`. At the end
    the best epoch's per-image overlaps on the validation pairs and on the real check set are
    written to runs/<id>/overlaps.json (see :func:`record_overlaps`)."""
    paths, recipe = session.paths, recipe_for(spec, session.profile)
    seed = session.seed if seed is None else seed
    run = run_id(spec.name, seed)
    if len(data.train_idx) < recipe.batch_size:
        raise ValueError(
            f"{spec.name}: {len(data.train_idx)} training pairs are fewer than one batch "
            f"({recipe.batch_size}) of {data.where}; use more pairs or a smaller batch_size"
        )
    data.split.save(paths.run_dir(run) / "split.json")
    (train_x, train_y), (val_x, val_y) = data.train(), data.val()
    data_hash = content_hash(train_x, train_y, val_x, val_y)
    info = RunInfo(
        session.profile,
        seed,
        DataRecord.of(data.pairs.source, paths, len(train_x), len(val_x), data_hash),
        recipe.as_dict(),
        spec.training(recipe.epochs),
    )
    callbacks = list(callbacks)
    if recipe.unfreeze_epoch is not None:
        callbacks.append(UnfreezeAt(model.backbone, recipe.unfreeze_epoch, verbose=live))
    if live:
        callbacks.append(LivePlot(["loss", "iou", "dice", "pixel_acc"], title=spec.title))
    objective = Objective(
        BCEDiceLoss(recipe.bce_weight, recipe.dice_weight, recipe.pos_weight),
        segmentation_metrics(),
        to_preds=_rock_from_logits,
        train_transform=replace(recipe.augment, train=True),
        val_transform=replace(recipe.augment, train=False),
    )
    state = fit(
        model,
        tensor_loader(train_x, train_y, batch_size=recipe.batch_size, shuffle=True, drop_last=True),
        tensor_loader(val_x, val_y, batch_size=recipe.val_batch_size, shuffle=False),
        cfg=recipe.train_config(run, seed),
        objective=objective,
        runtime=session.runtime,
        paths=paths,
        callbacks=callbacks,
        resume=resume,
        verbose=live,
        meta=RunMeta(info, signature(recipe, model.config, data_hash, seed)),
    )
    if state.done and not (paths.run_dir(run) / OVERLAPS).exists():
        record_overlaps(run, model, data, session)
    return state


def train_seeds(spec: RunSpec, data: SegmentData, session: Session) -> list[str]:
    """The run's other seeds (all of ``range(spec.seeds)`` except the session's), one after another,
    quietly: one progress bar over their epochs and one line per seed. Each is a run of its own
    (:func:`train`, logged under :func:`~tinyseg.runs.run_id`). A finished seed is reused from its logs
    (its weights are working files, not committed); an interrupted one resumes; Ctrl-C stops the loop.
    Returns the run ids."""
    epochs = recipe_for(spec, session.profile).epochs
    seeds = [s for s in range(spec.seeds) if s != session.seed]
    ids = []
    with progress(total=len(seeds) * epochs, desc=f"{spec.short}: seeds {seeds}") as bar:
        for i, seed in enumerate(seeds):
            run = run_id(spec.name, seed)
            log = RunLog(session.paths.run_dir(run))
            if not (log.is_finished() and (log.dir / OVERLAPS).exists()):
                state = train(
                    spec,
                    build_model(spec, session, data, seed=seed),
                    data,
                    session,
                    live=False,
                    seed=seed,
                    callbacks=[_Advance(bar)],
                )
                if not state.done:
                    write(f"{run}: {state.status} after epoch {state.epoch}; run the cell again to resume")
                    break
            bar.update((i + 1) * epochs - bar.n)  # early stop, or a finished run reused
            s = log.summary()
            write(
                f"{run}: {s.status}, best epoch {s.best_epoch} of {s.epochs_run}, val IoU "
                f"{s.best['val_iou']:.3f}, {s.wall_time_min:.1f} min"
            )
            ids.append(run)
    return ids


def _rock_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """The metrics' input during training: 0/1 rock masks by the project's one rule (metrics.rock_mask)."""
    return rock_mask(torch.sigmoid(logits)).float()


class _Advance(Callback):
    """One step of ``bar`` per finished epoch."""

    def __init__(self, bar):
        self.bar = bar

    def on_epoch_end(self, state, record) -> None:
        self.bar.update(1)


def record_overlaps(run: str, model: nn.Module, data: SegmentData, session: Session) -> dict:
    """Per-image rock-pixel intersection and union of the model (threshold 0.5) on the validation pairs
    and, when it is present, on the real check set → ``runs/<run>/overlaps.json``. The report's paired
    confidence intervals are computed from these counts, so they need no weights (other seeds' are not kept)."""
    images, masks = data.val()
    sets = {"val": (images, masks, [data.pairs.numbers[i] for i in data.val_idx.tolist()])}
    if data.check is not None:
        sets["check"] = (data.check.images, data.check.masks, list(data.check.numbers))
    out = {}
    for name, (images, masks, numbers) in sets.items():
        probs = predict(model, images, session.runtime, activation=torch.sigmoid)
        inter, union = overlap_counts(rock_mask(probs), masks)
        out[name] = {"pairs": numbers, "intersection": inter.astype(int).tolist(), "union": union.astype(int).tolist()}
    write_json(session.paths.run_dir(run) / OVERLAPS, out)
    return out
