"""Parts 2 and 3 wiring: the segmentation recipe per profile, model building from the run table,
loss, metrics, training and evaluation.

Every segmentation run uses the same split, loss, metrics, augmentation and recipe; what differs
(model, encoder initialisation, freezing, unfreezing, encoder learning rate) is read from the
run's :class:`~tinyseg.runs.RunSpec`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from scipy import ndimage
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryF1Score, BinaryJaccardIndex

from . import engine
from .data.augment import SegmentAugment
from .data.cache import tensor_identity
from .data.loaders import tensor_loader
from .data import moon
from .data.moon import MoonData, Split
from .device import Runtime
from .engine import FitState, TrainConfig, fit, seed_everything
from .freeze import UnfreezeAt, set_trainable
from .models import UNet, create_model
from .notebook import Session
from .paths import Paths
from .plots import LivePlot
from .progress import progress, write
from .runlog import FINISHED, DataRecord, RunInfo, RunLog, load_weights, read_jsonl, write_json
from .runs import RunSpec, run_id


@dataclass
class SegRecipe:
    """The shared training recipe of the segmentation runs in one profile."""

    epochs: int
    batch_size: int = 16
    lr: float = 2e-3                 # AdamW, one-cycle
    weight_decay: float = 1e-4
    # chosen by LOSS_PROBES: plain BCE + Dice, equal weights
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    pos_weight: float = 1.0          # BCE weight of rock pixels
    patience: int | None = None
    max_steps_per_epoch: int | None = None


# How the loss weighting was chosen (an earlier round's probe, kept as data: UNetBackbone A with the previous
# classifier, frozen, 8 epochs, stand-in version 1 with 1,000 pairs, seed 0; best val IoU).
LOSS_PROBES = (
    {"потери": "BCE + Dice (веса 1 и 1)", "val IoU": 0.465},
    {"потери": "BCE + Dice, пиксели камня в BCE с весом 3", "val IoU": 0.452},
    {"потери": "только BCE", "val IoU": 0.417},
)
LOSS_PROBE_SETUP = ("UNetBackbone A (энкодер — предыдущий Classifier128, заморожен), 8 эпох, сгенерированная замена "
                    "версии 1 (1 000 пар), сид 0; лучший val IoU")

RECIPES = {
    # measured on the 2-core AMD family 26 (800 training pairs, with validation): UNetBase ≈ 25 s per epoch
    # (24 epochs ≈ 10 min); the backbone U-Nets 24 s (encoder frozen) to 33 s (encoder trained), 10–13 min
    "cpu": SegRecipe(epochs=24, patience=8),
    "gpu": SegRecipe(epochs=80, batch_size=32, patience=20),
    "smoke": SegRecipe(epochs=2, batch_size=4, max_steps_per_epoch=2),
}


RECIPE_LABELS = {
    "epochs": "эпох",
    "batch_size": "размер батча",
    "lr": "пиковый шаг обучения (AdamW, one-cycle)",
    "weight_decay": "weight decay",
    "bce_weight": "вес BCE в функции потерь",
    "dice_weight": "вес Dice в функции потерь",
    "pos_weight": "вес пикселей камня в BCE",
    "patience": "ранняя остановка: эпох без улучшения val IoU",
    "max_steps_per_epoch": "батчей в эпохе (— = все)",
}


def recipe_table(recipe: SegRecipe, spec: RunSpec | None = None):
    """The recipe as a two-column table with Russian labels; with ``spec``, also what the run does with a
    pretrained encoder (only for runs that have one)."""
    import pandas as pd

    values = {k: "—" if v is None else str(v) for k, v in asdict(recipe).items()}
    rows = {label: values[k] for k, label in RECIPE_LABELS.items()}
    if spec is not None and spec.encoder_from is not None:
        unfreeze = spec.unfreeze_epoch(recipe.epochs)
        rows["энкодер"] = "предобученный (Classifier128)" if spec.init == "pretrained" else "случайная инициализация"
        rows["энкодер заморожен"] = ("нет" if not spec.frozen else "весь запуск" if unfreeze is None
                                     else f"эпохи 1–{unfreeze - 1}, с эпохи {unfreeze} обучается")
        if unfreeze is not None or not spec.frozen:
            rows["шаг обучения энкодера"] = f"× {spec.encoder_lr_scale:g} от общего"
    return pd.DataFrame({"значение": list(rows.values())}, index=pd.Index(list(rows), name="параметр"))


def training_line(state: FitState, paths: Paths) -> str:
    """One line after training, with the time from the run's summary.json (the number every table shows)."""
    summary = RunLog(paths.run_dir(state.cfg.run)).summary()
    best = summary["best"]
    return (f"{state.cfg.run}: {state.status}; best epoch {state.best_epoch} of {summary['epochs_run']} "
            f"(val IoU {best['val_iou']:.3f}); training with validation {summary['wall_time_s'] / 60:.1f} min")


def recipe_for(spec: RunSpec, profile: str) -> SegRecipe:
    """The profile's recipe with the run's overrides."""
    return replace(RECIPES[profile], **spec.recipe_overrides)


class BCEDiceLoss(nn.Module):
    """``bce_weight`` · BCE-with-logits (rock pixels weighted by ``pos_weight``) + ``dice_weight`` · (1 − soft Dice).

    The soft Dice is computed over the whole batch, so images without rocks do not produce 0/0.
    """

    def __init__(self, bce_weight: float = 1.0, dice_weight: float = 1.0, pos_weight: float = 1.0):
        super().__init__()
        self.bce_weight, self.dice_weight, self.pos_weight = bce_weight, dice_weight, pos_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.float(), target.float()
        bce = F.binary_cross_entropy_with_logits(
            logits, target, pos_weight=torch.tensor(self.pos_weight, device=logits.device))
        p = torch.sigmoid(logits)
        dice = (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        return self.bce_weight * bce + self.dice_weight * (1 - dice)


def segmentation_metrics(threshold: float = 0.5) -> MetricCollection:
    """IoU (Jaccard), Dice (= F1) and pixel accuracy of the rock class, accumulated over all pixels."""
    return MetricCollection({"iou": BinaryJaccardIndex(threshold=threshold),
                             "dice": BinaryF1Score(threshold=threshold),
                             "pixel_acc": BinaryAccuracy(threshold=threshold)})


def build_model(spec: RunSpec, paths: Paths, seed: int | None = None) -> UNet:
    """The model of a run, as its spec says: a backbone U-Net takes Classifier128's architecture from the
    checkpoint of ``spec.encoder_from`` (and its weights when ``init == "pretrained"``), frozen if ``frozen``.
    With ``seed``, the random initialisation is seeded first (a run's seed k starts from the same weights
    whatever was built before it)."""
    if seed is not None:
        seed_everything(seed)
    if spec.encoder_from is None:
        return create_model(spec.model, **spec.model_args)
    ckpt = load_weights(paths.weights(spec.encoder_from))
    model = create_model(spec.model, classifier_config=ckpt["config"], **spec.model_args)
    if spec.init == "pretrained":
        load_backbone(model, ckpt["state_dict"])
    if spec.frozen:
        set_trainable(model.backbone, False)
    return model


def load_backbone(model: UNet, classifier_state: dict) -> None:
    """Copy Classifier128's weights (without its FC head) into the U-Net's backbone, strictly."""
    state = {k: v for k, v in classifier_state.items() if not k.startswith("fc.")}
    model.backbone.load_state_dict(state, strict=True)


def train(spec: RunSpec, model: UNet, data: MoonData, split: Split, recipe: SegRecipe, session: Session,
          resume: bool = True, live: bool = True, seed: int | None = None, callbacks: tuple = ()) -> FitState:
    """Train one run with one seed (default: the session's) on the split; logs in runs/<id>/ (with
    split.json), best epoch in weights/<id>.pt, where id is :func:`~tinyseg.runs.run_id`. At the end
    the best epoch's per-image overlaps on the validation pairs and on the real check set are
    written to runs/<id>/overlaps.json (see :func:`record_overlaps`)."""
    paths = session.paths
    seed = session.seed if seed is None else seed
    run = run_id(spec.name, seed)
    train_idx, val_idx = split.indices(data)
    if len(train_idx) < recipe.batch_size:
        raise ValueError(f"{spec.name}: {len(train_idx)} training pairs are fewer than one batch ({recipe.batch_size}) "
                         f"of {data.where}; use more pairs or a smaller batch_size")
    split.save(paths.run_dir(run) / "split.json")
    unfreeze = spec.unfreeze_epoch(recipe.epochs)
    cfg = TrainConfig(run=run, epochs=recipe.epochs, lr=recipe.lr, optimizer="adamw", momentum=0.9,
                      weight_decay=recipe.weight_decay, schedule="onecycle", warmup=0.2,
                      lr_scales={"encoder.backbone.": spec.encoder_lr_scale} if spec.encoder_lr_scale != 1 else {},
                      monitor="val_iou", mode="max", patience=recipe.patience,
                      max_steps_per_epoch=recipe.max_steps_per_epoch, seed=seed)
    callbacks = list(callbacks) + ([UnfreezeAt(model.backbone, unfreeze, verbose=live)] if unfreeze is not None else [])
    if live:
        callbacks.append(LivePlot(["loss", "iou", "dice", "pixel_acc"], title=spec.title))
    train_x, train_y, val_x, val_y = data.images[train_idx], data.masks[train_idx], data.images[val_idx], data.masks[val_idx]
    state = fit(model,
               tensor_loader(train_x, train_y, batch_size=recipe.batch_size, shuffle=True, drop_last=True),
               tensor_loader(val_x, val_y, batch_size=32, shuffle=False),
               cfg=cfg, loss_fn=BCEDiceLoss(recipe.bce_weight, recipe.dice_weight, recipe.pos_weight),
               metrics=segmentation_metrics(), to_preds=torch.sigmoid,
               train_transform=SegmentAugment(train=True), val_transform=SegmentAugment(train=False),
               runtime=session.runtime, paths=paths, callbacks=callbacks, resume=resume, verbose=live,
               info=RunInfo(session.profile, seed,
                            DataRecord.of(data.source, paths, len(train_idx), len(val_idx),
                                          tensor_identity(train_x, train_y, val_x, val_y)),
                            asdict(recipe), spec.training(recipe.epochs)))
    if state.status in FINISHED and not (paths.run_dir(run) / OVERLAPS).exists():
        record_overlaps(run, model, data, val_idx, session)
    return state


def train_seeds(spec: RunSpec, data: MoonData, split: Split, recipe: SegRecipe, session: Session) -> list[str]:
    """The run's other seeds (all of ``range(spec.seeds)`` except the session's), one after another,
    quietly: one progress bar over their epochs and one line per seed. Each is a run of its own
    (:func:`train`, logged under :func:`~tinyseg.runs.run_id`). A finished seed is reused from its logs
    (its weights are working files, not committed); an interrupted one resumes; Ctrl-C stops the loop.
    Returns the run ids."""
    seeds = [s for s in range(spec.seeds) if s != session.seed]
    ids = []
    with progress(total=len(seeds) * recipe.epochs, desc=f"{spec.short}: seeds {seeds}") as bar:
        for i, seed in enumerate(seeds):
            run = run_id(spec.name, seed)
            log = RunLog(session.paths.run_dir(run))
            if not (log.is_finished() and (log.dir / OVERLAPS).exists()):
                state = train(spec, build_model(spec, session.paths, seed=seed), data, split, recipe, session,
                              live=False, seed=seed, callbacks=[_Advance(bar)])
                if state.status not in FINISHED:
                    write(f"{run}: {state.status} after epoch {state.epoch}; run the cell again to resume")
                    break
            bar.update((i + 1) * recipe.epochs - bar.n)  # early stop, or a finished run reused
            s = log.summary()
            write(f"{run}: {s['status']}, best epoch {s['best_epoch']} of {s['epochs_run']}, val IoU "
                  f"{s['best']['val_iou']:.3f}, {s['wall_time_s'] / 60:.1f} min")
            ids.append(run)
    return ids


class _Advance:
    """Engine callback: one step of ``bar`` per finished epoch."""

    def __init__(self, bar):
        self.bar = bar

    def on_epoch_end(self, state, record) -> None:
        self.bar.update(1)


OVERLAPS = "overlaps.json"


def record_overlaps(run: str, model: nn.Module, data: MoonData, val_idx: torch.Tensor, session: Session) -> dict:
    """Per-image rock-pixel intersection and union of the model (threshold 0.5) on the validation pairs
    and, when it is present, on the real check set → ``runs/<run>/overlaps.json``. The report's paired
    confidence intervals are computed from these counts, so they need no weights (other seeds' are not kept)."""
    sets = {"val": (data.images[val_idx], data.masks[val_idx], [data.numbers[i] for i in val_idx.tolist()])}
    source = moon.locate_check(session.paths)
    if source is not None:
        check = moon.load(source, session.paths)
        sets["check"] = (check.images, check.masks, list(check.numbers))
    out = {}
    for name, (images, masks, numbers) in sets.items():
        inter, union = overlap_counts(predict(model, images, session.runtime) >= 0.5, masks)
        out[name] = {"pairs": numbers, "intersection": inter.astype(int).tolist(), "union": union.astype(int).tolist()}
    write_json(session.paths.run_dir(run) / OVERLAPS, out)
    return out


def predict(model: nn.Module, images: torch.Tensor, runtime: Runtime, batch_size: int = 32) -> torch.Tensor:
    """Rock probabilities (float32, CPU) N×1×H×W for uint8 images N×3×H×W."""
    to_input = SegmentAugment(train=False)
    return engine.predict(model, images, runtime=runtime, activation=torch.sigmoid, batch_size=batch_size,
                          transform=lambda x: to_input(x, torch.zeros(1, 1, 1, 1))[0])


def overlap_counts(pred: torch.Tensor, truth: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per image: rock pixels in both masks (intersection) and in either (union); N×1×H×W boolean masks,
    or one H×W / 1×H×W mask → arrays of one. Summed over images they give the whole-set IoU."""
    pred, truth = pred.bool(), truth.bool()
    while pred.ndim < 4:
        pred, truth = pred.unsqueeze(0), truth.unsqueeze(0)
    inter = (pred & truth).sum(dim=(1, 2, 3)).double()
    union = (pred | truth).sum(dim=(1, 2, 3)).double()
    return inter.numpy(), union.numpy()


def per_image_iou(pred: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    """IoU of each image (N×1×H×W boolean masks, or one H×W / 1×H×W mask → an array of one).

    Rule for empty masks: an image with no rock in the prediction *and* the truth is a perfect
    answer, IoU 1; rock in only one of them gives IoU 0.
    """
    inter, union = overlap_counts(pred, truth)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def evaluate_masks(probs: torch.Tensor, masks: torch.Tensor, threshold: float = 0.5) -> dict:
    """Whole-set metrics (accumulated over all pixels) and the per-image IoU distribution."""
    metrics = {k: float(v) for k, v in segmentation_metrics(threshold)(probs, masks.long()).items()}
    metrics["background_share"] = float(1 - masks.bool().float().mean())  # pixel accuracy of "no rock anywhere"
    return {"metrics": metrics, "per_image_iou": per_image_iou(probs >= threshold, masks)}


# rock sizes (pixels at 128×128) for the object-level view; the real check set's rocks have a median of 11 px
ROCK_SIZES = ((1, 10), (10, 50), (50, 200), (200, 128 * 128 + 1))


def rock_recall(pred: torch.Tensor, truth: torch.Tensor, min_found: float = 0.5) -> list[dict]:
    """Object-level recall by rock size: the share of ground-truth rocks (connected components of the
    N×1×H×W masks) with at least ``min_found`` of their pixels predicted as rock.

    Unlike IoU it does not charge a model for rocks the ground truth leaves out (the real check set's
    cleaned masks mark larger rocks only), so it reads the same on cleaned and full masks.
    """
    sizes, found = [], []
    for p, t in zip(pred.bool().numpy(), truth.bool().numpy()):
        labels, n = ndimage.label(t[0])
        if n == 0:
            continue
        ids = np.arange(1, n + 1)
        size = ndimage.sum_labels(np.ones_like(labels), labels, ids)
        hit = ndimage.sum_labels(p[0], labels, ids)
        sizes.append(size)
        found.append(hit / size >= min_found)
    sizes = np.concatenate(sizes) if sizes else np.zeros(0)
    found = np.concatenate(found) if found else np.zeros(0, bool)
    rows = []
    for lo, hi in ROCK_SIZES:
        sel = (sizes >= lo) & (sizes < hi)
        rows.append({"size": f"{lo}–{hi - 1} px" if hi <= 128 * 128 else f"≥ {lo} px", "rocks": int(sel.sum()),
                     "found": float(found[sel].mean()) if sel.any() else float("nan")})
    return rows


def evaluate_models(models: dict[str, nn.Module], images: torch.Tensor, masks: torch.Tensor, runtime: Runtime,
                    threshold: float = 0.5) -> dict[str, dict]:
    """Every model on the same images at the same threshold: whole-set metrics, per-image IoU, rock
    recall by size, and the probabilities (for figures)."""
    out = {}
    for name, model in models.items():
        probs = predict(model, images, runtime)
        ev = evaluate_masks(probs, masks, threshold)
        ev["rock_recall"] = rock_recall(probs >= threshold, masks)
        ev["probs"] = probs
        out[name] = ev
    return out


PROBES = "docs/seg_probes.jsonl"  # written by tools/seg_probe.py, relative to the repository

PROBE_NOTES = {  # the probe log's notes (English) as the table shows them
    "timing overlapped a smoke test run on the same 2 cores: minutes too high":
        "время завышено: шло параллельно с тестом",
}
PROBE_LABELS = {  # what each probe changed, in words (tools/seg_probe.py names)
    "input_scale": "вход энкодера ×{}", "stem_channels": "лёгкий стем {} каналов",
    "encoder_lr_scale": "шаг энкодера × {}", "unfreeze_at": "разморозка после доли эпох {}",
}


def load_probes(paths: Paths) -> list[dict]:
    """The integration probes (one dict per line of :data:`PROBES`); empty when the file is absent."""
    return read_jsonl(paths.root / PROBES)


def probe_table(probes: list[dict]):
    """The integration probes as a table: the run they vary, what changed, budget, best val IoU."""
    import pandas as pd

    rows = []
    for p in probes:
        changes = {**p["changes"].get("model_args", {}), **{k: v for k, v in p["changes"].items() if k != "model_args"}}
        rows.append({"проба": p["name"], "запуск-основа": p["run"],
                     "изменение": "; ".join(PROBE_LABELS.get(k, k + " {}").format(v) for k, v in changes.items())
                     or "— (как в таблице запусков до проб)",
                     "эпоха разморозки": p["unfreeze_epoch"] or "—", "шаг энкодера": p["encoder_lr_scale"],
                     "параметров": f"{p['params']:,}", "эпох": p["epochs"], "минут": p["minutes"],
                     "лучший val IoU": p["val_iou"], "эпоха лучшего": p["best_epoch"],
                     "примечание": PROBE_NOTES.get(p.get("note"), p.get("note") or "")})
    return (pd.DataFrame(rows).set_index("проба").style
            .format({"минут": "{:.1f}", "лучший val IoU": "{:.3f}", "шаг энкодера": "{:g}"}))


def probe_summary(probes: list[dict], chosen: RunSpec, tie: float = 0.01) -> str:
    """What the integration probes say, in a few sentences (Markdown, Russian) built from the probe log: the
    previous design, the best probe and the probe of the design the run table gives ``chosen``. Probes within
    ``tie`` IoU of the best count as equal (one seed, a short budget), and the simplest of them is chosen."""
    trials = [p for p in probes if p["run"] == chosen.name]
    if not trials:
        return "Проб для этого запуска в журнале нет."
    first, best = trials[0], max(trials, key=lambda p: p["val_iou"])
    mine = next((p for p in trials if p["model_args"] == chosen.model_args
                 and p["encoder_lr_scale"] == chosen.encoder_lr_scale
                 and p["unfreeze_epoch"] == chosen.unfreeze_epoch(p["epochs"])), None)
    text = (f"Прежний способ встраивания («{first['name']}») дал IoU {first['val_iou']:.3f} за {first['minutes']:.1f} "
            f"мин, лучшая проба «{best['name']}» — {best['val_iou']:.3f} за {best['minutes']:.1f} мин.")
    reference = [p for p in probes if p["run"] != chosen.name]
    if reference:
        text += " При том же бюджете " + ", ".join(
            f"{r['run']} — {r['val_iou']:.3f} за {r['minutes']:.1f} мин" for r in reference) + "."
    if mine is None:
        return text + f" Способ, записанный для {chosen.short} в таблице запусков, пробами не измерялся."
    if mine is best:
        return text + f" {chosen.short} в таблице запусков использует этот способ («{mine['name']}»)."
    gap = best["val_iou"] - mine["val_iou"]
    verdict = (f"отстаёт от лучшей на {gap:.3f} IoU — меньше принятого порога {tie:.2f} для одного сида и короткого "
               f"бюджета, то есть считается равным ей, а из равных выбирается более простой и быстрый"
               if gap < tie else f"отстаёт от лучшей на {gap:.3f} IoU")
    return text + f" {chosen.short} в таблице запусков использует способ пробы «{mine['name']}» (IoU {mine['val_iou']:.3f}): она {verdict}."
