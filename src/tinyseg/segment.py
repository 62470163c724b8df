"""Parts 2 and 3: U-Nets for rock segmentation — data, model, training.

The task shape (the same in :mod:`tinyseg.classify`): :data:`RECIPES`, :func:`recipe_for`,
:func:`load_data`, :func:`build_model`, :func:`train` (and :func:`train_seeds` for a run's other
seeds). Every segmentation run uses the same split, loss, metrics and augmentation; what differs
(model, encoder initialisation, freezing, unfreezing, encoder learning rate) comes from the run's
:class:`~tinyseg.runs.RunSpec` through its recipe (:mod:`tinyseg.recipes`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import words
from .callbacks import Callback
from .checkpoint import FinishedRunError, check_signature, seed_everything
from .data import moon
from .data.cache import content_hash
from .data.loaders import tensor_loader
from .data.moon import MoonData, Split
from .engine import FitState, Objective, RunMeta, fit
from .freeze import UnfreezeAt, set_trainable
from .inference import predict
from .metrics import ROCK_SIZES, overlap_counts, rock_counts, rock_mask, segmentation_metrics
from .models import UNet, create_model
from .paths import Paths
from .plots import LivePlot
from .progress import progress, write
from .recipes import RECIPES as _ALL_RECIPES
from .recipes import SegmentRecipe, recipe_for, signature
from .runlog import (
    OVERLAPS,
    DataRecord,
    HeldOutRecord,
    RunInfo,
    RunLog,
    file_sha256,
    load_weights,
    read_overlaps,
    write_json,
)
from .runs import RunSpec, run_id
from .session import Session

RECIPES: dict[str, SegmentRecipe] = _ALL_RECIPES["segmentation"]
__all__ = [
    "RECIPES",
    "recipe_for",
    "load_data",
    "build_model",
    "train",
    "train_seeds",
    "SegmentData",
    "BCEDiceLoss",
    "record_overlaps",
    "overlaps_problem",
    "INCOMPLETE",
    "data_identity",
    "OVERLAPS",
]


@dataclass
class SegmentData:
    """The moon pairs with their fixed split, the test set and the real check set (evaluation only, ``None``
    when absent). The test set is ``held_out``, the separately generated stand-in test set, when the pairs are
    the generated stand-in; for real data it is the test part of the split (``split.test``). Neither is ever
    used for training, early stopping or any choice, and neither is part of :func:`data_identity`."""

    pairs: MoonData
    split: Split
    check: MoonData | None = None
    held_out: MoonData | None = None
    train_idx: torch.Tensor = field(init=False)
    val_idx: torch.Tensor = field(init=False)
    test_idx: torch.Tensor = field(init=False)  # positions in ``pairs`` of the split's test part (real data)

    def __post_init__(self):
        self.train_idx, self.val_idx, self.test_idx = self.split.all_indices(self.pairs)
        if self.held_out is not None and len(self.test_idx):
            raise ValueError("a test set twice: the split has a test part and a separate test set was given")

    @property
    def where(self) -> str:
        return self.pairs.where

    def val(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Validation images (uint8 N×3×128×128) and masks (N×1×128×128)."""
        return self.pairs.images[self.val_idx], self.pairs.masks[self.val_idx]

    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pairs.images[self.train_idx], self.pairs.masks[self.train_idx]

    @property
    def has_test(self) -> bool:
        return self.held_out is not None or len(self.test_idx) > 0

    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Test images and masks (as :meth:`val`): the separate test set, or the split's test part; empty without one."""
        if self.held_out is not None:
            return self.held_out.images, self.held_out.masks
        return self.pairs.images[self.test_idx], self.pairs.masks[self.test_idx]

    def test_numbers(self) -> list[str]:
        if self.held_out is not None:
            return list(self.held_out.numbers)
        return [self.pairs.numbers[i] for i in self.test_idx.tolist()]

    def test_record(self, paths) -> HeldOutRecord | None:
        """Which test set this is (kind, location, pairs, content hash), for the run's data record; None without one."""
        if not self.has_test:
            return None
        source = self.held_out.source if self.held_out is not None else self.pairs.source
        images, masks = self.test()
        return HeldOutRecord(source.kind, paths.relative(source.location), len(images), content_hash(images, masks))


def data_identity(data: SegmentData) -> str:
    """The content hash of the training and validation pairs as split (the ``identity`` of a run's data
    record): the same pairs give the same value wherever they lie and whatever their file dates."""
    (train_x, train_y), (val_x, val_y) = data.train(), data.val()
    return content_hash(train_x, train_y, val_x, val_y)


def load_data(session: Session) -> SegmentData:
    """The moon pairs the profile needs (the real set when found, else the generated stand-in), the fixed
    split (seed 0: every model is trained and validated on the same images; real data: with its test part),
    the stand-in's separately generated test set (:func:`~tinyseg.data.moon.locate_test`) and the real check set."""
    paths = session.paths
    source = moon.locate(paths, profile=session.profile)
    pairs = moon.load(source, paths)
    test_source = moon.locate_test(paths, source, profile=session.profile)
    held_out = moon.load(test_source, paths) if test_source is not None else None
    check_source = moon.locate_check(paths)
    check = moon.load(check_source, paths) if check_source is not None else None
    return SegmentData(pairs, moon.make_split(pairs), check, held_out)


def build_model(spec: RunSpec, session: Session, data: SegmentData | None = None, seed: int | None = None) -> UNet:
    """The model of a run, as its spec says: a backbone U-Net takes Classifier128's architecture from the
    checkpoint of ``spec.encoder_from`` (and its weights when ``init == "pretrained"``), frozen if ``frozen``.
    With ``seed``, the random initialisation is seeded first (a run's seed k starts from the same weights
    whatever was built before it)."""
    if seed is not None:
        seed_everything(seed)
    if spec.encoder_from is None:
        return create_model(spec.model, **spec.model_args)
    # the classifier's weights as its run saved them (the hash its summary records, when it records one)
    encoder_log = RunLog(session.paths.run_dir(spec.encoder_from))
    ckpt = load_weights(session.paths.weights(spec.encoder_from), encoder_log.weights_sha256())
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
            logits, target, pos_weight=torch.tensor(self.pos_weight, device=logits.device)
        )
        p = torch.sigmoid(logits)
        dice = (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        return self.bce_weight * bce + self.dice_weight * (1 - dice)


def train(
    spec: RunSpec,
    model: UNet,
    data: SegmentData,
    session: Session,
    resume: bool = True,
    live: bool = True,
    seed: int | None = None,
    callbacks: tuple = (),
) -> FitState:
    """Train one run with one seed (default: the session's) on the split; logs in runs/<id>/ (with
    split.json), best epoch in weights/<id>.pt, where id is :func:`~tinyseg.runs.run_id`. At the end
    the best epoch's per-image overlaps on the validation pairs and on the real check set are
    written to runs/<id>/overlaps.json (see :func:`record_overlaps`)."""
    paths, recipe = session.paths, recipe_for(spec, session.profile)
    seed = session.seed if seed is None else seed
    run = run_id(spec.name, seed)
    if len(data.train_idx) < recipe.batch_size:
        raise ValueError(
            f"{spec.name}: {len(data.train_idx)} training pairs are fewer than one batch "
            f"({recipe.batch_size}) of {data.where}; use more pairs or a smaller batch_size"
        )
    (train_x, train_y), (val_x, val_y) = data.train(), data.val()
    data_hash = data_identity(data)
    info = RunInfo(
        session.profile,
        seed,
        DataRecord.of(data.pairs.source, paths, len(train_x), len(val_x), data_hash, data.test_record(paths)),
        recipe.as_dict(),
        spec.training(recipe.epochs),
    )
    callbacks = [_SaveSplit(data.split, paths.run_dir(run) / "split.json"), *callbacks]  # written under the run lock
    if recipe.unfreeze_epoch is not None:
        callbacks.append(UnfreezeAt(model.backbone, recipe.unfreeze_epoch, verbose=live))
    if live:
        callbacks.append(LivePlot(["loss", "iou", "dice", "pixel_acc"], title=f"{spec.title}: кривые обучения"))
    objective = Objective(
        BCEDiceLoss(recipe.bce_weight, recipe.dice_weight, recipe.pos_weight),
        segmentation_metrics(),
        to_preds=_rock_from_logits,
        train_transform=replace(recipe.augment, train=True),
        val_transform=replace(recipe.augment, train=False),
    )
    state = fit(
        model,
        tensor_loader(train_x, train_y, batch_size=recipe.batch_size, shuffle=True, drop_last=True),
        tensor_loader(val_x, val_y, batch_size=recipe.val_batch_size, shuffle=False),
        cfg=recipe.train_config(run, seed),
        objective=objective,
        runtime=session.runtime,
        paths=paths,
        callbacks=callbacks,
        resume=resume,
        verbose=live,
        meta=RunMeta(info, run_signature(spec, session, model, data_hash, seed)),
    )
    problem = state.done and overlaps_problem(
        paths.run_dir(run) / OVERLAPS, data.check is not None, data.test_record(paths)
    )
    if problem and not (keep_logs() and problem in INCOMPLETE):
        record_overlaps(run, model, data, session)  # missing, unreadable or incomplete: rebuilt from the best weights
    return state


def train_seeds(spec: RunSpec, data: SegmentData, session: Session, callbacks: tuple = ()) -> list[str]:
    """The run's other seeds (all of ``range(spec.seeds)`` except the session's), one after another,
    quietly: one progress bar over their epochs and one line per seed. Each is a run of its own
    (:func:`train`, logged under :func:`~tinyseg.runs.run_id`); an interrupted one resumes.

    Refused (nothing is trained) while the session's seed is not finished: the training cell comes first.
    A finished seed is reused from its logs (its weights are working files, not committed) only when its
    logged signature is what :func:`train` would use today (else :class:`~tinyseg.checkpoint.RunMismatchError`
    naming the fields) and its ``overlaps.json`` is usable: a missing or unreadable one is rebuilt from
    the seed's weights when they are here (the session's seed too), else the error says how to retrain
    that seed. Ctrl-C writes a line and stops the cell (``KeyboardInterrupt``); the seeds finished so far
    stay. ``callbacks`` go to every seed's training. Returns the run ids of the other seeds."""
    paths = session.paths
    first = RunLog(paths.run_dir(run_id(spec.name, session.seed)))
    summary = first.summary()
    if summary is None or not summary.finished:
        state = (
            "it has not started"
            if summary is None
            else f"{summary.status} after epoch {summary.epochs_run} of {summary.epochs_planned}"
        )
        raise RuntimeError(
            f"{spec.name}: seed {session.seed} is not finished ({paths.relative(first.dir)}: {state}). Run the "
            f"training cell of {spec.notebook} first (segment.train), then this one; no other seed was started."
        )
    epochs = recipe_for(spec, session.profile).epochs
    data_hash = data_identity(data)
    for seed in range(spec.seeds):  # every finished seed first: a mismatch stops the cell before any training
        if RunLog(paths.run_dir(run_id(spec.name, seed))).is_finished():
            _check_finished_seed(spec, seed, data, data_hash, session)
    seeds = [s for s in range(spec.seeds) if s != session.seed]
    ids = []
    with progress(total=len(seeds) * epochs, desc=f"{spec.short}: seeds {seeds}") as bar:
        for i, seed in enumerate(seeds):
            run = run_id(spec.name, seed)
            log = RunLog(paths.run_dir(run))
            if not log.is_finished():
                state = train(
                    spec,
                    build_model(spec, session, data, seed=seed),
                    data,
                    session,
                    live=False,
                    seed=seed,
                    callbacks=[_Advance(bar), *callbacks],
                )
                if not state.done:
                    write(
                        f"{run}: {state.status} after epoch {state.epoch} of {epochs}; the seeds finished "
                        "before it are kept; run the cell again to resume"
                    )
                    if state.status == "interrupted":
                        raise KeyboardInterrupt  # stop the cell (and a Run All) as Ctrl-C anywhere else does
                    raise RuntimeError(f"{run}: training ended {state.status}; see {paths.relative(log.summary_path)}")
            bar.update((i + 1) * epochs - bar.n)  # early stop, or a finished run reused
            s = log.summary()
            write(
                f"{run} (сид {seed}): {words.status(s.status)}, лучшая эпоха {s.best_epoch} из {s.epochs_run} "
                f"(IoU на валидации {s.best.get('val_iou', float('nan')):.3f}); "
                f"{words.trained(s.finished_at, s.device, log.training_minutes())}"
            )
            ids.append(run)
    return ids


def _check_finished_seed(spec: RunSpec, seed: int, data: SegmentData, data_hash: str, session: Session) -> None:
    """A finished seed is reused only when it was made as :func:`train` would make it today (its logged
    signature, field by field) and its per-image counts are usable; missing or unreadable counts are
    rebuilt from the seed's weights when they are here, else the error says what to do."""
    paths, rel, run = session.paths, session.paths.relative, run_id(spec.name, seed)
    log, weights = RunLog(paths.run_dir(run)), paths.weights(run)
    model = build_model(spec, session, data, seed=seed)
    check_signature(
        log.config().signature,
        run_signature(spec, session, model, data_hash, seed),
        f"{rel(log.dir)} holds seed {seed} of {spec.name}, finished but made differently",
        (
            f"Archive the run to train it with the new settings (make run FORCE={spec.notebook[:2]}), "
            "or restore the old settings."
            if seed == 0
            else f"Delete {rel(log.dir)} and run the cell again to retrain seed {seed} with today's settings "
            "(its weights are working files, never committed), or restore the old settings."
        ),
    )
    overlaps = log.overlaps_path
    problem = overlaps_problem(overlaps, data.check is not None, data.test_record(paths))
    if problem is None or (keep_logs() and problem in INCOMPLETE):  # a replay that leaves the logs as they are
        return
    if weights.exists():
        model.load_state_dict(load_weights(weights, log.weights_sha256())["state_dict"])
        record_overlaps(run, model, data, session)
        write(f"{run}: {rel(overlaps)} {problem}; rebuilt from {rel(weights)}")
        return
    if problem in INCOMPLETE:  # the validation counts are there: the report says what is missing
        write(f"{run}: {rel(overlaps)} {problem}, and without {rel(weights)} they cannot be added")
        return
    raise FinishedRunError(
        f"{run} is finished, but {rel(overlaps)} {problem} and its weights {rel(weights)} are not here, so "
        "the per-image counts cannot be rebuilt. "
        + (
            f"Restore {rel(weights)} (git checkout -- {rel(weights)}, or check WEIGHTS_DIR) and run the cell "
            "again: the counts are rebuilt from it."
            if seed == 0
            else f"The weights of seeds other than 0 are working files, never committed: delete {rel(log.dir)} "
            f"and run the cell again to retrain seed {seed}."
        )
    )


KEEP_LOGS = "TINYSEG_KEEP_LOGS"  # "1": finished runs' logs are left exactly as they are (a replay over committed runs)


def keep_logs() -> bool:
    """Whether this process leaves finished runs' logs as they are (``TINYSEG_KEEP_LOGS=1``): counts that an
    ``overlaps.json`` lacks but the report can do without (:data:`INCOMPLETE`: the real check set's per-rock counts,
    the test set's) are then not added from the weights, and the report says what is missing. Set for a replay of
    the notebooks over committed runs, whose outputs must show exactly the committed logs."""
    return os.environ.get(KEEP_LOGS, "") == "1"


NO_CHECK_COUNTS = "has no counts on the real check set"
NO_ROCK_COUNTS = "has no per-rock counts on the real check set"
NO_TEST_COUNTS = "has no counts on the test set"
OTHER_TEST = "has counts on another test set"
# what an overlaps.json may lack and still serve the report (which says what is missing): added from the
# weights when they are here, else said in one line (committed runs made before the test set existed)
INCOMPLETE = (NO_CHECK_COUNTS, NO_ROCK_COUNTS, NO_TEST_COUNTS, OTHER_TEST)


def overlaps_problem(path: Path, with_check: bool = False, test: HeldOutRecord | None = None) -> str | None:
    """Why the ``overlaps.json`` at ``path`` cannot serve the report, as the end of a sentence naming the
    file ("is missing", "cannot be read (...)", ...); None when it can. ``with_check``: the real check set
    is here, so its counts (with the per-rock counts) are expected too; ``test``: the test set that is here,
    whose counts are expected (of that very set: its content hash). The problems in :data:`INCOMPLETE` leave
    the validation counts usable."""
    counts, _, why = read_overlaps(path)
    if counts is None:
        return why
    if "val" not in counts:
        return "has no counts on the validation pairs"
    if with_check and "check" not in counts:
        return NO_CHECK_COUNTS
    if with_check and not all(k in counts["check"] for k in ("rocks", "found")):
        return NO_ROCK_COUNTS
    if test is not None and "test" not in counts:
        return NO_TEST_COUNTS
    if test is not None and (counts["test"].get("data") or {}).get("identity") != test.identity:
        return OTHER_TEST
    return None


def _rock_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """The metrics' input during training: 0/1 rock masks by the project's one rule (metrics.rock_mask)."""
    return rock_mask(torch.sigmoid(logits)).float()


def run_signature(spec: RunSpec, session: Session, model: nn.Module, data_hash: str, seed: int) -> dict:
    """The signature of seed ``seed`` of run ``spec`` as :func:`train` makes it today: the run's recipe, model
    config, run-table entry, the sha256 of the classifier checkpoint a backbone starts from, data, seed."""
    recipe = recipe_for(spec, session.profile)
    encoder = file_sha256(session.paths.weights(spec.encoder_from)) if spec.encoder_from else ""
    return signature(recipe, model.config, data_hash, seed, run=spec.training(recipe.epochs), encoder_sha256=encoder)


class _SaveSplit(Callback):
    """Write the run's split.json when training starts (inside the run's lock, after the checks of fit)."""

    def __init__(self, split: Split, path: Path):
        self.split, self.path = split, path

    def on_fit_start(self, state) -> None:
        self.split.save(self.path)


class _Advance(Callback):
    """One step of ``bar`` per finished epoch."""

    def __init__(self, bar):
        self.bar = bar

    def on_epoch_end(self, state, record) -> None:
        self.bar.update(1)


def link_encoder(paths: Paths, base: Paths, spec: RunSpec) -> None:
    """Let a run logged under other folders (``paths``: a probe's or the budget curve's) find the classifier its
    encoder comes from: links to the project's own run folder and checkpoint in ``base`` (not copies, so the
    checkpoint's sha256 and logs are the committed ones). Nothing for a run without a borrowed encoder."""
    if spec.encoder_from is None:
        return
    for link, target in (
        (paths.run_dir(spec.encoder_from), base.run_dir(spec.encoder_from)),
        (paths.weights(spec.encoder_from), base.weights(spec.encoder_from)),
    ):
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            os.symlink(os.path.relpath(target, link.parent), link)


def record_overlaps(run: str, model: nn.Module, data: SegmentData, session: Session) -> dict:
    """Per-image rock-pixel intersection and union of the model (threshold 0.5), the rock pixels of the mask
    (``truth``) and of the prediction (``predicted``) and the image's ``pixels``, on the validation pairs, on
    the test set (set "test", with the record of which test set it is) and on the real check set, each when
    present → ``runs/<run>/overlaps.json``; on the test and check sets also the ground-truth rocks and the rocks
    found per image and size class (:func:`~tinyseg.metrics.rock_counts`). The report's tables and bootstrap
    intervals are computed from these counts (IoU, Dice, pixel accuracy, the share of background), so they need
    neither the weights (other seeds' are not kept) nor the images."""
    images, masks = data.val()
    sets = {"val": (images, masks, [data.pairs.numbers[i] for i in data.val_idx.tolist()])}
    if data.has_test:
        sets["test"] = (*data.test(), data.test_numbers())
    if data.check is not None:
        sets["check"] = (data.check.images, data.check.masks, list(data.check.numbers))
    out = {}
    for name, (images, masks, numbers) in sets.items():
        pred = rock_mask(predict(model, images, session.runtime, activation=torch.sigmoid))
        inter, union = overlap_counts(pred, masks)
        out[name] = {
            "pairs": numbers,
            "intersection": inter.astype(int).tolist(),
            "union": union.astype(int).tolist(),
            "truth": masks.bool().sum(dim=(1, 2, 3)).tolist(),
            "predicted": pred.bool().sum(dim=(1, 2, 3)).tolist(),
            "pixels": int(masks[0].numel()) if len(masks) else 0,
        }
        if name == "test":
            out[name]["data"] = asdict(data.test_record(session.paths))
        if name in ("test", "check"):
            rocks, found = rock_counts(pred, masks)
            out[name].update(rock_sizes=[list(s) for s in ROCK_SIZES], rocks=rocks.tolist(), found=found.tolist())
    write_json(session.paths.run_dir(run) / OVERLAPS, out)
    return out
