"""The gpu profile has never run on these CPU machines: every run of the table is trained here for two
one-step epochs with the gpu profile's recipes, through the same code path (task functions, loaders,
schedule, batch sizes 256 and 32, the classifier's resolution change, the encoder's unfreezing, checkpoint
and logs) with the GradScaler branch a GPU without bf16 takes enabled. fp16 autocast itself runs on the
CPU too, but about 3x slower than bf16 here, so full-size models go through it in bf16 with the scaler on,
and the fp16 autocast + scaler branch is trained end to end on a small model (the last test).

What only a GPU can show (not tested here): CUDA kernels and their memory at batch 256 (classifier) and
32 (U-Nets), non_blocking host-to-device copies, the CUDA RNG state in last.pt, bf16 on GPUs that have
it, and the speed behind the gpu recipes' epoch counts.
"""

from dataclasses import dataclass, replace

import pytest
import torch

from tinyseg import classify, runs, segment
from tinyseg.data import moon
from tinyseg.data import tiny_imagenet as ti
from tinyseg.data.fixtures import write_moon_layout, write_tiny_imagenet
from tinyseg.device import Runtime
from tinyseg.paths import get_paths
from tinyseg.recipes import RECIPES, recipe_for
from tinyseg.runlog import RunLog, load_weights
from tinyseg.session import Session


@dataclass(frozen=True)
class ScaledRuntime(Runtime):
    """The CPU runtime with the GradScaler branch of fp16 GPUs switched on."""

    @property
    def needs_grad_scaler(self) -> bool:
        return True


SCALED_BF16 = ScaledRuntime(torch.device("cpu"), "bf16", channels_last=True)


@pytest.fixture
def gpu_recipes_cut_short(monkeypatch):
    """The gpu recipes as they are (batch sizes, optimizer, schedule, augmentation...), with 2 epochs of
    1 step; the classifier's resolution schedule is moved to those 2 epochs."""
    for task, recipes in RECIPES.items():
        schedule = {"resolutions": ((1, 64), (2, 128))} if task == "classification" else {}
        monkeypatch.setitem(recipes, "gpu", replace(recipes["gpu"], epochs=2, max_steps_per_epoch=1, **schedule))
    monkeypatch.setitem(ti.EXPECTED, "gpu", None)  # a fixture, not the official counts


def test_the_gpu_recipes_are_the_ones_written_down():
    cls, seg = RECIPES["classification"]["gpu"], RECIPES["segmentation"]["gpu"]
    assert (cls.epochs, cls.batch_size, cls.lr) == (80, 256, 0.4)
    assert (seg.epochs, seg.batch_size, seg.patience) == (80, 32, 20)
    finetune = recipe_for(runs.get("unet_backbone_finetune"), "gpu")
    assert finetune.unfreeze_epoch == runs.get("unet_backbone_finetune").unfreeze_epoch(80)


def test_every_run_trains_with_the_gpu_recipes_and_a_grad_scaler(tmp_path, gpu_recipes_cut_short):
    batch = RECIPES["classification"]["gpu"].batch_size
    source = write_tiny_imagenet(tmp_path / "src", classes=4, train_per_class=batch // 4 + 2, val_per_class=4)
    moon_root = write_moon_layout(tmp_path / "moon", n=48, seed=3)
    paths = get_paths(
        env={"TINY_IMAGENET": str(source), "MOON_ROOT": str(moon_root), "MOON_CHECK_ROOT": str(tmp_path / "none")},
        root=tmp_path,
    )
    session = Session("gpu", 0, SCALED_BF16, paths)
    images = classify.load_data(session)
    spec = runs.get(runs.CLASSIFIER)
    state = classify.train(spec, classify.build_model(spec, session, images), images, session, live=False)
    assert state.status == "completed" and [r["size"] for r in state.history] == [64, 128]
    pairs = moon.load(moon.locate(paths, profile="gpu"), paths)
    data = segment.SegmentData(pairs, moon.make_split(pairs))
    assert len(data.train_idx) >= RECIPES["segmentation"]["gpu"].batch_size
    for spec in runs.of_task("segmentation"):
        state = segment.train(spec, segment.build_model(spec, session, data, seed=0), data, session, live=False)
        assert state.status == "completed", spec.name
    for spec in runs.RUNS.values():
        log = RunLog(paths.run_dir(spec.name))
        config, summary = log.config(), log.summary()
        assert summary.profile == "gpu" and summary.epochs_run == 2, spec.name
        assert config.batch_size == recipe_for(spec, "gpu").batch_size and config.steps_per_epoch == 1
        assert config.signature["recipe"] == recipe_for(spec, "gpu").as_dict()
        assert load_weights(paths.weights(spec.name))["state_dict"]
        assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in log.metrics()), spec.name


def test_fp16_autocast_with_a_grad_scaler_trains(tmp_path):
    """The fp16 branch (autocast float16 + GradScaler), end to end through fit on a small U-Net."""
    from tinyseg.engine import Objective, fit
    from tinyseg.metrics import segmentation_metrics
    from tinyseg.models import create_model

    fp16 = Runtime(torch.device("cpu"), "fp16", channels_last=False)
    assert fp16.needs_grad_scaler
    torch.manual_seed(0)
    model = create_model("UNetBase", channels=(8, 8, 16, 16, 16))
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    y = (x[:, :1] > 128).long()
    loader = [(x[:4], y[:4]), (x[4:], y[4:])]
    recipe = RECIPES["segmentation"]["gpu"]
    objective = Objective(
        segment.BCEDiceLoss(),
        segmentation_metrics(),
        to_preds=segment._rock_from_logits,
        train_transform=replace(recipe.augment, train=True, size=32),
        val_transform=replace(recipe.augment, train=False, size=32),
    )
    cfg = replace(recipe, epochs=2).train_config("fp16", seed=0)
    state = fit(
        model,
        loader,
        loader,
        cfg=cfg,
        objective=objective,
        runtime=fp16,
        paths=get_paths(env={}, root=tmp_path),
        verbose=False,
    )
    assert state.status == "completed"
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in state.history)
    assert RunLog(get_paths(env={}, root=tmp_path).run_dir("fp16")).summary().precision == "fp16"
