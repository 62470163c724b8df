"""Parts 2 and 3 wiring: the four segmentation runs, their shared recipe, loss, metrics and evaluation.

Every run uses the same split, loss, metrics, augmentation and epoch budget; they differ only
in the model (and, for fine-tuning, in when the encoder is unfrozen and its learning rate).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryF1Score, BinaryJaccardIndex

from .augment import SegmentAugment
from .data import tensor_loader
from .device import Runtime
from . import engine
from .engine import FitState, TrainConfig, fit
from .freeze import UnfreezeAt, set_trainable
from .models import UNet, UNetBackbone, UNetBase
from .moon import MoonData, Split
from .paths import Paths
from .plots import LivePlot
from .runlog import RunLog, load_weights

RUNS = {
    "unet_base": "UNetBase (plain encoder)",
    "unet_backbone_frozen": "UNetBackbone A: pretrained encoder, frozen",
    "unet_backbone_finetune": "UNetBackbone B: pretrained encoder, unfrozen later with a lower LR",
    "unet_backbone_scratch": "UNetBackbone control: randomly initialised encoder",
}
CLASSIFIER_RUN = "classifier"


@dataclass
class SegRecipe:
    """The shared training recipe of the segmentation runs in one profile."""

    epochs: int
    batch_size: int = 16
    lr: float = 2e-3                 # AdamW, one-cycle
    weight_decay: float = 1e-4
    encoder_lr_scale: float = 0.1    # fine-tuning: the pretrained encoder's LR relative to the rest
    unfreeze_epoch: int = 2          # fine-tuning: frozen before this epoch
    # measured (frozen backbone, 8 epochs, the 1,000-pair stand-in, best val IoU): BCE + Dice 0.465,
    # BCE + Dice with pos_weight 3 0.452, BCE alone 0.417 — so plain BCE + Dice, equal weights
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    pos_weight: float = 1.0          # BCE weight of rock pixels
    patience: int | None = None
    max_steps_per_epoch: int | None = None


PROFILES = {
    # UNetBase ≈ 46 s per epoch on a 2-core CPU (800 training pairs): 24 epochs ≈ 19 min; the backbone
    # runs ≈ 15–25 s per epoch, so every run fits its budget (20 and 15 minutes) with the same epochs
    "cpu": SegRecipe(epochs=24, unfreeze_epoch=7, patience=8),
    "gpu": SegRecipe(epochs=80, batch_size=32, unfreeze_epoch=20, patience=20),
    "smoke": SegRecipe(epochs=2, batch_size=4, unfreeze_epoch=2, max_steps_per_epoch=2),
}


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


def build_model(run: str, paths: Paths) -> UNet:
    """The model of a run; backbone runs take Classifier128's architecture from ``weights/classifier.pt``,
    and its weights too except in the random-initialisation control."""
    if run == "unet_base":
        return UNetBase()
    if run not in RUNS:
        raise ValueError(f"unknown run {run!r}: one of {', '.join(RUNS)}")
    ckpt = load_weights(paths.weights(CLASSIFIER_RUN))
    model = UNetBackbone(ckpt["config"])
    if run != "unet_backbone_scratch":
        load_backbone(model, ckpt["state_dict"])
    if run in ("unet_backbone_frozen", "unet_backbone_finetune"):
        set_trainable(model.encoder.backbone, False)
    return model


def load_backbone(model: UNet, classifier_state: dict) -> None:
    """Copy Classifier128's weights (without its FC head) into the U-Net's encoder, strictly."""
    state = {k: v for k, v in classifier_state.items() if not k.startswith("fc.")}
    model.encoder.backbone.load_state_dict(state, strict=True)


def train(run: str, model: UNet, data: MoonData, split: Split, recipe: SegRecipe, runtime: Runtime,
          paths: Paths, info: dict, resume: bool = True, live: bool = True) -> FitState:
    """Train one run on the split; logs in runs/<run>/ (with split.json), best epoch in weights/<run>.pt."""
    train_idx, val_idx = split.indices(data)
    split.save(paths.run_dir(run) / "split.json")
    finetune = run == "unet_backbone_finetune"
    cfg = TrainConfig(run=run, epochs=recipe.epochs, lr=recipe.lr, optimizer="adamw", momentum=0.9,
                      weight_decay=recipe.weight_decay, schedule="onecycle", warmup=0.2,
                      lr_scales={"encoder.backbone.": recipe.encoder_lr_scale} if finetune else {},
                      monitor="val_iou", mode="max", patience=recipe.patience,
                      max_steps_per_epoch=recipe.max_steps_per_epoch)
    callbacks = [UnfreezeAt(model.encoder.backbone, recipe.unfreeze_epoch)] if finetune else []
    if live:
        callbacks.append(LivePlot(["loss", "iou", "dice", "pixel_acc"], title=RUNS[run]))
    return fit(model,
               tensor_loader(data.images[train_idx], data.masks[train_idx], batch_size=recipe.batch_size,
                             shuffle=True, drop_last=True),
               tensor_loader(data.images[val_idx], data.masks[val_idx], batch_size=32, shuffle=False),
               cfg=cfg, loss_fn=BCEDiceLoss(recipe.bce_weight, recipe.dice_weight, recipe.pos_weight),
               metrics=segmentation_metrics(), to_preds=torch.sigmoid,
               train_transform=SegmentAugment(train=True), val_transform=SegmentAugment(train=False),
               runtime=runtime, paths=paths, callbacks=callbacks, resume=resume,
               info={"recipe": asdict(recipe), "data_source": data.source, "data_root": data.root,
                     "train_pairs": len(train_idx), "val_pairs": len(val_idx), **info})


def predict(model: nn.Module, images: torch.Tensor, runtime: Runtime, batch_size: int = 32) -> torch.Tensor:
    """Rock probabilities (float32, CPU) N×1×H×W for uint8 images N×3×H×W."""
    to_input = SegmentAugment(train=False)
    return engine.predict(model, images, runtime=runtime, activation=torch.sigmoid, batch_size=batch_size,
                          transform=lambda x: to_input(x, torch.zeros(1, 1, 1, 1))[0])


def evaluate_masks(probs: torch.Tensor, masks: torch.Tensor, threshold: float = 0.5) -> dict:
    """Whole-set metrics (accumulated over all pixels) and the per-image IoU distribution."""
    metrics = {k: float(v) for k, v in segmentation_metrics(threshold)(probs, masks.long()).items()}
    pred = probs >= threshold
    truth = masks.bool()
    inter = (pred & truth).sum(dim=(1, 2, 3)).double()
    union = (pred | truth).sum(dim=(1, 2, 3)).double()
    per_image = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union)).numpy()
    metrics["background_share"] = float(1 - truth.float().mean())  # pixel accuracy of "no rock anywhere"
    return {"metrics": metrics, "per_image_iou": per_image}


def error_overlay(image: torch.Tensor, pred: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """The image (H×W×3 in [0, 1]) with true positives green, false positives red, false negatives blue."""
    img = image.permute(1, 2, 0).float().numpy() / 255
    p, t = pred[0].numpy().astype(bool), truth[0].numpy().astype(bool)
    out = img * 0.55
    for sel, colour in ((p & t, (0.1, 0.9, 0.1)), (p & ~t, (1.0, 0.15, 0.1)), (~p & t, (0.15, 0.4, 1.0))):
        out[sel] = 0.35 * img[sel] + 0.65 * np.array(colour)
    return out


def summary_row(run: str, summary: dict) -> dict:
    """A segmentation run's summary.json as one table row: size, best epoch, val metrics, time, data."""
    best = summary.get("best") or {}
    return {"run": run, "model": RUNS[run], "params total": summary["params_total"],
            "params trained": summary["params_trainable"], "best epoch": summary["best_epoch"],
            "IoU": best.get("val_iou"), "Dice": best.get("val_dice"),
            "pixel accuracy": best.get("val_pixel_acc"), "training, min": summary["wall_time_s"] / 60,
            "data": summary.get("data_source"), "status": summary["status"]}


def compare_runs(paths: Paths, runs=tuple(RUNS)) -> list[dict]:
    """One row per run with a summary.json (see :func:`summary_row`)."""
    summaries = {run: RunLog(paths.run_dir(run)).summary() for run in runs}
    return [summary_row(run, s) for run, s in summaries.items() if s is not None]
