"""Inference, for the tasks, the report and a user alike: one :func:`predict` over uint8 image
tensors, and the two trained models as tools — :class:`Predictor` (Classifier128: top-k class names)
and :class:`Segmenter` (a U-Net: the rock mask of any image, at the image's own size).

Both tools take a list of file paths or PIL images, or a uint8 tensor N×3×H×W, check it the same
way, and preprocess exactly as at validation. The command line: ``python -m tinyseg.predict``.
"""

from __future__ import annotations

from collections.abc import Callable
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
from .metrics import evaluate_masks, recall_rows, rock_counts, rock_mask
from .models import model_from_checkpoint
from .paths import get_paths
from .runlog import CheckpointError, RunLog, load_weights


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

    def prepare(x: torch.Tensor) -> torch.Tensor:
        return normalize(resize(x.float().div_(255), size))

    out = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size].to(runtime.device)
        scores = _forward(model, prepare(batch), runtime)
        if flip:  # the mirror image is prepared like the image itself (flip first, then resize)
            mirrored = _forward(model, prepare(batch.flip(-1)), runtime)
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


NO_IMAGES = "no images given: expected a non-empty list of images (paths or PIL images) or a uint8 tensor N×3×H×W"

# greyscale modes with more than 8 bits per pixel: PIL's convert("RGB") clips them instead of scaling
_WIDE_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def as_uint8_batch(images, size: int | None = None, resample=Image.BILINEAR) -> tuple[torch.Tensor, list]:
    """``(uint8 N×3×size×size, original sizes (H, W))`` from a uint8 tensor N×3×H×W or from a list of file
    paths / PIL images (converted to 8-bit RGB by :func:`to_rgb8`). ``size=None`` keeps the size (all images
    must share it). No images, or an image that cannot be read, is a ``ValueError`` naming it."""
    if isinstance(images, torch.Tensor):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images N×3×H×W, got {images.dtype} {tuple(images.shape)}")
        if len(images) == 0:
            raise ValueError(NO_IMAGES)
        shapes = [tuple(images.shape[-2:])] * len(images)
        if size is None or images.shape[-2:] == (size, size):
            return images, shapes
        images = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]
    if isinstance(images, (str, Path, Image.Image)):
        raise ValueError("expected a list of images (paths or PIL images) or a uint8 tensor, not a single image")
    images = list(images)
    if not images:
        raise ValueError(NO_IMAGES)
    out, shapes = [], []
    for i, item in enumerate(images):
        try:
            im = to_rgb8(item if isinstance(item, Image.Image) else Image.open(item))
        except (OSError, ValueError, SyntaxError) as e:  # PIL raises SyntaxError for some broken headers
            raise ValueError(f"{_name(item, i, len(images))}: not a readable image ({e})") from e
        shapes.append((im.height, im.width))
        if size is not None:
            im = im.resize((size, size), resample)
        out.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
    if len({tuple(t.shape) for t in out}) > 1:
        raise ValueError("images of different sizes: give a size to resize them to")
    return torch.stack(out), shapes


def _name(item, index: int, count: int) -> str:
    """How an error names an image: its path, the file a PIL image was opened from, or its place in the list."""
    if isinstance(item, (str, Path)):
        return str(item)
    filename = getattr(item, "filename", "") or getattr(item, "name", "")
    return f"{filename} (image {index + 1} of {count})" if filename else f"image {index + 1} of {count}"


def to_rgb8(im: Image.Image) -> Image.Image:
    """The image as 8-bit RGB. Greyscale with more than 8 bits per pixel is scaled, not clipped (PIL's
    ``convert("RGB")`` clips a 16-bit image to white): 16-bit (``I;16``) by 1/257 (65535 → 255); 32-bit
    integer (``I``) and float (``F``) images as is when their values lie in 0..255, by 1/257 when in
    0..65535 (integers; floats in 0..1 by 255), else by their actual range (min → 0, max → 255)."""
    if im.mode not in _WIDE_GREY:
        return im.convert("RGB")
    values = np.asarray(im).astype(np.float64)
    finite = values[np.isfinite(values)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    if im.mode.startswith("I;16"):
        values = values / 257
    elif im.mode == "F" and lo >= 0 and hi <= 1:
        values = values * 255
    elif lo >= 0 and hi <= 255:
        pass
    elif im.mode == "I" and lo >= 0 and hi <= 65535:
        values = values / 257
    else:
        values = (values - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(values)
    grey = np.clip(np.nan_to_num(np.rint(values)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def _recorded_sha256(path) -> str:
    """The sha256 that the run's ``summary.json`` records for ``path`` when it is the project's
    ``weights/<run>.pt`` (``WEIGHTS_DIR``); "" for any other file or a run without a recorded hash."""
    paths = get_paths()
    path = Path(path).resolve()
    if path.suffix != ".pt" or path.parent != paths.weights_dir:
        return ""
    return RunLog(paths.run_dir(path.stem)).weights_sha256()


def _load_checkpoint(path, expected_sha256: str | None) -> dict:
    return load_weights(path, _recorded_sha256(path) if expected_sha256 is None else expected_sha256)


def _model_name(ckpt: dict) -> str:
    config = ckpt.get("config")
    return str(config.get("name", "")) if isinstance(config, dict) else ""


def load_tool(path, runtime: Runtime | None = None, expected_sha256: str | None = None) -> Predictor | Segmenter:
    """The tool a checkpoint is made for: a :class:`Segmenter` for a U-Net, else a :class:`Predictor`."""
    ckpt = _load_checkpoint(path, expected_sha256)
    tool = Segmenter if _model_name(ckpt).startswith("UNet") else Predictor
    return tool.from_checkpoint(ckpt, path, runtime)


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
    def load(cls, path, runtime: Runtime | None = None, expected_sha256: str | None = None) -> Predictor:
        """The classifier of a checkpoint. ``expected_sha256``: the file's hash must equal it; by default the
        hash its run's summary records, when ``path`` is the project's ``weights/<run>.pt``."""
        return cls.from_checkpoint(_load_checkpoint(path, expected_sha256), path, runtime)

    @classmethod
    def from_checkpoint(cls, ckpt: dict, path, runtime: Runtime | None = None) -> Predictor:
        """The classifier of a loaded checkpoint; anything that does not fit is a CheckpointError naming ``path``."""
        name = _model_name(ckpt)
        if name.startswith("UNet"):
            raise CheckpointError(f"{path} is a U-Net checkpoint ({name}), not the classifier: use Segmenter")
        model = model_from_checkpoint(ckpt, path).eval()
        if "classes" not in ckpt or "preprocessing" not in ckpt:
            raise CheckpointError(
                f"{path} carries no class names or preprocessing (it was saved by an older "
                "version of the project): retrain it with notebook 01, or use load_model() "
                "and the class order of wnids.txt"
            )
        classes, preprocessing = ckpt["classes"], ckpt["preprocessing"]
        wnids = classes.get("wnids") if isinstance(classes, dict) else None
        names = classes.get("names") if isinstance(classes, dict) else None
        outputs = getattr(model, "num_classes", None)
        if not isinstance(wnids, list) or not isinstance(names, list) or not len(wnids) == len(names) == outputs:
            raise CheckpointError(
                f"{path}: its class list does not fit its model: {_count(wnids)} wnids and {_count(names)} "
                f"names for a {outputs}-class head. The file was changed after saving: restore it."
            )
        sizes = [preprocessing.get(k) for k in ("source_size", "input_size")] if isinstance(preprocessing, dict) else []
        if len(sizes) != 2 or not all(isinstance(v, int) and v > 0 for v in sizes):
            raise CheckpointError(
                f"{path}: its preprocessing lacks the image sizes (source_size, input_size): {preprocessing!r}. "
                "The file was changed after saving: restore it."
            )
        return cls(model, wnids, names, preprocessing, runtime or select_runtime(verbose=False))

    def to_tensor(self, images) -> torch.Tensor:
        """uint8 N×3×64×64 (the data set's size) from a uint8 tensor N×3×H×W or a list of paths / PIL images."""
        size = self.preprocessing["source_size"]
        if isinstance(images, torch.Tensor) and len(images) == 0:
            raise ValueError(NO_IMAGES)
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
        """For each image the ``k`` most probable classes (all of them when there are fewer) as
        (name, probability), most probable first."""
        x = self.to_tensor(images)
        probs = predict(
            self.model, x, self.runtime, size=self.preprocessing["input_size"], flip=flip, batch_size=256
        ).softmax(1)
        values, indices = probs.topk(min(k, probs.shape[1]), dim=1)
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
    def load(cls, path, runtime: Runtime | None = None, expected_sha256: str | None = None) -> Segmenter:
        """The U-Net of a checkpoint; ``expected_sha256`` as for :meth:`Predictor.load`."""
        return cls.from_checkpoint(_load_checkpoint(path, expected_sha256), path, runtime)

    @classmethod
    def from_checkpoint(cls, ckpt: dict, path, runtime: Runtime | None = None) -> Segmenter:
        name = _model_name(ckpt)
        if name and not name.startswith("UNet"):
            raise CheckpointError(f"{path} holds a {name}, not a U-Net: use Predictor for the classifier")
        return cls(model_from_checkpoint(ckpt, path).eval(), runtime or select_runtime(verbose=False))

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


def _count(items) -> str:
    return str(len(items)) if isinstance(items, list) else "no"


def evaluate_models(
    models: dict[str, nn.Module], images: torch.Tensor, masks: torch.Tensor, runtime: Runtime, threshold: float = 0.5
) -> dict[str, dict]:
    """Every segmentation model on the same images at the same threshold: whole-set metrics, per-image
    IoU, rock recall by size (and its per-image counts, ``rock_counts``), and the probabilities (for figures)."""
    out = {}
    for name, model in models.items():
        probs = predict(model, images, runtime, activation=torch.sigmoid)
        ev = evaluate_masks(probs, masks, threshold)
        ev["rock_counts"] = rock_counts(rock_mask(probs, threshold), masks)
        ev["rock_recall"] = recall_rows(*ev["rock_counts"])
        ev["probs"] = probs
        out[name] = ev
    return out
