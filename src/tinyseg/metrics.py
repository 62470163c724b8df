"""Every metric of the project, for training (torchmetrics collections) and for evaluation.

Classification: top-1, top-5, macro-F1 (:func:`classification_metrics`), per-class accuracy and
confusions (:func:`evaluate_classifier`). Segmentation: IoU, Dice, pixel accuracy accumulated over
all pixels (:func:`segmentation_metrics`), per-image overlaps and IoU, object-level recall by rock
size. Tasks, tools and the report import them from here; nothing here draws or formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from sklearn.metrics import confusion_matrix
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryF1Score,
    BinaryJaccardIndex,
    MulticlassAccuracy,
    MulticlassF1Score,
)

# ---------------------------------------------------------------- classification


def classification_metrics(num_classes: int) -> MetricCollection:
    return MetricCollection(
        {
            "top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
            "top5": MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro"),
            "macro_f1": MulticlassF1Score(num_classes, average="macro"),
        }
    )


@dataclass
class Evaluation:
    """Validation results from the logits: overall metrics, per class, confusions."""

    metrics: dict[str, float]
    per_class: np.ndarray  # accuracy per class
    confusion: np.ndarray  # counts, rows = true class, columns = predicted
    names: list[str]

    def class_table(self, n: int = 10, worst: bool = False) -> list[dict]:
        order = np.argsort(self.per_class, kind="stable")
        chosen = order[:n] if worst else order[::-1][:n]
        return [{"class": self.names[c], "accuracy": float(self.per_class[c])} for c in chosen]

    def confused_pairs(self, n: int = 10) -> list[dict]:
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        flat = np.argsort(off, axis=None)[::-1][:n]
        rows = []
        for idx in flat:
            t, p = np.unravel_index(idx, off.shape)
            rows.append(
                {
                    "true": self.names[t],
                    "predicted": self.names[p],
                    "count": int(off[t, p]),
                    "share_of_true": float(off[t, p] / max(1, self.confusion[t].sum())),
                }
            )
        return rows


def evaluate_classifier(logits: torch.Tensor, targets: torch.Tensor, names: Sequence[str]) -> Evaluation:
    num_classes = len(names)
    metrics = {k: float(v) for k, v in classification_metrics(num_classes)(logits, targets).items()}
    confusion = confusion_matrix(targets.numpy(), logits.argmax(1).numpy(), labels=np.arange(num_classes))
    per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
    return Evaluation(metrics, per_class, confusion, list(names))


# ---------------------------------------------------------------- segmentation


def rock_mask(probs: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """The one thresholding rule of the project: a pixel is rock when its probability is at least
    ``threshold`` (every metric, overlap count and figure reads a probability of exactly 0.5 alike)."""
    return probs >= threshold


def segmentation_metrics(threshold: float = 0.5) -> MetricCollection:
    """IoU (Jaccard), Dice (= F1) and pixel accuracy of the rock class, accumulated over all pixels.

    Feed them :func:`rock_mask` outputs (0/1), not probabilities: torchmetrics' own rule (``p > threshold``)
    would read a probability of exactly 0.5 differently from the per-image counts."""
    return MetricCollection(
        {
            "iou": BinaryJaccardIndex(threshold=threshold),
            "dice": BinaryF1Score(threshold=threshold),
            "pixel_acc": BinaryAccuracy(threshold=threshold),
        }
    )


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
    pred = rock_mask(probs, threshold)
    metrics = {k: float(v) for k, v in segmentation_metrics()(pred.float(), masks.long()).items()}
    metrics["background_share"] = float(1 - masks.bool().float().mean())  # pixel accuracy of "no rock anywhere"
    return {"metrics": metrics, "per_image_iou": per_image_iou(pred, masks)}


# rock sizes (pixels at 128×128) for the object-level view; the real check set's rocks have a median of 11 px
ROCK_SIZES = ((1, 10), (10, 50), (50, 200), (200, 128 * 128 + 1))


def size_label(lo: int, hi: int) -> str:
    """A rock size class of :data:`ROCK_SIZES` in words: ``1–9 px``, ``≥ 200 px``."""
    return f"{lo}–{hi - 1} px" if hi <= 128 * 128 else f"≥ {lo} px"


def rock_counts(pred: torch.Tensor, truth: torch.Tensor, min_found: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Per image and rock size class (:data:`ROCK_SIZES`): the ground-truth rocks (connected components of the
    N×1×H×W masks) and how many of them have at least ``min_found`` of their pixels predicted as rock. Two
    int arrays N×len(ROCK_SIZES); summed over images they give :func:`rock_recall`, and kept per image they
    let the recall be bootstrapped over images without the masks."""
    edges = np.array([lo for lo, _ in ROCK_SIZES[1:]])
    rocks = np.zeros((len(pred), len(ROCK_SIZES)), dtype=np.int64)
    found = np.zeros_like(rocks)
    for k, (p, t) in enumerate(zip(pred.bool().numpy(), truth.bool().numpy())):
        labels, n = ndimage.label(t[0])
        if n == 0:
            continue
        ids = np.arange(1, n + 1)
        size = ndimage.sum_labels(np.ones_like(labels), labels, ids)
        hit = ndimage.sum_labels(p[0], labels, ids) / size >= min_found
        size_class = np.searchsorted(edges, size, side="right")
        rocks[k] = np.bincount(size_class, minlength=len(ROCK_SIZES))
        found[k] = np.bincount(size_class, weights=hit, minlength=len(ROCK_SIZES)).astype(np.int64)
    return rocks, found


def rock_recall(pred: torch.Tensor, truth: torch.Tensor, min_found: float = 0.5) -> list[dict]:
    """Object-level recall by rock size: the share of ground-truth rocks (connected components of the
    N×1×H×W masks) with at least ``min_found`` of their pixels predicted as rock (:func:`rock_counts`).

    Unlike IoU it does not charge a model for rocks the ground truth leaves out (the real check set's
    cleaned masks mark larger rocks only), so it reads the same on cleaned and full masks.
    """
    return recall_rows(*rock_counts(pred, truth, min_found))


def recall_rows(rocks: np.ndarray, found: np.ndarray) -> list[dict]:
    """:func:`rock_recall` from the per-image counts of :func:`rock_counts` (images × size classes)."""
    rocks, found = rocks.sum(0), found.sum(0)
    return [
        {"size": size_label(lo, hi), "rocks": int(n), "found": float(f / n) if n else float("nan")}
        for (lo, hi), n, f in zip(ROCK_SIZES, rocks, found)
    ]
