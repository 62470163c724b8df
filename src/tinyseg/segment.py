"""Parts 2 and 3 wiring: the segmentation recipe per profile, model building from the run table,
loss, metrics, training and evaluation.

Every segmentation run uses the same split, loss, metrics, augmentation and recipe; what differs
(model, encoder initialisation, freezing, unfreezing, encoder learning rate) is read from the
run's :class:`~tinyseg.runs.RunSpec`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from scipy import ndimage
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryF1Score, BinaryJaccardIndex

from . import engine
from .data.augment import SegmentAugment
from .data.cache import tensor_identity
from .data.loaders import tensor_loader
from .data.moon import MoonData, Split
from .device import Runtime
from .engine import FitState, TrainConfig, fit
from .freeze import UnfreezeAt, set_trainable
from .models import UNet, create_model
from .notebook import Session
from .paths import Paths
from .plots import LivePlot
from .runlog import DataRecord, RunInfo, load_weights
from .runs import RunSpec


@dataclass
class SegRecipe:
    """The shared training recipe of the segmentation runs in one profile."""

    epochs: int
    batch_size: int = 16
    lr: float = 2e-3                 # AdamW, one-cycle
    weight_decay: float = 1e-4
    # measured (frozen backbone, 8 epochs, the 1,000-pair stand-in, best val IoU): BCE + Dice 0.465,
    # BCE + Dice with pos_weight 3 0.452, BCE alone 0.417 — so plain BCE + Dice, equal weights
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    pos_weight: float = 1.0          # BCE weight of rock pixels
    patience: int | None = None
    max_steps_per_epoch: int | None = None


RECIPES = {
    # UNetBase ≈ 46 s per epoch on a 2-core CPU (800 training pairs): 24 epochs ≈ 19 min; the backbone
    # runs ≈ 15–25 s per epoch, so every run fits its budget (20 and 15 minutes) with the same epochs
    "cpu": SegRecipe(epochs=24, patience=8),
    "gpu": SegRecipe(epochs=80, batch_size=32, patience=20),
    "smoke": SegRecipe(epochs=2, batch_size=4, max_steps_per_epoch=2),
}


def recipe_for(spec: RunSpec, profile: str) -> SegRecipe:
    """The profile's recipe with the run's overrides."""
    return replace(RECIPES[profile], **spec.recipe_overrides)


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
            logits, target, pos_weight=torch.tensor(self.pos_weight, device=logits.device))
        p = torch.sigmoid(logits)
        dice = (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        return self.bce_weight * bce + self.dice_weight * (1 - dice)


def segmentation_metrics(threshold: float = 0.5) -> MetricCollection:
    """IoU (Jaccard), Dice (= F1) and pixel accuracy of the rock class, accumulated over all pixels."""
    return MetricCollection({"iou": BinaryJaccardIndex(threshold=threshold),
                             "dice": BinaryF1Score(threshold=threshold),
                             "pixel_acc": BinaryAccuracy(threshold=threshold)})


def build_model(spec: RunSpec, paths: Paths) -> UNet:
    """The model of a run, as its spec says: a backbone U-Net takes Classifier128's architecture from the
    checkpoint of ``spec.encoder_from`` (and its weights when ``init == "pretrained"``), frozen if ``frozen``."""
    if spec.encoder_from is None:
        return create_model(spec.model, **spec.model_args)
    ckpt = load_weights(paths.weights(spec.encoder_from))
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


def train(spec: RunSpec, model: UNet, data: MoonData, split: Split, recipe: SegRecipe, session: Session,
          resume: bool = True, live: bool = True) -> FitState:
    """Train one run on the split; logs in runs/<run>/ (with split.json), best epoch in weights/<run>.pt."""
    paths = session.paths
    train_idx, val_idx = split.indices(data)
    if len(train_idx) < recipe.batch_size:
        raise ValueError(f"{spec.name}: {len(train_idx)} training pairs are fewer than one batch ({recipe.batch_size}) "
                         f"of {data.where}; use more pairs or a smaller batch_size")
    split.save(paths.run_dir(spec.name) / "split.json")
    unfreeze = spec.unfreeze_epoch(recipe.epochs)
    cfg = TrainConfig(run=spec.name, epochs=recipe.epochs, lr=recipe.lr, optimizer="adamw", momentum=0.9,
                      weight_decay=recipe.weight_decay, schedule="onecycle", warmup=0.2,
                      lr_scales={"encoder.backbone.": spec.encoder_lr_scale} if spec.encoder_lr_scale != 1 else {},
                      monitor="val_iou", mode="max", patience=recipe.patience,
                      max_steps_per_epoch=recipe.max_steps_per_epoch, seed=session.seed)
    callbacks = [UnfreezeAt(model.backbone, unfreeze)] if unfreeze is not None else []
    if live:
        callbacks.append(LivePlot(["loss", "iou", "dice", "pixel_acc"], title=spec.title))
    train_x, train_y, val_x, val_y = data.images[train_idx], data.masks[train_idx], data.images[val_idx], data.masks[val_idx]
    return fit(model,
               tensor_loader(train_x, train_y, batch_size=recipe.batch_size, shuffle=True, drop_last=True),
               tensor_loader(val_x, val_y, batch_size=32, shuffle=False),
               cfg=cfg, loss_fn=BCEDiceLoss(recipe.bce_weight, recipe.dice_weight, recipe.pos_weight),
               metrics=segmentation_metrics(), to_preds=torch.sigmoid,
               train_transform=SegmentAugment(train=True), val_transform=SegmentAugment(train=False),
               runtime=session.runtime, paths=paths, callbacks=callbacks, resume=resume,
               info=RunInfo(session.profile, session.seed,
                            DataRecord.of(data.source, paths, len(train_idx), len(val_idx),
                                          tensor_identity(train_x, train_y, val_x, val_y)),
                            asdict(recipe), spec.training(recipe.epochs)))


def predict(model: nn.Module, images: torch.Tensor, runtime: Runtime, batch_size: int = 32) -> torch.Tensor:
    """Rock probabilities (float32, CPU) N×1×H×W for uint8 images N×3×H×W."""
    to_input = SegmentAugment(train=False)
    return engine.predict(model, images, runtime=runtime, activation=torch.sigmoid, batch_size=batch_size,
                          transform=lambda x: to_input(x, torch.zeros(1, 1, 1, 1))[0])


def overlap_counts(pred: torch.Tensor, truth: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per image: rock pixels in both masks (intersection) and in either (union); N×1×H×W boolean masks,
    or one H×W / 1×H×W mask → arrays of one. Summed over images they give the whole-set IoU."""
    pred, truth = pred.bool(), truth.bool()
    while pred.ndim < 4:
        pred, truth = pred.unsqueeze(0), truth.unsqueeze(0)
    inter = (pred & truth).sum(dim=(1, 2, 3)).double()
    union = (pred | truth).sum(dim=(1, 2, 3)).double()
    return inter.numpy(), union.numpy()


def per_image_iou(pred: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """IoU of each image (N×1×H×W boolean masks, or one H×W / 1×H×W mask → an array of one).

    Rule for empty masks: an image with no rock in the prediction *and* the truth is a perfect
    answer, IoU 1; rock in only one of them gives IoU 0.
    """
    inter, union = overlap_counts(pred, truth)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def evaluate_masks(probs: torch.Tensor, masks: torch.Tensor, threshold: float = 0.5) -> dict:
    """Whole-set metrics (accumulated over all pixels) and the per-image IoU distribution."""
    metrics = {k: float(v) for k, v in segmentation_metrics(threshold)(probs, masks.long()).items()}
    metrics["background_share"] = float(1 - masks.bool().float().mean())  # pixel accuracy of "no rock anywhere"
    return {"metrics": metrics, "per_image_iou": per_image_iou(probs >= threshold, masks)}


# rock sizes (pixels at 128×128) for the object-level view; the real check set's rocks have a median of 11 px
ROCK_SIZES = ((1, 10), (10, 50), (50, 200), (200, 128 * 128 + 1))


def rock_recall(pred: torch.Tensor, truth: torch.Tensor, min_found: float = 0.5) -> list[dict]:
    """Object-level recall by rock size: the share of ground-truth rocks (connected components of the
    N×1×H×W masks) with at least ``min_found`` of their pixels predicted as rock.

    Unlike IoU it does not charge a model for rocks the ground truth leaves out (the real check set's
    cleaned masks mark larger rocks only), so it reads the same on cleaned and full masks.
    """
    sizes, found = [], []
    for p, t in zip(pred.bool().numpy(), truth.bool().numpy()):
        labels, n = ndimage.label(t[0])
        if n == 0:
            continue
        ids = np.arange(1, n + 1)
        size = ndimage.sum_labels(np.ones_like(labels), labels, ids)
        hit = ndimage.sum_labels(p[0], labels, ids)
        sizes.append(size)
        found.append(hit / size >= min_found)
    sizes = np.concatenate(sizes) if sizes else np.zeros(0)
    found = np.concatenate(found) if found else np.zeros(0, bool)
    rows = []
    for lo, hi in ROCK_SIZES:
        sel = (sizes >= lo) & (sizes < hi)
        rows.append({"size": f"{lo}–{hi - 1} px" if hi <= 128 * 128 else f"≥ {lo} px", "rocks": int(sel.sum()),
                     "found": float(found[sel].mean()) if sel.any() else float("nan")})
    return rows


def evaluate_models(models: dict[str, nn.Module], images: torch.Tensor, masks: torch.Tensor, runtime: Runtime,
                    threshold: float = 0.5) -> dict[str, dict]:
    """Every model on the same images at the same threshold: whole-set metrics, per-image IoU, rock
    recall by size, and the probabilities (for figures)."""
    out = {}
    for name, model in models.items():
        probs = predict(model, images, runtime)
        ev = evaluate_masks(probs, masks, threshold)
        ev["rock_recall"] = rock_recall(probs >= threshold, masks)
        ev["probs"] = probs
        out[name] = ev
    return out
