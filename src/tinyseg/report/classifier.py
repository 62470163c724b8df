"""Part 1's figures: the resolution schedule, the confusion matrix, top-5 examples, augmented inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.colors import LogNorm

from .. import words
from ..data.augment import denormalize
from ..data.tiny_imagenet import TinyImageNet
from ..inference import Predictor
from ..metrics import Evaluation
from ..plots import image_grid
from ..recipes import ClassifyRecipe


def facts_table(data: TinyImageNet) -> pd.DataFrame:
    """What the classification data holds, in Russian: where it was read from, classes, images per split and per
    class (one number when every class has as many, else the range), the stored image size."""
    from ..paths import get_paths

    f = data.facts()

    def per_class(counts: list[int]) -> str:
        return f"{counts[0]} в каждом классе" if len(counts) == 1 else f"от {counts[0]} до {counts[-1]}"

    where = get_paths().relative(data.source.origin or data.source.location)
    return pd.DataFrame(
        {
            "значение": [
                f"{data.source.dataset}, {where}",
                str(f["classes"]),
                words.thousands(f["train"]),
                words.thousands(f["val"]),
                per_class(f["train_per_class"]),
                per_class(f["val_per_class"]),
                f["image"].replace(" uint8", ", 8 бит на канал"),
            ]
        },
        index=pd.Index(
            [
                "источник",
                "классов",
                "изображений для обучения",
                "изображений для валидации",
                "на класс, обучение",
                "на класс, валидация",
                "изображение",
            ],
            name="Tiny ImageNet-200",
        ),
    )


PREPROCESSING_WORDS = {  # a checkpoint's preprocessing record (classify.PREPROCESSING) in Russian
    "input_size": "вход сети, пикселей",
    "source_size": "размер данных, пикселей",
    "channels": "каналы",
    "resize": "приведение размера",
    "scale": "шкала",
    "mean": "среднее (нормализация)",
    "std": "СКО (нормализация)",
}
RESIZE_WORDS = (
    "любое изображение → 64×64 (билинейно, со сглаживанием: размер данных), затем → 128×128 билинейно "
    "(align_corners=False), как на валидации"
)


def preprocessing_table(preprocessing: dict) -> pd.DataFrame:
    """The preprocessing stored in a checkpoint, with Russian labels and values (the resize rule in words)."""
    rows = {}
    for key, value in preprocessing.items():
        shown = RESIZE_WORDS if key == "resize" else value
        if isinstance(shown, list | tuple):
            shown = ", ".join(f"{v:g}" for v in shown)
        rows[PREPROCESSING_WORDS.get(key, key)] = str(shown).replace("uint8 / 255", "значения uint8 / 255")
    return pd.DataFrame({"значение": list(rows.values())}, index=pd.Index(list(rows), name="предобработка"))


def plot_confusion(ev: Evaluation, k: int = 16):
    """Left: the whole 200×200 confusion matrix (row-normalised, log colour); right: the ``k``
    classes involved in the most frequent confusions, with names."""
    norm = ev.confusion / np.maximum(ev.confusion.sum(1, keepdims=True), 1)
    classes: list[int] = []
    for pair in ev.confused_pairs(4 * k):
        for name in (pair["true"], pair["predicted"]):
            c = ev.names.index(name)
            if c not in classes and len(classes) < k:
                classes.append(c)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.5, 5.6), gridspec_kw={"width_ratios": [1, 1.35]})
    ax1.imshow(norm + 1e-3, norm=LogNorm(vmin=1e-3, vmax=1), cmap="magma", interpolation="nearest")
    ax1.set_title(f"все {len(ev.names)} классов\n(строка — истинный класс, доля его изображений)", fontsize=10)
    ax1.set_xlabel("номер предсказанного класса")
    ax1.set_ylabel("номер истинного класса")
    sub = norm[np.ix_(classes, classes)]
    labels = [ev.names[c][:18] for c in classes]
    annot = np.where(sub >= 0.1, np.vectorize(lambda v: f"{v:.0%}")(sub), "")  # label shares >= 10%
    sns.heatmap(
        sub,
        ax=ax2,
        xticklabels=labels,
        yticklabels=labels,
        cmap="viridis",
        annot=annot,
        fmt="",
        annot_kws={"fontsize": 7},
        cbar_kws={"label": "доля изображений истинного класса"},
    )
    ax2.set_title(f"{len(classes)} классов из самых частых путаниц", fontsize=10)
    ax2.set_xlabel("предсказанный класс")
    ax2.set_ylabel("истинный класс")
    ax2.tick_params(labelsize=7.5)
    fig.tight_layout()
    return fig


def plot_schedule(history: Sequence[dict], by_size: dict[int, float] | None = None):
    """The resolution schedule and its effect.

    Left: top-1 per epoch (validation solid, training batches dashed), each point coloured by the
    input size of that epoch (training and validation alike). Middle: minutes per epoch (the cost
    of each size). Right (``by_size``): the final model's val top-1 at other test input sizes.
    """
    sizes = sorted({r["size"] for r in history if "size" in r})
    colours = dict(
        zip(
            sizes,
            plt.cm.viridis(
                [0.15, 0.55, 0.85][-len(sizes) :] if len(sizes) <= 3 else [i / len(sizes) for i in range(len(sizes))]
            ),
        )
    )
    panels = 3 if by_size else 2
    fig, axes = plt.subplots(1, panels, figsize=(3.7 * panels, 3.4))
    epochs = [r["epoch"] for r in history]
    ax = axes[0]
    ax.plot(epochs, [100 * r["val_top1"] for r in history], "-", color="0.6", zorder=1)
    ax.plot(epochs, [100 * r["train_top1"] for r in history], "--", color="0.8", zorder=1)
    for size in sizes:
        rows = [r for r in history if r.get("size") == size]
        ax.scatter(
            [r["epoch"] for r in rows],
            [100 * r["val_top1"] for r in rows],
            color=colours[size],
            zorder=2,
            label=f"{size}×{size}",
        )
        ax.scatter(
            [r["epoch"] for r in rows], [100 * r["train_top1"] for r in rows], color=colours[size], marker="x", zorder=2
        )
    ax.set_xlabel("эпоха")
    ax.set_ylabel("top-1, %")
    ax.set_title("top-1: валидация (●) и обучение (×)", fontsize=10)
    ax.legend(title="размер входа", fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.bar(epochs, [r["seconds"] / 60 for r in history], color=[colours.get(r.get("size"), "0.5") for r in history])
    ax.set_xlabel("эпоха")
    ax.set_ylabel("минут на эпоху")
    ax.set_title("время эпохи (обучение + валидация)", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    if by_size:
        ax = axes[2]
        ax.plot(list(by_size), [100 * v for v in by_size.values()], "o-", color="C3")
        for size, value in by_size.items():
            ax.annotate(
                f"{100 * value:.1f}",
                (size, 100 * value),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(list(by_size))
        ax.set_xlabel("размер входа при тесте, пикс.")
        ax.set_ylabel("top-1 на валидации, %")
        ax.set_title("итоговая модель на других размерах", fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_top5(predictor: Predictor, data: TinyImageNet, n: int = 8, step: int = 25, ncols: int = 4):
    """Every ``step``-th val image (``n`` of them, ``ncols`` a row) with the predictor's top-5; a correct class in
    green."""
    indices = list(range(0, len(data.val_y), step))[:n]
    rows = predictor.top5(data.val_x[indices])
    nrows = -(-len(indices) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.7 * ncols, 3.9 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i, top in zip(axes.flat, indices, rows):
        truth = data.names[int(data.val_y[i])]
        ax.imshow(data.val_x[i].permute(1, 2, 0).numpy())
        ax.set_title(f"истина: {truth[:24]}", fontsize=9)
        for k, (name, p) in enumerate(top):
            ax.text(
                0.0,
                -0.05 - 0.095 * k,
                f"{p:4.0%} {name[:22]}",
                transform=ax.transAxes,
                fontsize=8.5,
                va="top",
                family="monospace",
                color="green" if name == truth else "black",
            )
    fig.subplots_adjust(bottom=0.2, hspace=0.75, wspace=0.2)
    return fig


def show_augmented(data: TinyImageNet, recipe: ClassifyRecipe, n: int = 6, seed: int = 0):
    """Top row: training images as stored (64×64); bottom row: what the network sees (the recipe's
    augmentation, 128×128)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.train_y), generator=g)[:n]
    x, y = data.train_x[idx], data.train_y[idx]
    aug, _ = replace(recipe.augment, train=True, size=128)(x, y)
    images = [img.float() / 255 for img in x] + list(denormalize(aug))
    titles = [f"{data.names[c][:18]}\n64×64" for c in y.tolist()] + ["→ 128×128"] * n
    return image_grid(images, titles, ncols=n, size=1.75)
