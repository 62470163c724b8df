"""Inference, for the tasks, the report and a user alike: one :func:`predict` over uint8 image
tensors, and the two trained models as tools — :class:`Predictor` (Classifier128: top-k class names)
and :class:`Segmenter` (a U-Net: the rock mask of any image, at the image's own size).

Both tools take a list of file paths or PIL images, or a uint8 tensor N×3×H×W, check it the same
way, and preprocess exactly as at validation. The command line: ``python -m tinyseg.predict``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .data.augment import normalize, resize
from .device import Runtime, select_runtime
from .engine import layout
from .metrics import evaluate_masks, rock_mask, rock_recall
from .models import load_model
from .runlog import CheckpointError, load_weights


@torch.inference_mode()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    runtime: Runtime,
    *,
    size: int = 128,
    activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
    flip: bool = False,
    batch_size: int = 32,
) -> torch.Tensor:
    """The model's outputs (float32, CPU) for uint8 images N×3×H×W, batch by batch, prepared as at
    validation: scaled to [0, 1], resized to ``size`` (bilinear), normalised; then ``activation``.

    ``flip=True`` (test-time augmentation) averages with the mirror image: for class logits the log of
    the mean softmax (argmax, top-k and the metrics read both alike), for masks the mean of the logits
    with the mirror's map mirrored back.
    """
    model.eval().to(runtime.device)
    out = []
    for i in range(0, len(images), batch_size):
        x = normalize(resize(images[i : i + batch_size].to(runtime.device).float().div_(255), size))
        scores = _forward(model, x, runtime)
        if flip:
            mirrored = _forward(model, x.flip(-1), runtime)
            scores = (
                ((scores.softmax(1) + mirrored.softmax(1)) / 2).log()
                if scores.ndim == 2
                else (scores + mirrored.flip(-1)) / 2
            )
        out.append((activation(scores) if activation is not None else scores).cpu())
    return torch.cat(out)


def _forward(model: nn.Module, x: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    with runtime.autocast():
        return model(layout(x, runtime)).float()


def as_uint8_batch(images, size: int | None = None, resample=Image.BILINEAR) -> tuple[torch.Tensor, list]:
    """``(uint8 N×3×size×size, original sizes (H, W))`` from a uint8 tensor N×3×H×W or from a list of file
    paths / PIL images (converted to RGB). ``size=None`` keeps the size (all images must share it)."""
    if isinstance(images, torch.Tensor):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images N×3×H×W, got {images.dtype} {tuple(images.shape)}")
        shapes = [tuple(images.shape[-2:])] * len(images)
        if size is None or images.shape[-2:] == (size, size):
            return images, shapes
        images = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]
    if isinstance(images, (str, Path, Image.Image)):
        raise ValueError("expected a list of images (paths or PIL images) or a uint8 tensor, not a single image")
    out, shapes = [], []
    for item in images:
        try:
            im = item if isinstance(item, Image.Image) else Image.open(item)
            im = im.convert("RGB")
        except (OSError, ValueError) as e:
            raise ValueError(f"{item}: not a readable image ({e})") from e
        shapes.append((im.height, im.width))
        if size is not None:
            im = im.resize((size, size), resample)
        out.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
    if len({tuple(t.shape) for t in out}) > 1:
        raise ValueError("images of different sizes: give a size to resize them to")
    return torch.stack(out), shapes


@dataclass
class Predictor:
    """The trained classifier as a tool: images in, the top-k class names with probabilities out.

    >>> predictor = Predictor.load("weights/classifier.pt")
    >>> predictor.top5(["cat.jpg"])   # [[("Egyptian cat", 0.61), ("tabby, tabby cat", 0.21), ...]]
    """

    model: nn.Module
    wnids: list[str]
    names: list[str]
    preprocessing: dict
    runtime: Runtime

    @classmethod
    def load(cls, path, runtime: Runtime | None = None) -> Predictor:
        ckpt = load_weights(path)
        if "classes" not in ckpt or "preprocessing" not in ckpt:
            raise CheckpointError(
                f"{path} carries no class names or preprocessing (it was saved by an older "
                "version of the project): retrain it with notebook 01, or use load_model() "
                "and the class order of wnids.txt"
            )
        return cls(
            load_model(path).eval(),
            ckpt["classes"]["wnids"],
            ckpt["classes"]["names"],
            ckpt["preprocessing"],
            runtime or select_runtime(verbose=False),
        )

    def to_tensor(self, images) -> torch.Tensor:
        """uint8 N×3×64×64 (the data set's size) from a uint8 tensor N×3×H×W or a list of paths / PIL images."""
        size = self.preprocessing["source_size"]
        if (
            isinstance(images, torch.Tensor)
            and images.dtype == torch.uint8
            and images.ndim == 4
            and images.shape[1] == 3
            and images.shape[-2:] != (size, size)
        ):
            return resize(images.float(), size).round().clamp(0, 255).to(torch.uint8)
        return as_uint8_batch(images, size)[0]

    def topk(self, images, k: int = 5, flip: bool = False) -> list[list[tuple[str, float]]]:
        """For each image the ``k`` most probable classes as (name, probability), most probable first."""
        x = self.to_tensor(images)
        probs = predict(
            self.model, x, self.runtime, size=self.preprocessing["input_size"], flip=flip, batch_size=256
        ).softmax(1)
        values, indices = probs.topk(k, dim=1)
        return [
            [(self.names[i], float(v)) for v, i in zip(vs.tolist(), ix.tolist())] for vs, ix in zip(values, indices)
        ]

    def top5(self, images, flip: bool = False) -> list[list[tuple[str, float]]]:
        return self.topk(images, 5, flip)


@dataclass
class Segmenter:
    """A trained U-Net as a tool: any image (720×480 renders included) in, its rock mask out, at the
    image's own size.

    >>> segmenter = Segmenter.load("weights/unet_base.pt")
    >>> masks = segmenter.masks(["render0001.png"])   # [bool array 480×720]

    Preprocessing as for the training data: the image is resized to 128×128 with an area (box)
    filter; the predicted probabilities are resized back to the image's size (bilinear) and
    thresholded.
    """

    model: nn.Module
    runtime: Runtime
    size: int = 128

    @classmethod
    def load(cls, path, runtime: Runtime | None = None) -> Segmenter:
        model = load_model(path).eval()
        if not model.config.get("name", "").startswith("UNet"):
            raise CheckpointError(
                f"{path} holds a {model.config.get('name')}, not a U-Net: use Predictor for the classifier"
            )
        return cls(model, runtime or select_runtime(verbose=False))

    def probabilities(self, images) -> list[np.ndarray]:
        """Rock probability per pixel (float32 H×W) of each image, at its own size."""
        x, shapes = as_uint8_batch(images, self.size, resample=Image.BOX)
        probs = predict(self.model, x, self.runtime, size=self.size, activation=torch.sigmoid)
        return [
            F.interpolate(p[None], size=shape, mode="bilinear", align_corners=False)[0, 0].numpy()
            for p, shape in zip(probs, shapes)
        ]

    def masks(self, images, threshold: float = 0.5) -> list[np.ndarray]:
        """The rock mask (bool H×W) of each image, at its own size."""
        return [rock_mask(torch.from_numpy(p), threshold).numpy() for p in self.probabilities(images)]


def rock_share(masks: Sequence[np.ndarray]) -> list[float]:
    return [float(m.mean()) for m in masks]


def evaluate_models(
    models: dict[str, nn.Module], images: torch.Tensor, masks: torch.Tensor, runtime: Runtime, threshold: float = 0.5
) -> dict[str, dict]:
    """Every segmentation model on the same images at the same threshold: whole-set metrics, per-image
    IoU, rock recall by size, and the probabilities (for figures)."""
    out = {}
    for name, model in models.items():
        probs = predict(model, images, runtime, activation=torch.sigmoid)
        ev = evaluate_masks(probs, masks, threshold)
        ev["rock_recall"] = rock_recall(rock_mask(probs, threshold), masks)
        ev["probs"] = probs
        out[name] = ev
    return out
