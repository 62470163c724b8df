"""Augmentation of whole batches on the device: uint8 in, normalised float out.

Geometry (random-resized crop, flip, rotation, translation) is one affine transform per image,
applied with a single ``grid_sample`` that also resizes to the output size, so crop, flip and
the 64→128 upsampling cost one bilinear resampling. Segmentation masks get the same transform
(nearest-neighbour), so image and mask stay aligned. Without augmentation the same bilinear
resampling (``align_corners=False``) is a plain resize.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """float images in [0, 1] → standardised with the ImageNet mean and std."""
    mean = torch.tensor(MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`normalize`, clamped to [0, 1] (for showing images)."""
    mean = torch.tensor(MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * std + mean).clamp(0, 1)


def random_affine(
    n: int,
    *,
    scale: tuple[float, float] = (1.0, 1.0),
    ratio: tuple[float, float] = (1.0, 1.0),
    flip: bool = False,
    max_rotate_deg: float = 0.0,
    device=None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-image affine matrices (N×2×3, in ``affine_grid``'s normalised coordinates).

    Each output image shows a crop covering ``scale`` of the input area with aspect ``ratio``
    (log-uniform), at a random position inside the image, optionally mirrored and rotated.
    """

    def uniform(lo, hi):
        return torch.rand(n, device=device, generator=generator) * (hi - lo) + lo

    area = uniform(*scale)
    log_r = uniform(math.log(ratio[0]), math.log(ratio[1]))
    aspect = torch.exp(log_r)
    sx = torch.sqrt(area * aspect).clamp(max=1.0)  # crop width / image width
    sy = torch.sqrt(area / aspect).clamp(max=1.0)
    tx = (uniform(-1, 1)) * (1 - sx)  # keep the crop inside the image
    ty = (uniform(-1, 1)) * (1 - sy)
    angle = uniform(-max_rotate_deg, max_rotate_deg) * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    mirror = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0) if flip else torch.ones(n, device=device)
    theta = torch.stack(
        [torch.stack([sx * cos * mirror, -sy * sin, tx], 1), torch.stack([sx * sin * mirror, sy * cos, ty], 1)], 1
    )
    return theta


def warp(
    x: torch.Tensor, theta: torch.Tensor, size: int, mode: str = "bilinear", padding_mode: str = "reflection"
) -> torch.Tensor:
    """Resample float images N×C×H×W through ``theta`` to size×size."""
    grid = F.affine_grid(theta.to(x.dtype), [x.shape[0], x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """The plain (no augmentation) bilinear resize used at validation, identical to an identity warp."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)


def color_jitter(
    x: torch.Tensor,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random per-image brightness, contrast and saturation factors in [1-s, 1+s] on images in [0, 1]."""
    n = x.shape[0]

    def factor(s):
        return (1 + (torch.rand(n, 1, 1, 1, device=x.device, generator=generator) * 2 - 1) * s).to(x.dtype)

    if brightness:
        x = x * factor(brightness)
    if contrast:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * factor(contrast) + mean
    if saturation:
        gray = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
        x = (x - gray) * factor(saturation) + gray
    return x.clamp(0, 1)


@dataclass
class ClassifyAugment:
    """Batch transform for the classifier: uint8 N×3×64×64 → normalised float N×3×size×size.

    ``train=True``: random-resized crop (``scale`` of the area, aspect 3/4…4/3), horizontal
    flip and colour jitter, all resampled straight to ``size`` by one bilinear ``grid_sample``;
    ``train=False``: bilinear resize only.
    """

    train: bool
    size: int = 128
    scale: tuple[float, float] = (0.35, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    jitter: float = 0.3

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float().div_(255)
        if self.train:
            theta = random_affine(x.shape[0], scale=self.scale, ratio=self.ratio, flip=True, device=x.device)
            x = warp(x, theta, self.size)
            if self.jitter:
                x = color_jitter(x, self.jitter, self.jitter, self.jitter)
        else:
            x = resize(x, self.size)
        return normalize(x), y


@dataclass
class SegmentAugment:
    """Paired batch transform for segmentation: uint8 images N×3×H×W and masks N×1×H×W (0/1).

    ``train=True``: one random affine per pair (zoom to ``scale`` of the area, aspect
    ``ratio``, rotation up to ``rotate`` degrees, translation, horizontal flip) applied to the
    image (bilinear) and to the mask (nearest, so it stays 0/1) alike; then photometric changes
    on the image only: brightness, contrast, gamma, Gaussian blur or sensor noise. Output:
    normalised float images and integer (int64) masks in {0, 1}; ``train=False`` only converts.
    """

    train: bool
    size: int = 128
    scale: tuple[float, float] = (0.6, 1.0)
    ratio: tuple[float, float] = (0.85, 1.18)
    rotate: float = 10.0
    brightness: float = 0.25
    contrast: float = 0.25
    gamma: float = 0.25
    noise: float = 0.03
    blur_p: float = 0.2

    def __call__(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.float().div_(255)
        mask = mask.float()
        if self.train:
            n = x.shape[0]
            theta = random_affine(
                n, scale=self.scale, ratio=self.ratio, flip=True, max_rotate_deg=self.rotate, device=x.device
            )
            x = warp(x, theta, self.size)
            mask = warp(mask, theta, self.size, mode="nearest")
            x = color_jitter(x, self.brightness, self.contrast)
            if self.gamma:
                g = torch.exp((torch.rand(n, 1, 1, 1, device=x.device) * 2 - 1) * math.log1p(self.gamma))
                x = x.clamp_min(1e-6) ** g
            if self.blur_p:
                blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
                pick = torch.rand(n, 1, 1, 1, device=x.device) < self.blur_p
                x = torch.where(pick, blurred, x)
            if self.noise:
                sigma = torch.rand(n, 1, 1, 1, device=x.device) * self.noise
                x = (x + torch.randn_like(x) * sigma).clamp(0, 1)
        elif x.shape[-1] != self.size:
            x = resize(x, self.size)
            mask = F.interpolate(mask, size=(self.size, self.size), mode="nearest")
        return normalize(x), mask.long()
