"""Figures for the segmentation notebooks and the report: data peek, predictions, error overlays,
training curves of several runs, the same images through every model, the encoder schema."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torchvision.utils import draw_segmentation_masks

from ..data.moon import MoonData
from ..metrics import per_image_iou, rock_mask
from .logs import Run

SEG_METRICS = {"loss": "функция потерь (BCE + Dice)", "iou": "IoU", "dice": "Dice", "pixel_acc": "pixel accuracy"}


ROCK = (255, 40, 40)  # the colour of rock in every mask overlay
ROCK_ALPHA = 0.55


def _rgb(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy()


def overlay(image, masks, colours=ROCK, alpha: float = ROCK_ALPHA) -> torch.Tensor:
    """``image`` (3×H×W tensor, uint8 or floats in [0, 1]; or an H×W×3 uint8 array) with each mask blended
    in its colour: ``(1 - alpha) · pixel + alpha · colour`` where the mask is set (torchvision's
    ``draw_segmentation_masks``). ``masks``: one H×W mask or K×H×W (any dtype, non-zero = set; tensor or array);
    ``colours``: one RGB triple (0–255) or one per mask. Returns a 3×H×W tensor of the image's dtype."""
    image = torch.as_tensor(image)
    if image.ndim == 3 and image.shape[0] != 3 and image.shape[-1] == 3:
        image = image.permute(2, 0, 1)
    masks = torch.as_tensor(masks).bool().reshape(-1, *image.shape[-2:])
    return draw_segmentation_masks(image, masks, alpha=alpha, colors=colours)


def _rock_overlay(image: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """A uint8 3×H×W image with its rock mask in red, as H×W×3 floats in [0, 1] for ``imshow``."""
    return _rgb(overlay(image.float() / 255, mask))


def error_overlay(image: torch.Tensor, pred: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """The image (uint8 3×H×W) with true positives green, false positives red, false negatives blue
    (H×W×3 floats in [0, 1]; :func:`overlay` on a darkened copy)."""
    p, t = pred.reshape(image.shape[-2:]).bool(), truth.reshape(image.shape[-2:]).bool()
    base = (image.float() * 0.55).to(torch.uint8)
    out = overlay(base, torch.stack([p & t, p & ~t, ~p & t]), [(25, 230, 25), (255, 40, 25), (40, 100, 255)], 0.65)
    return out.permute(1, 2, 0).numpy().astype(np.float32) / 255


def show_samples(data: MoonData, indices: Sequence[int], ncols: int = 4):
    """Renders with their rock masks overlaid in red, with the rock share of each."""
    n = len(indices)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.5 * ncols, 2.7 * nrows), squeeze=False)
    for ax, i in zip(axes.flat, indices):
        ax.imshow(_rock_overlay(data.images[i], data.masks[i]))
        ax.set_title(f"пара {data.numbers[i]}: камень {data.masks[i].numpy().astype(bool).mean():.1%}", fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def real_vs_generated(real: MoonData, generated: MoonData, n: int = 4, seed: int = 0):
    """``n`` real renders (top row) and ``n`` generated scenes (bottom row), chosen at random without
    looking at any model, each with its rock mask overlaid in red and its rock share. The scenes are drawn
    from the whole generated set, also when only some of its pairs are in memory (``population`` and
    ``pairs`` of :class:`~tinyseg.report.logs.StandInPairs`: the chosen ones are rendered)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, n, figsize=(2.5 * n, 6.3), squeeze=False)
    stand_in = generated.kind != "real"  # runs trained on the real set: its renders, named as such
    below = "сцена замены" if stand_in else "снимок обучения"
    for row, (data, name) in enumerate(((real, "реальный рендер"), (generated, below))):
        population = getattr(data, "population", None) or data.numbers
        chosen = sorted(rng.choice(len(population), size=n, replace=False))
        if population is not data.numbers:  # the chosen pairs, from the whole set
            data, chosen = data.pairs([population[i] for i in chosen]), range(n)
        for ax, i in zip(axes[row], chosen):
            ax.imshow(_rock_overlay(data.images[i], data.masks[i]))
            share = data.masks[i].numpy().astype(bool).mean()
            ax.set_title(f"{name} {data.numbers[i]}\nкамень: {share:.1%} пикселей", fontsize=9)
            ax.axis("off")
    fig.suptitle(
        "Сверху — реальные рендеры (очищенная разметка: многих мелких камней в ней нет),\nснизу — "
        + (
            "сгенерированные сцены замены"
            if stand_in
            else "настоящий MOON_SEGMENTATION_BINARY, на котором обучены модели"
        )
        + "; камень отмечен красным",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def show_augmented_pairs(data: MoonData, indices: Sequence[int], augment, versions: int = 3, seed: int = 0):
    """What the segmentation models train on: each row a pair as stored, then ``versions`` draws of the training
    augmentation (``augment``: the recipe's :class:`~tinyseg.data.augment.SegmentAugment`, used with ``train=True``
    exactly as in training), each image with the outline of its mask in red. The geometric changes move image and
    mask together; brightness, contrast, gamma, blur and noise touch the image only."""
    from dataclasses import replace

    from ..data.augment import denormalize

    x, m = data.images[list(indices)], data.masks[list(indices)]
    train = replace(augment, train=True)
    shown = [(x.float() / 255, m)]
    with torch.random.fork_rng():  # the figure leaves the global random state as it found it
        for v in range(versions):
            torch.manual_seed(seed + v)
            xa, ma = train(x, m)
            shown.append((denormalize(xa), ma))
    fig, axes = plt.subplots(
        len(indices), versions + 1, figsize=(2.4 * (versions + 1), 2.5 * len(indices)), squeeze=False
    )
    for c, (images, masks) in enumerate(shown):
        for r in range(len(indices)):
            ax = axes[r, c]
            ax.imshow(images[r].permute(1, 2, 0).numpy())
            if masks[r].any():
                ax.contour(masks[r, 0].numpy(), levels=[0.5], colors="red", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("как хранится" if c == 0 else f"аугментация {c}", fontsize=10)
    for r, i in enumerate(indices):
        axes[r, 0].set_ylabel(f"пара {data.numbers[i]}", fontsize=9)
    fig.suptitle("Пары изображение–маска до и после аугментации обучения (контур маски — красный)", fontsize=11)
    fig.tight_layout()
    return fig


def rock_fraction_hist(data: MoonData):
    frac = data.rock_fraction()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(frac * 100, bins=40, color="0.35")
    ax.axvline(frac.mean() * 100, color="tab:red", label=f"среднее {frac.mean():.1%}")
    ax.set_xlabel("доля пикселей камня на снимке, %")
    ax.set_ylabel("снимков")
    ax.legend()
    fig.tight_layout()
    return fig


def show_predictions(
    images: torch.Tensor,
    probs: torch.Tensor,
    masks: torch.Tensor,
    indices: Sequence[int],
    titles: Sequence[str] | None = None,
    threshold: float = 0.5,
):
    """Per row: input, predicted probability, thresholded mask, ground truth, errors (true positives green, false
    positives red, false negatives blue)."""
    cols = [
        "вход",
        "вероятность камня",
        f"маска (p ≥ {threshold})",
        "разметка",
        "ошибки: зелёный — найдено,\nкрасный — ложно, синий — пропуск",
    ]
    fig, axes = plt.subplots(len(indices), 5, figsize=(11, 2.3 * len(indices)), squeeze=False)
    for r, i in enumerate(indices):
        pred = rock_mask(probs[i], threshold)
        empty = not (pred | masks[i].bool()).any()
        panels = [
            _rgb(images[i]),
            probs[i, 0].numpy(),
            pred[0].numpy(),
            masks[i, 0].numpy(),
            error_overlay(images[i], pred, masks[i]),
        ]
        for c, (ax, panel) in enumerate(zip(axes[r], panels)):
            ax.imshow(
                panel,
                cmap="gray" if c in (2, 3) else ("magma" if c == 1 else None),
                vmin=0 if c in (1, 2, 3) else None,
                vmax=1 if c in (1, 2, 3) else None,
            )
            ax.axis("off")
            if r == 0:
                ax.set_title(cols[c], fontsize=10)
        label = titles[r] if titles else ""
        axes[r, 0].text(
            -0.04,
            0.5,
            f"{label}\nкамней нет" if empty else f"{label}\nIoU {per_image_iou(pred, masks[i])[0]:.2f}",
            transform=axes[r, 0].transAxes,
            ha="right",
            va="center",
            fontsize=10,
        )
    fig.tight_layout()
    return fig


def example_picks(
    iou: np.ndarray, images: torch.Tensor, masks: torch.Tensor, min_rock: float = 0.02, dark_quantile: float = 0.2
) -> dict[str, int]:
    """Validation examples to show, by per-image IoU: the best, the median and the one a third of the way
    up; the worst only among images with at least ``min_rock`` rock pixels that are not among the darkest
    ``dark_quantile`` (an almost black frame with an invisible rock says nothing about the model).
    Returns ``caption → index``."""
    share = masks.float().mean(dim=(1, 2, 3)).numpy()
    brightness = images.float().mean(dim=(1, 2, 3)).numpy()
    order = np.argsort(iou, kind="stable")
    visible = [
        int(i) for i in order if share[i] >= min_rock and brightness[i] >= np.quantile(brightness, dark_quantile)
    ]
    picks = {
        "лучший": int(order[-1]),
        "медианный": int(order[len(order) // 2]),
        "треть снизу": int(order[len(order) // 3]),
    }
    if visible:
        picks[f"худший (камня ≥ {min_rock:.0%}, не тёмный)"] = visible[0]
    return picks


def draw_embedding(model) -> plt.Figure:
    """A diagram of UNetBackbone: classifier maps (left) → 1×1 adapters → decoder levels (right), one row per
    U-Net level, read from the encoder (its stages' ``feature_info``, ``input_scale`` and the optional light stem)."""
    enc = model.encoder
    n = len(enc.out_channels)
    scale = enc.input_scale
    stem = enc.stem is not None
    names = ["stem1", "stem2 + stage1"] + [f"stage{k}" for k in range(2, len(enc.backbone.feature_info))]
    fig, ax = plt.subplots(figsize=(10.5, 0.95 * n + 1.3))
    ax.set_xlim(0, 13)
    ax.set_ylim(-0.5, n + 0.45)
    ax.axis("off")

    def box(x, y, w, text, colour):
        ax.add_patch(FancyBboxPatch((x, y - 0.32), w, 0.64, boxstyle="round,pad=0.02", fc=colour, ec="0.3"))
        ax.text(x + w / 2, y, text, ha="center", va="center", fontsize=9, linespacing=1.1)

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color="0.3"))

    size = 128
    inner = size * scale
    box(
        0.2,
        n,
        3.6,
        f"вход 3×{size}×{size}" + (f"\n→ ×{scale} билинейно → {inner}×{inner}" if scale > 1 else ""),
        "#eeeeee",
    )
    for i, (r, c, source) in enumerate(zip(enc.reductions, enc.out_channels, enc.sources())):
        y = n - 1 - i
        res = f"{size // r}×{size // r}"
        if source is None:
            box(0.2, y, 3.6, f"новый лёгкий стем:\n2× свёртка 3×3, {c}×{res}", "#f4d9a6")
        else:
            j, ch = source[0], source[1]["num_chs"]
            box(0.2, y, 3.6, f"Classifier128 {names[j]}:\n{ch}×{res}", "#bcd4ee")
            box(4.4, y, 2.2, f"адаптер 1×1:\n{ch} → {c}", "#d5ecc2")
            arrow(3.8, y, 4.4, y)
            if j > 0 or not stem:
                arrow(2.0, y + 1 - 0.32, 2.0, y + 0.32)
        decoder = "дно (без блока декодера)" if i == n - 1 else f"декодер: ↑ ⊕ skip → {c} кан."
        if i == 0:
            decoder += ",\nзатем голова 1×1"
        box(8.2, y, 3.6, f"{decoder}\n{res}" if i != 0 else f"{decoder} ({res})", "#e8d1ef")
        arrow(6.6 if source is not None else 3.8, y, 8.2, y)
        if i < n - 1:
            arrow(10.0, y - 1 + 0.32, 10.0, y - 0.32)
    ax.set_title("UNetBackbone: какая карта классификатора питает какой уровень U-Net", fontsize=12)
    fig.tight_layout()
    return fig


def plot_classifier_curves(run: Run):
    """Loss, top-1, top-5 and macro-F1 per epoch, train dashed and val solid."""
    from ..plots import plot_history

    return plot_history(run.history, ["loss", "top1", "top5", "macro_f1"], title=f"{run.spec.title}: кривые обучения")


def plot_segmentation_curves(runs: dict[str, Run]):
    """The segmentation runs on shared axes, 2×2 panels (loss, IoU, Dice, pixel accuracy): one colour per run,
    validation solid, training batches dashed; ★ best epoch; dotted verticals: the logged unfreeze epochs."""
    names = [n for n, r in runs.items() if r.spec.task == "segmentation"]
    unfrozen = [(runs[n].unfreeze_epoch, runs[n].spec) for n in names if runs[n].unfreeze_epoch is not None]
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 7.4), squeeze=False)
    for ax, (key, title) in zip(axes.flat, SEG_METRICS.items()):
        for name in names:
            run, colour = runs[name], runs[name].spec.colour
            epochs = [r["epoch"] for r in run.history]
            ax.plot(epochs, [r.get(f"train_{key}") for r in run.history], "--", color=colour, alpha=0.45, lw=1)
            ax.plot(epochs, [r.get(f"val_{key}") for r in run.history], "-", color=colour, lw=1.8, label=run.spec.short)
            best = run.summary.best_epoch
            if best is not None and run.best.get(f"val_{key}") is not None:
                ax.plot([best], [run.best[f"val_{key}"]], "*", color=colour, markersize=11, markeredgecolor="k")
        for epoch, spec in unfrozen:
            ax.axvline(epoch - 0.5, color=spec.colour, ls=":", lw=1)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("эпоха")
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(
        "Сегментация, сид 0: сплошная — валидация, пунктир — обучение, ★ лучшая эпоха по IoU на валидации"
        + "".join(f";\nточечная вертикаль — разморозка энкодера {spec.short}" for _, spec in unfrozen),
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def pick_examples(masks: torch.Tensor, n: int = 5) -> list[int]:
    """``n`` images chosen without looking at any model: evenly spread over the rock-share quantiles of the
    images that show rock (from few rocks to many), so every model is shown on the same, representative images."""
    return pick_by_share(masks.float().mean(dim=(1, 2, 3)).numpy(), n)


def pick_by_share(share: Sequence[float], n: int = 5) -> list[int]:
    """The rule of :func:`pick_examples` on the images' rock shares themselves (positions in ``share``): from the
    masks, or from the rock pixels a run's ``overlaps.json`` logged per image without the images in memory."""
    share = np.asarray(share, dtype=float)
    order = [int(i) for i in np.argsort(share, kind="stable") if share[i] > 0] or list(range(len(share)))
    positions = np.linspace(0.1, 0.9, n) * (len(order) - 1)
    return [order[round(p)] for p in positions]


def compare_masks(
    images: torch.Tensor,
    masks: torch.Tensor,
    probs: dict[str, torch.Tensor],
    indices: Sequence[int],
    labels: dict[str, str],
    threshold: float = 0.5,
    title: str = "Одни и те же снимки через все модели: зелёный — найденный камень, красный — ложная тревога, синий — пропуск",
):
    """Rows: the chosen images; columns: input, ground truth, then every model's errors
    (TP green, FP red, FN blue) with its IoU on that image; ``labels``: run → column title."""
    names = list(probs)
    ncols = 2 + len(names)
    fig, axes = plt.subplots(len(indices), ncols, figsize=(1.85 * ncols, 2.0 * len(indices) + 0.5), squeeze=False)
    for r, i in enumerate(indices):
        truth = masks[i].bool()
        axes[r, 0].imshow(images[i].permute(1, 2, 0).numpy())
        axes[r, 0].set_title(
            f"вход (камень {truth.float().mean():.1%})" if r == 0 else f"камень {truth.float().mean():.1%}", fontsize=9
        )
        axes[r, 1].imshow(truth[0].numpy(), cmap="gray", vmin=0, vmax=1)
        for c, name in enumerate(names, start=2):
            pred = rock_mask(probs[name][i], threshold)
            iou = per_image_iou(pred, truth)[0]
            axes[r, c].imshow(error_overlay(images[i], pred, truth))
            label = labels[name].replace(" (", "\n(")
            axes[r, c].set_title(f"{label}\nIoU {iou:.2f}" if r == 0 else f"IoU {iou:.2f}", fontsize=9)
        if r == 0:
            axes[r, 1].set_title("разметка", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def per_image_iou_figure(evaluations: dict[str, dict], labels: dict[str, str], title: str):
    """The distribution of per-image IoU of every model (box plot with the images as dots)."""
    names = list(evaluations)
    fig, ax = plt.subplots(figsize=(min(10.5, 1.9 * len(names) + 2.5), 3.4))
    data = [evaluations[n]["per_image_iou"] for n in names]
    ax.boxplot(data, showfliers=False, widths=0.5)
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.plot(i + rng.uniform(-0.15, 0.15, len(values)), values, ".", color="0.3", alpha=0.5, markersize=4)
    ax.set_xticks(range(1, len(names) + 1), [labels.get(n, n).replace(" (", "\n(") for n in names], fontsize=9)
    ax.set_xlabel("модель")
    ax.set_ylabel("IoU снимка")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
