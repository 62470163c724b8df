"""Part 1 wiring: the training recipe of Classifier128 per profile, training and the evaluation on val.

The notebook calls :func:`train` and :func:`evaluate_classifier`; the recipe lives in
:data:`RECIPES` (one per profile) and is written to the run's config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from sklearn.metrics import confusion_matrix
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from . import engine
from .data.augment import ClassifyAugment
from .data.cache import tensor_identity
from .data.loaders import tensor_loader
from .data.tiny_imagenet import TinyImageNet
from .device import Runtime
from .engine import FitState, TrainConfig, fit
from .models import create_model
from .notebook import Session
from .plots import LivePlot
from .runlog import DataRecord, RunInfo
from .runs import RunSpec


@dataclass
class Recipe:
    """How Classifier128 is trained in one profile."""

    epochs: int
    batch_size: int = 128
    lr: float = 0.2                     # peak of the one-cycle schedule (SGD, Nesterov)
    weight_decay: float = 5e-5          # not on norms and biases
    label_smoothing: float = 0.1
    warmup: float = 0.25                # fraction of steps rising to the peak LR
    # progressive resizing: (first epoch, training input size); validation is always at 128×128
    resolutions: Sequence[tuple[int, int]] = ((1, 128),)
    crop_scale: tuple[float, float] = (0.35, 1.0)
    jitter: float = 0.1
    max_steps_per_epoch: int | None = None
    model: dict = field(default_factory=dict)  # Classifier128 arguments


RECIPES = {
    # ≈ 85 minutes on a 2-core AVX-512-BF16 CPU (see README: bench): eight cheap 64-px epochs,
    # two at 96 px and the last two at the full 128 px.
    "cpu": Recipe(epochs=12, resolutions=((1, 64), (9, 96), (11, 128))),
    # a GPU: the same recipe, longer; designed for >= 65% top-1 (not run on these machines)
    "gpu": Recipe(epochs=80, batch_size=256, lr=0.4, weight_decay=5e-5,
                  resolutions=((1, 64), (21, 96), (51, 128))),
    # the tests: a few batches of a tiny fixture
    "smoke": Recipe(epochs=2, batch_size=16, lr=0.05, resolutions=((1, 64), (2, 128)), max_steps_per_epoch=3,
                    model={"widths": (16, 32, 48, 64), "depths": (1, 1, 1, 1), "stem": (8, 16)}),
}


class ProgressiveResize:
    """Engine callback: set the training augmentation's output size at the scheduled epochs."""

    def __init__(self, augment: ClassifyAugment, resolutions: Sequence[tuple[int, int]]):
        self.augment, self.resolutions = augment, sorted(resolutions)

    def size_at(self, epoch: int) -> int:
        return [size for first, size in self.resolutions if first <= epoch][-1]

    def on_fit_start(self, state: FitState) -> None:
        print("training input size by epoch: " + ", ".join(f"{s}×{s} from epoch {e}" for e, s in self.resolutions)
              + "; validation at 128×128")

    def on_epoch_start(self, state: FitState) -> None:
        self.augment.size = self.size_at(state.epoch)


def classification_metrics(num_classes: int) -> MetricCollection:
    return MetricCollection({
        "top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
        "top5": MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro"),
        "macro_f1": MulticlassF1Score(num_classes, average="macro"),
    })


def recipe_for(spec: RunSpec, profile: str) -> Recipe:
    """The profile's recipe with the run's overrides."""
    return replace(RECIPES[profile], **spec.recipe_overrides)


def build_model(spec: RunSpec, data: TinyImageNet, recipe: Recipe) -> nn.Module:
    return create_model(spec.model, num_classes=data.num_classes, **{**spec.model_args, **recipe.model})


def train(spec: RunSpec, model: nn.Module, data: TinyImageNet, recipe: Recipe, session: Session,
          resume: bool = True, live: bool = True) -> FitState:
    """Train with the recipe; logs go to runs/<run>, the best epoch to weights/<run>.pt."""
    train_aug = ClassifyAugment(train=True, scale=recipe.crop_scale, jitter=recipe.jitter)
    resize = ProgressiveResize(train_aug, recipe.resolutions)
    train_aug.size = resize.size_at(1)
    cfg = TrainConfig(run=spec.name, epochs=recipe.epochs, lr=recipe.lr, optimizer="sgd", momentum=0.9,
                      weight_decay=recipe.weight_decay, schedule="onecycle", warmup=recipe.warmup,
                      monitor="val_top1", mode="max", max_steps_per_epoch=recipe.max_steps_per_epoch,
                      seed=session.seed)
    callbacks = [resize] + ([LivePlot(["loss", "top1", "top5"])] if live else [])
    return fit(model, tensor_loader(data.train_x, data.train_y, batch_size=recipe.batch_size, shuffle=True,
                                    drop_last=True),
               tensor_loader(data.val_x, data.val_y, batch_size=256, shuffle=False),
               cfg=cfg, loss_fn=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
               metrics=classification_metrics(data.num_classes),
               train_transform=train_aug, val_transform=ClassifyAugment(train=False),
               runtime=session.runtime, paths=session.paths, callbacks=callbacks, resume=resume,
               info=RunInfo(session.profile, session.seed,
                            DataRecord.of(data.source, session.paths, len(data.train_y), len(data.val_y),
                                          tensor_identity(data.train_x, data.train_y, data.val_x, data.val_y)),
                            asdict(recipe), spec.training(recipe.epochs)))


def predict(model: nn.Module, x: torch.Tensor, runtime: Runtime, batch_size: int = 256) -> torch.Tensor:
    """Logits (float32, CPU) for uint8 images N×3×64×64, at 128×128 like validation."""
    resize = ClassifyAugment(train=False)
    return engine.predict(model, x, runtime=runtime, transform=lambda xb: resize(xb, None)[0],
                          batch_size=batch_size)


@dataclass
class Evaluation:
    """Validation results from the logits: overall metrics, per class, confusions."""

    metrics: dict[str, float]
    per_class: np.ndarray          # accuracy per class
    confusion: np.ndarray          # counts, rows = true class, columns = predicted
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
            rows.append({"true": self.names[t], "predicted": self.names[p], "count": int(off[t, p]),
                         "share_of_true": float(off[t, p] / max(1, self.confusion[t].sum()))})
        return rows


def evaluate_classifier(logits: torch.Tensor, targets: torch.Tensor, names: Sequence[str]) -> Evaluation:
    num_classes = len(names)
    metrics = {k: float(v) for k, v in classification_metrics(num_classes)(logits, targets).items()}
    confusion = confusion_matrix(targets.numpy(), logits.argmax(1).numpy(), labels=np.arange(num_classes))
    per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
    return Evaluation(metrics, per_class, confusion, list(names))


def plot_confusion(ev: Evaluation, k: int = 16):
    """Left: the whole 200×200 confusion matrix (row-normalised, log colour); right: the ``k``
    classes involved in the most frequent confusions, with names."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.colors import LogNorm

    norm = ev.confusion / np.maximum(ev.confusion.sum(1, keepdims=True), 1)
    classes: list[int] = []
    for pair in ev.confused_pairs(4 * k):
        for name in (pair["true"], pair["predicted"]):
            c = ev.names.index(name)
            if c not in classes and len(classes) < k:
                classes.append(c)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [1, 1.25]})
    ax1.imshow(norm + 1e-3, norm=LogNorm(vmin=1e-3, vmax=1), cmap="magma", interpolation="nearest")
    ax1.set_title(f"all {len(ev.names)} classes (row = true class, share of its images)")
    ax1.set_xlabel("predicted class index")
    ax1.set_ylabel("true class index")
    sub = norm[np.ix_(classes, classes)]
    labels = [ev.names[c][:18] for c in classes]
    annot = np.where(sub >= 0.1, np.vectorize(lambda v: f"{v:.0%}")(sub), "")  # label shares >= 10%
    sns.heatmap(sub, ax=ax2, xticklabels=labels, yticklabels=labels, cmap="viridis", annot=annot, fmt="",
                annot_kws={"fontsize": 7}, cbar_kws={"label": "share of the true class"})
    ax2.set_title(f"the {len(classes)} most confused classes")
    ax2.set_xlabel("predicted")
    ax2.set_ylabel("true")
    fig.tight_layout()
    return fig


def show_augmented(data: TinyImageNet, recipe: Recipe, n: int = 8, seed: int = 0):
    """Top row: training images as stored (64×64); bottom row: what the network sees (augmented, 128×128)."""
    from .data.augment import denormalize
    from .plots import image_grid

    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.train_y), generator=g)[:n]
    x, y = data.train_x[idx], data.train_y[idx]
    aug, _ = ClassifyAugment(train=True, scale=recipe.crop_scale, jitter=recipe.jitter)(x, y)
    images = [img.float() / 255 for img in x] + list(denormalize(aug))
    titles = [f"{data.names[c]} 64×64" for c in y.tolist()] + ["→ 128×128"] * n
    return image_grid(images, titles, ncols=n, size=1.9)
