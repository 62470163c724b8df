"""Figures for the segmentation notebooks and the report: data peek, predictions, the encoder schema."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .moon import MoonData
from .segment import error_overlay


def _rgb(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy()


def show_samples(data: MoonData, indices: Sequence[int], ncols: int = 4):
    """Renders with their rock masks overlaid in red, with the rock share of each."""
    n = len(indices)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.5 * nrows), squeeze=False)
    for ax, i in zip(axes.flat, indices):
        img = _rgb(data.images[i]).astype(np.float32) / 255
        m = data.masks[i, 0].numpy().astype(bool)
        img[m] = 0.45 * img[m] + 0.55 * np.array([1.0, 0.15, 0.15])
        ax.imshow(img)
        ax.set_title(f"#{data.numbers[i]}: rock {m.mean():.1%}", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def rock_fraction_hist(data: MoonData):
    frac = data.rock_fraction()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(frac * 100, bins=40, color="0.35")
    ax.axvline(frac.mean() * 100, color="tab:red", label=f"mean {frac.mean():.1%}")
    ax.set_xlabel("rock pixels per image, %")
    ax.set_ylabel("images")
    ax.legend()
    fig.tight_layout()
    return fig


def show_predictions(images: torch.Tensor, probs: torch.Tensor, masks: torch.Tensor, indices: Sequence[int],
                     titles: Sequence[str] | None = None, threshold: float = 0.5):
    """Per row: input, predicted probability, thresholded mask, ground truth, errors (TP green, FP red, FN blue)."""
    cols = ["input", "rock probability", f"mask (p ≥ {threshold})", "ground truth",
            "errors: TP green, FP red, FN blue"]
    fig, axes = plt.subplots(len(indices), 5, figsize=(15, 3.1 * len(indices)), squeeze=False)
    for r, i in enumerate(indices):
        pred = probs[i] >= threshold
        inter = (pred & masks[i].bool()).sum().item()
        union = (pred | masks[i].bool()).sum().item()
        panels = [_rgb(images[i]), probs[i, 0].numpy(), pred[0].numpy(), masks[i, 0].numpy(),
                  error_overlay(images[i], pred, masks[i])]
        for c, (ax, panel) in enumerate(zip(axes[r], panels)):
            ax.imshow(panel, cmap="gray" if c in (2, 3) else ("magma" if c == 1 else None),
                      vmin=0 if c in (1, 2, 3) else None, vmax=1 if c in (1, 2, 3) else None)
            ax.axis("off")
            if r == 0:
                ax.set_title(cols[c], fontsize=10)
        label = titles[r] if titles else ""
        axes[r, 0].text(-0.04, 0.5, f"{label}\nIoU {inter / union:.2f}" if union else f"{label}\nno rock",
                        transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def draw_embedding(model) -> plt.Figure:
    """A diagram of UNetBackbone: classifier stages (left) → 1×1 adapters → decoder levels (right)."""
    enc = model.encoder
    levels = enc.levels()
    n = len(levels)
    fig, ax = plt.subplots(figsize=(13, 0.95 * n + 1))
    ax.set_xlim(0, 13)
    ax.set_ylim(-0.5, n - 0.4)
    ax.axis("off")

    def box(x, y, w, text, colour):
        ax.add_patch(FancyBboxPatch((x, y - 0.32), w, 0.64, boxstyle="round,pad=0.02", fc=colour, ec="0.3"))
        ax.text(x + w / 2, y, text, ha="center", va="center", fontsize=8.5)

    def arrow(x0, y0, x1, y1, style="-|>"):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle=style, mutation_scale=12, color="0.3"))

    size = 128
    cls_ch = (3, *enc.classifier_channels)
    for i, (s, c) in enumerate(zip(enc.strides, enc.out_channels)):
        y = n - 1 - i
        res = f"{size // s}×{size // s}"
        if i == 0:
            box(0.2, y, 3.6, f"input 3×{res} → light stem (new)", "#f4d9a6")
        else:
            box(0.2, y, 3.6, f"Classifier128 {'stem1' if i == 1 else f'stage{i - 1}'}: {cls_ch[i]}×{res}", "#bcd4ee")
            box(4.4, y, 2.2, f"1×1 adapter {cls_ch[i]}→{c}", "#d5ecc2")
            arrow(3.8, y, 4.4, y)
            if i > 1:
                arrow(2.0, y + 1 - 0.32, 2.0, y + 0.32)
        decoder = "bottom (no decoder block)" if i == n - 1 else f"decoder: up ⊕ skip → {c} ch"
        if i == 0:
            decoder += " → 1×1 head"
        box(8.2, y, 3.6, f"{decoder}, {res}", "#e8d1ef")
        arrow(6.6 if i else 3.8, y, 8.2, y)
        if i < n - 1:
            arrow(10.0, y - 1 + 0.32, 10.0, y - 0.32)
    arrow(2.0, n - 1 - 0.32, 2.0, n - 2 + 0.32)
    ax.set_title("UNetBackbone: which classifier stage feeds which U-Net level", fontsize=11)
    fig.tight_layout()
    return fig
