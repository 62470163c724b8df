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
from .data.augment import MEAN, STD, ClassifyAugment, resize
from .data.cache import tensor_identity
from .data.loaders import tensor_loader
from .data.tiny_imagenet import TinyImageNet
from .device import Runtime
from .engine import FitState, TrainConfig, fit
from .models import create_model, load_model
from .notebook import Session
from .plots import LivePlot
from .runlog import CheckpointError, DataRecord, RunInfo, load_weights, read_jsonl
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
    # progressive resizing: (first epoch, input size of training and validation); the last size is 128
    resolutions: Sequence[tuple[int, int]] = ((1, 128),)
    crop_scale: tuple[float, float] = (0.35, 1.0)
    jitter: float = 0.1
    max_steps_per_epoch: int | None = None
    model: dict = field(default_factory=dict)  # Classifier128 arguments


RECIPES = {
    # chosen by the probes in docs/classifier_probes.jsonl (tools/classifier_probe.py): the committed
    # 8/2/2-epoch schedule stretched to the 90-minute budget of a 2-core AVX-512-BF16 CPU (AMD family 26),
    # trimmed from the probed 20/4/4 epochs (estimated 93 min) to 18/3/4 (≈ 83 min)
    "cpu": Recipe(epochs=25, resolutions=((1, 64), (19, 96), (22, 128))),
    # a GPU: the same recipe, longer; designed for >= 65% top-1 (not run on these machines)
    "gpu": Recipe(epochs=80, batch_size=256, lr=0.4, weight_decay=5e-5,
                  resolutions=((1, 64), (21, 96), (51, 128))),
    # the tests: a few batches of a tiny fixture
    "smoke": Recipe(epochs=2, batch_size=16, lr=0.05, resolutions=((1, 64), (2, 128)), max_steps_per_epoch=3,
                    model={"widths": (16, 32, 48, 64), "depths": (1, 1, 1, 1), "stem": (8, 16)}),
}


class ProgressiveResize:
    """Engine callback: the input size of training *and* validation at the scheduled epochs.

    Validation follows the training size, so every point of the curve measures what is being
    trained (a net trained on 64-px inputs and shown 128-px ones sees objects twice as large as it
    learned them). Only the epochs at the final size compete for the best epoch (see
    :attr:`final_from`); the final size must be 128, the size the assignment's number is at.
    """

    def __init__(self, train_aug: ClassifyAugment, val_aug: ClassifyAugment, resolutions: Sequence[tuple[int, int]]):
        self.train_aug, self.val_aug, self.resolutions = train_aug, val_aug, sorted(resolutions)
        if self.resolutions[0][0] != 1 or self.resolutions[-1][1] != 128:
            raise ValueError(f"resolutions must start at epoch 1 and end at 128 px, not {list(resolutions)}")
        self.train_aug.size = self.val_aug.size = self.size_at(1)

    def size_at(self, epoch: int) -> int:
        return [size for first, size in self.resolutions if first <= epoch][-1]

    @property
    def final_from(self) -> int:
        """The first epoch at the final (128 px) size."""
        return self.resolutions[-1][0]

    def on_fit_start(self, state: FitState) -> None:
        print("input size by epoch (training and validation): "
              + ", ".join(f"{s}×{s} from epoch {e}" for e, s in self.resolutions))

    def on_epoch_start(self, state: FitState) -> None:
        self.train_aug.size = self.val_aug.size = self.size_at(state.epoch)

    def on_epoch_record(self, state: FitState, record: dict) -> None:
        record["size"] = self.size_at(state.epoch)


# how an image becomes the network's input; stored in the checkpoint and used by :class:`Predictor`
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


def checkpoint_meta(data: TinyImageNet) -> dict:
    """What a user of ``weights/classifier.pt`` needs besides the weights: classes and preprocessing."""
    return {"classes": {"wnids": list(data.wnids), "names": list(data.names)}, "preprocessing": PREPROCESSING}


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
    val_aug = ClassifyAugment(train=False)
    schedule = ProgressiveResize(train_aug, val_aug, recipe.resolutions)
    cfg = TrainConfig(run=spec.name, epochs=recipe.epochs, lr=recipe.lr, optimizer="sgd", momentum=0.9,
                      weight_decay=recipe.weight_decay, schedule="onecycle", warmup=recipe.warmup,
                      monitor="val_top1", mode="max", monitor_from=schedule.final_from,
                      max_steps_per_epoch=recipe.max_steps_per_epoch,
                      seed=session.seed)
    callbacks = [schedule] + ([LivePlot(["loss", "top1", "top5"])] if live else [])
    return fit(model, tensor_loader(data.train_x, data.train_y, batch_size=recipe.batch_size, shuffle=True,
                                    drop_last=True),
               tensor_loader(data.val_x, data.val_y, batch_size=256, shuffle=False),
               cfg=cfg, loss_fn=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
               metrics=classification_metrics(data.num_classes),
               train_transform=train_aug, val_transform=val_aug,
               runtime=session.runtime, paths=session.paths, callbacks=callbacks, resume=resume,
               info=RunInfo(session.profile, session.seed,
                            DataRecord.of(data.source, session.paths, len(data.train_y), len(data.val_y),
                                          tensor_identity(data.train_x, data.train_y, data.val_x, data.val_y)),
                            asdict(recipe), spec.training(recipe.epochs)),
               checkpoint_meta=checkpoint_meta(data))


def predict(model: nn.Module, x: torch.Tensor, runtime: Runtime, batch_size: int = 256, size: int = 128,
            flip: bool = False) -> torch.Tensor:
    """Scores (float32, CPU) for uint8 images N×3×64×64 resized to ``size`` like validation.

    ``flip=False``: the logits. ``flip=True``: test-time augmentation, the log of the softmax averaged over
    the image and its mirror image (argmax, top-k and the metrics read both alike).
    """
    to_input = ClassifyAugment(train=False, size=size)
    logits = engine.predict(model, x, runtime=runtime, transform=lambda xb: to_input(xb, None)[0],
                            batch_size=batch_size)
    if not flip:
        return logits
    mirrored = engine.predict(model, x, runtime=runtime, transform=lambda xb: to_input(xb.flip(-1), None)[0],
                              batch_size=batch_size)
    return ((logits.softmax(1) + mirrored.softmax(1)) / 2).log()


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
        from .device import select_runtime

        ckpt = load_weights(path)
        if "classes" not in ckpt or "preprocessing" not in ckpt:
            raise CheckpointError(f"{path} carries no class names or preprocessing (it was saved by an older "
                                  "version of the project): retrain it with notebook 01, or use load_model() "
                                  "and the class order of wnids.txt")
        return cls(load_model(path).eval(), ckpt["classes"]["wnids"], ckpt["classes"]["names"],
                   ckpt["preprocessing"], runtime or select_runtime(verbose=False))

    def to_tensor(self, images) -> torch.Tensor:
        """uint8 N×3×64×64 from a uint8 tensor (N×3×H×W) or from a list of file paths / PIL images."""
        from PIL import Image

        size = self.preprocessing["source_size"]
        if isinstance(images, torch.Tensor):
            if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
                raise ValueError(f"expected uint8 images N×3×H×W, got {images.dtype} {tuple(images.shape)}")
            if images.shape[-2:] == (size, size):
                return images
            return resize(images.float(), size).round().clamp(0, 255).to(torch.uint8)
        out = []
        for item in images:
            im = item if isinstance(item, Image.Image) else Image.open(item)
            im = im.convert("RGB").resize((size, size), Image.BILINEAR)
            out.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
        return torch.stack(out)

    def topk(self, images, k: int = 5, flip: bool = False) -> list[list[tuple[str, float]]]:
        """For each image the ``k`` most probable classes as (name, probability), most probable first."""
        x = self.to_tensor(images)
        probs = predict(self.model, x, self.runtime, size=self.preprocessing["input_size"], flip=flip).softmax(1)
        values, indices = probs.topk(k, dim=1)
        return [[(self.names[i], float(v)) for v, i in zip(vs.tolist(), ix.tolist())]
                for vs, ix in zip(values, indices)]

    def top5(self, images, flip: bool = False) -> list[list[tuple[str, float]]]:
        return self.topk(images, 5, flip)


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


PROBES = "docs/classifier_probes.jsonl"  # written by tools/classifier_probe.py, relative to the repository

RECIPE_LABELS = {
    "epochs": "эпох",
    "batch_size": "размер батча",
    "lr": "пиковый шаг обучения (SGD, Нестеров 0.9)",
    "weight_decay": "weight decay (кроме BatchNorm и смещений)",
    "label_smoothing": "label smoothing",
    "warmup": "доля шагов разогрева one-cycle",
    "resolutions": "размер входа по эпохам",
    "crop_scale": "случайный фрагмент, доля площади",
    "jitter": "яркость / контраст / насыщенность, ±",
    "max_steps_per_epoch": "батчей в эпохе (пусто = все)",
    "model": "аргументы модели (пусто = по умолчанию)",
}


def schedule_text(resolutions: Sequence[Sequence[int]], epochs: int) -> str:
    """``((1, 64), (21, 96), (25, 128))``, 28 → ``64 px: 1–20, 96 px: 21–24, 128 px: 25–28``."""
    phases = sorted((int(e), int(s)) for e, s in resolutions)
    ends = [e - 1 for e, _ in phases[1:]] + [epochs]
    return ", ".join(f"{s} px: {e}–{end}" if end > e else f"{s} px: {e}" for (e, s), end in zip(phases, ends))


def recipe_table(recipe: Recipe):
    """The recipe as a two-column table with Russian labels."""
    import pandas as pd

    values = asdict(recipe)
    values["resolutions"] = schedule_text(recipe.resolutions, recipe.epochs)
    values["crop_scale"] = f"{recipe.crop_scale[0]:.0%}–{recipe.crop_scale[1]:.0%}"
    values["jitter"] = f"{recipe.jitter:.0%}"
    values["warmup"] = f"{recipe.warmup:.0%}"
    values["max_steps_per_epoch"] = recipe.max_steps_per_epoch or "—"
    values["model"] = recipe.model or "—"
    return pd.DataFrame({"значение": [str(values[k]) for k in RECIPE_LABELS]},
                        index=pd.Index(list(RECIPE_LABELS.values()), name="параметр"))


def load_probes(paths) -> list[dict]:
    """The recipe probes (one dict per line of :data:`PROBES`); empty when the file is absent."""
    return read_jsonl(paths.root / PROBES)


def probe_table(probes: Sequence[dict]):
    """The recipe probes as a table: schedule, budget, val metrics at 128 px."""
    import pandas as pd

    rows = [{"проба": p["probe"],
             "размер входа по эпохам": schedule_text(p["recipe"]["resolutions"], p["epochs"]),
             "батчей в эпохе": p["steps_per_epoch"],
             "минут обучения": p["train_minutes"],
             "top-1, %": 100 * p["top1"],
             "top-1 с отражением, %": 100 * p["top1_flip"],
             "top-5, %": 100 * p["top5"]} for p in probes]
    return (pd.DataFrame(rows).set_index("проба").style
            .format({"минут обучения": "{:.1f}", "top-1, %": "{:.1f}", "top-1 с отражением, %": "{:.1f}",
                     "top-5, %": "{:.1f}"}))


def probe_summary(probes: Sequence[dict], recipe: Recipe):
    """What the probes say, as Markdown with the numbers read from them: the committed baseline, the
    best probe at the same scale, and the full-length time each schedule would take, estimated
    from the probe's per-epoch times (training time × batches of a full epoch / batches of the probe,
    validation as measured)."""
    from IPython.display import Markdown

    if not probes:
        return Markdown("*(пробы не найдены: `docs/classifier_probes.jsonl` отсутствует)*")
    rows = []
    for p in probes:
        full = 781 / p["steps_per_epoch"]
        est = sum(r_train * full + r_val for r_train, r_val in p.get("epoch_seconds", [])) / 60
        rows.append((p, est))
    best = max(probes, key=lambda p: p["top1"])
    first = probes[0]
    chosen = next((p for p, _ in rows if [list(x) for x in p["recipe"]["resolutions"]]
                   == [list(x) for x in recipe.resolutions] and p["epochs"] == recipe.epochs), None)
    lines = [(f"**Что показали пробы.** Прежнее расписание ({first['epochs']} эпох, «{first['probe']}») на ⅛ данных "
             f"за эпоху даёт {100 * first['top1']:.1f}% top-1; лучшее — «{best['probe']}» ({best['epochs']} эпох): "
             f"{100 * best['top1']:.1f}%.")]
    if any(est for _, est in rows):
        lines.append("Оценка полного запуска (время обучения пробы × 781/100 батчей плюс измеренная валидация): "
                     + "; ".join(f"«{p['probe']}» ≈ {est:.0f} мин" for p, est in rows if est) + ".")
    if chosen is not None:
        lines.append(f"Полный запуск ниже использует расписание пробы «{chosen['probe']}».")
    else:
        lines.append(f"Полный запуск ниже: {recipe.epochs} эпох ({schedule_text(recipe.resolutions, recipe.epochs)}).")
    flip_gain = [100 * (p["top1_flip"] - p["top1"]) for p, _ in rows]
    lines.append(f"Отражение при тесте (TTA) меняет top-1 проб на {min(flip_gain):+.1f}…{max(flip_gain):+.1f} п.п.")
    return Markdown(" ".join(lines))


def accuracy_by_size(model: nn.Module, data: TinyImageNet, runtime: Runtime,
                     sizes: Sequence[int] = (64, 96, 128, 160)) -> dict[int, float]:
    """Val top-1 of the trained model with the 64×64 images resized to each input size."""
    return {size: float((predict(model, data.val_x, runtime, size=size).argmax(1) == data.val_y).float().mean())
            for size in sizes}


def plot_schedule(history: Sequence[dict], by_size: dict[int, float] | None = None):
    """The resolution schedule and its effect.

    Left: top-1 per epoch (validation solid, training batches dashed), each point coloured by the
    input size of that epoch (training and validation alike). Middle: minutes per epoch (the cost
    of each size). Right (``by_size``): the final model's val top-1 at other test input sizes.
    """
    import matplotlib.pyplot as plt

    sizes = sorted({r["size"] for r in history if "size" in r})
    colours = dict(zip(sizes, plt.cm.viridis([0.15, 0.55, 0.85][-len(sizes):] if len(sizes) <= 3
                                             else [i / len(sizes) for i in range(len(sizes))])))
    panels = 3 if by_size else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.6))
    epochs = [r["epoch"] for r in history]
    ax = axes[0]
    ax.plot(epochs, [100 * r["val_top1"] for r in history], "-", color="0.6", zorder=1)
    ax.plot(epochs, [100 * r["train_top1"] for r in history], "--", color="0.8", zorder=1)
    for size in sizes:
        rows = [r for r in history if r.get("size") == size]
        ax.scatter([r["epoch"] for r in rows], [100 * r["val_top1"] for r in rows], color=colours[size], zorder=2,
                   label=f"{size}×{size}")
        ax.scatter([r["epoch"] for r in rows], [100 * r["train_top1"] for r in rows], color=colours[size],
                   marker="x", zorder=2)
    ax.set_xlabel("эпоха")
    ax.set_ylabel("top-1, %")
    ax.set_title("top-1: валидация (●) и обучение (×)")
    ax.legend(title="размер входа", fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.bar(epochs, [r["seconds"] / 60 for r in history], color=[colours.get(r.get("size"), "0.5") for r in history])
    ax.set_xlabel("эпоха")
    ax.set_ylabel("минут на эпоху")
    ax.set_title("стоимость эпохи (обучение + валидация)")
    ax.grid(alpha=0.3, axis="y")
    if by_size:
        ax = axes[2]
        ax.plot(list(by_size), [100 * v for v in by_size.values()], "o-", color="C3")
        for size, value in by_size.items():
            ax.annotate(f"{100 * value:.1f}", (size, 100 * value), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8)
        ax.set_xticks(list(by_size))
        ax.set_xlabel("размер входа при тесте, пикс.")
        ax.set_ylabel("val top-1, %")
        ax.set_title("итоговая модель на других размерах")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_top5(predictor: Predictor, data: TinyImageNet, n: int = 8, step: int = 25):
    """Every ``step``-th val image (``n`` of them) with the predictor's top-5; a correct class in green."""
    import matplotlib.pyplot as plt

    indices = list(range(0, len(data.val_y), step))[:n]
    rows = predictor.top5(data.val_x[indices])
    fig, axes = plt.subplots(1, len(indices), figsize=(2.6 * len(indices), 4.1), squeeze=False)
    for ax, i, top in zip(axes[0], indices, rows):
        truth = data.names[int(data.val_y[i])]
        ax.imshow(data.val_x[i].permute(1, 2, 0).numpy())
        ax.set_axis_off()
        ax.set_title(f"истина: {truth[:22]}", fontsize=8)
        for k, (name, p) in enumerate(top):
            ax.text(0.0, -0.06 - 0.085 * k, f"{p:4.0%} {name[:20]}", transform=ax.transAxes, fontsize=7.5, va="top",
                    family="monospace", color="green" if name == truth else "black")
    fig.subplots_adjust(bottom=0.38, wspace=0.15)
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
