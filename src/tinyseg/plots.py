"""Training curves: one figure, redrawn in place while training (notebooks) and reused by the report."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt

from .callbacks import Callback
from .words import SPLITS, metric


def metric_names(history: Sequence[dict]) -> list[str]:
    """Metric names logged for validation (``val_<name>``), loss first."""
    names = [k[4:] for k in (history[0] if history else {}) if k.startswith("val_")]
    return sorted(names, key=lambda n: (n != "loss", names.index(n)))


def plot_history(history: Sequence[dict], names: Sequence[str] | None = None, title: str | None = None, axes=None):
    """One panel per metric (training batches dashed, validation solid, per epoch), Russian labels on every axis;
    four metrics in a 2×2 grid (a figure that stays legible on a printed page). Returns the figure."""
    names = list(names or metric_names(history))
    if axes is None:
        ncols = 2 if len(names) == 4 else len(names)
        nrows = -(-len(names) // ncols)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(4.6 * ncols, 3.0 * nrows + (0.4 if title else 0)), squeeze=False
        )
        axes = axes.flat
    axes = list(axes)
    fig = axes[0].figure
    epochs = [r["epoch"] for r in history]
    for ax, name in zip(axes, names):
        ax.clear()
        for split, style in (("train", "--"), ("val", "-")):
            key = f"{split}_{name}"
            points = [(e, r[key]) for e, r in zip(epochs, history) if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), style, marker="o", markersize=3, label=SPLITS[split])
        ax.set_title(metric(name))
        ax.set_xlabel("эпоха")
        ax.set_ylabel(metric(name))
        ax.grid(alpha=0.3)
    if axes and axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LivePlot(Callback):
    """Engine callback: the curves of the run so far, redrawn in place after every epoch.

    In a notebook the figure lives in one output that is updated (no pile of figures);
    elsewhere it does nothing (the engine prints a line per epoch).
    """

    def __init__(self, names: Sequence[str] | None = None, title: str | None = None):
        self.names, self.title = names, title
        self.handle = None
        self.enabled = _in_notebook()

    def on_fit_start(self, state) -> None:
        if state.history:  # resumed: show what is there already
            self.on_epoch_end(state, state.history[-1])

    def on_epoch_end(self, state, record: dict) -> None:
        if not self.enabled:
            return
        from IPython.display import display

        fig = plot_history(state.history, self.names, self.title or state.cfg.run)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


def image_grid(images, titles=None, ncols: int = 8, size: float = 1.6, cmap=None):
    """Show images (H×W×C arrays or C×H×W tensors in [0, 1]) in a grid with optional titles."""
    n = len(images)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.25)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if hasattr(img, "detach"):
            img = img.detach().float().cpu()
            img = img.permute(1, 2, 0) if img.ndim == 3 and img.shape[0] in (1, 3) else img
            img = img.squeeze(-1).numpy() if img.ndim == 3 and img.shape[-1] == 1 else img.numpy()
        ax.imshow(img, cmap=cmap)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig
