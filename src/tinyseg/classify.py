"""Part 1: Classifier128 on Tiny ImageNet-200 — data, model, training.

The task shape (the same in :mod:`tinyseg.segment`): :data:`RECIPES`, :func:`recipe_for`,
:func:`load_data`, :func:`build_model`, :func:`train`. The recipe (:mod:`tinyseg.recipes`) is the
whole run; inference is :mod:`tinyseg.inference`, metrics :mod:`tinyseg.metrics`, tables and
figures :mod:`tinyseg.report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from torch import nn

from .callbacks import Callback
from .checkpoint import seed_everything
from .data import tiny_imagenet
from .data.augment import MEAN, STD, ClassifyAugment
from .data.cache import content_hash
from .data.loaders import tensor_loader
from .data.tiny_imagenet import TinyImageNet
from .engine import FitState, Objective, RunMeta, fit
from .inference import predict
from .metrics import classification_metrics
from .models import create_model
from .plots import LivePlot
from .recipes import RECIPES as _ALL_RECIPES
from .recipes import ClassifyRecipe, recipe_for, signature
from .runlog import DataRecord, RunInfo
from .runs import RunSpec, run_id
from .session import Session

RECIPES: dict[str, ClassifyRecipe] = _ALL_RECIPES["classification"]
__all__ = [
    "RECIPES",
    "recipe_for",
    "load_data",
    "build_model",
    "train",
    "ProgressiveResize",
    "PREPROCESSING",
    "accuracy_by_size",
    "checkpoint_meta",
    "data_identity",
]

# how an image becomes the network's input; stored in the checkpoint and used by inference.Predictor
PREPROCESSING = {
    "input_size": 128,
    "source_size": 64,
    "channels": "RGB",
    "resize": "any image -> 64x64 (bilinear, antialiased: the data set's size), then -> 128x128 bilinear "
    "(align_corners=False), as at validation",
    "scale": "uint8 / 255",
    "mean": list(MEAN),
    "std": list(STD),
}


class ProgressiveResize(Callback):
    """The input size of training *and* validation at the scheduled epochs.

    Validation follows the training size, so every point of the curve measures what is being
    trained (a net trained on 64-px inputs and shown 128-px ones sees objects twice as large as it
    learned them). Only the epochs at the final size compete for the best epoch (the recipe's
    ``monitor_from``); the final size must be 128, the size the assignment's number is at.
    """

    def __init__(self, train_aug: ClassifyAugment, val_aug: ClassifyAugment, resolutions: Sequence[tuple[int, int]]):
        self.train_aug, self.val_aug, self.resolutions = train_aug, val_aug, sorted(resolutions)
        if self.resolutions[0][0] != 1 or self.resolutions[-1][1] != 128:
            raise ValueError(f"resolutions must start at epoch 1 and end at 128 px, not {list(resolutions)}")
        self.train_aug.size = self.val_aug.size = self.size_at(1)

    def size_at(self, epoch: int) -> int:
        return [size for first, size in self.resolutions if first <= epoch][-1]

    def on_fit_start(self, state: FitState) -> None:
        print(
            "размер входа по эпохам (обучение и валидация): "
            + ", ".join(f"{s}×{s} с эпохи {e}" for e, s in self.resolutions)
        )

    def on_epoch_start(self, state: FitState) -> None:
        self.train_aug.size = self.val_aug.size = self.size_at(state.epoch)

    def on_epoch_record(self, state: FitState, record: dict) -> None:
        record["size"] = self.size_at(state.epoch)


def checkpoint_meta(data: TinyImageNet) -> dict:
    """What a user of ``weights/classifier.pt`` needs besides the weights: classes and preprocessing."""
    return {"classes": {"wnids": list(data.wnids), "names": list(data.names)}, "preprocessing": PREPROCESSING}


def data_identity(data: TinyImageNet) -> str:
    """The content hash of the decoded training and validation images and labels (the ``identity`` of a run's
    data record): the official folder and the official zip give the same value, wherever they lie."""
    return content_hash(data.train_x, data.train_y, data.val_x, data.val_y)


def load_data(session: Session) -> TinyImageNet:
    """Tiny ImageNet-200 as the profile needs it (the official split; smoke: a small fixture)."""
    return tiny_imagenet.load(tiny_imagenet.locate(session.paths, profile=session.profile), session.paths)


def build_model(spec: RunSpec, session: Session, data: TinyImageNet, seed: int | None = None) -> nn.Module:
    """The run's model with the recipe's model arguments; with ``seed``, its initialisation is seeded first."""
    if seed is not None:
        seed_everything(seed)
    recipe = recipe_for(spec, session.profile)
    return create_model(spec.model, num_classes=data.num_classes, **{**spec.model_args, **recipe.model})


def train(
    spec: RunSpec, model: nn.Module, data: TinyImageNet, session: Session, resume: bool = True, live: bool = True
) -> FitState:
    """Train with the run's recipe; logs go to runs/<run>, the best epoch to weights/<run>.pt."""
    recipe = recipe_for(spec, session.profile)
    train_aug, val_aug = replace(recipe.augment, train=True), replace(recipe.augment, train=False)
    schedule = ProgressiveResize(train_aug, val_aug, recipe.resolutions)
    data_hash = data_identity(data)
    info = RunInfo(
        session.profile,
        session.seed,
        DataRecord.of(data.source, session.paths, len(data.train_y), len(data.val_y), data_hash),
        recipe.as_dict(),
        spec.training(recipe.epochs),
    )
    meta = RunMeta(
        info,
        signature(recipe, model.config, data_hash, session.seed, run=spec.training(recipe.epochs)),
        checkpoint_meta(data),
    )
    objective = Objective(
        nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        classification_metrics(data.num_classes),
        train_transform=train_aug,
        val_transform=val_aug,
    )
    return fit(
        model,
        tensor_loader(data.train_x, data.train_y, batch_size=recipe.batch_size, shuffle=True, drop_last=True),
        tensor_loader(data.val_x, data.val_y, batch_size=recipe.val_batch_size, shuffle=False),
        cfg=recipe.train_config(run_id(spec.name, session.seed), session.seed),
        objective=objective,
        runtime=session.runtime,
        paths=session.paths,
        callbacks=[schedule]
        + ([LivePlot(["loss", "top1", "top5", "macro_f1"], title=f"{spec.title}: кривые обучения")] if live else []),
        resume=resume,
        meta=meta,
    )


def accuracy_by_size(
    model: nn.Module, data: TinyImageNet, runtime, sizes: Sequence[int] = (64, 96, 128, 160)
) -> dict[int, float]:
    """Val top-1 of the trained model with the 64×64 images resized to each input size."""
    return {
        size: float(
            (predict(model, data.val_x, runtime, size=size, batch_size=256).argmax(1) == data.val_y).float().mean()
        )
        for size in sizes
    }
