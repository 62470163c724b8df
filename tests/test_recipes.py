"""The recipe is the whole run: TrainConfig and the run signature come from it, and a resume or reuse
with any changed setting is refused with the field named."""

from dataclasses import replace

import pytest
from run_logs import train_segmentation

from tinyseg import runs, segment
from tinyseg.callbacks import Callback
from tinyseg.checkpoint import RunMismatchError, signature_diff
from tinyseg.data.fixtures import write_moon_layout
from tinyseg.device import select_runtime
from tinyseg.paths import get_paths, project_root
from tinyseg.recipes import RECIPES, ClassifyRecipe, SegmentRecipe, recipe_for, signature
from tinyseg.runlog import RunLog, file_sha256
from tinyseg.session import Session


@pytest.mark.parametrize("spec", list(runs.RUNS.values()), ids=lambda s: s.name)
@pytest.mark.parametrize("profile", ["cpu", "gpu", "smoke"])
def test_every_run_has_a_recipe_and_its_train_config_comes_from_it(spec, profile):
    recipe = recipe_for(spec, profile)
    cfg = recipe.train_config(spec.name, seed=3)
    assert (cfg.epochs, cfg.lr, cfg.weight_decay, cfg.warmup, cfg.seed) == (
        recipe.epochs,
        recipe.lr,
        recipe.weight_decay,
        recipe.warmup,
        3,
    )
    assert cfg.optimizer == recipe.optimizer and cfg.monitor == recipe.monitor and cfg.mode == "max"
    if isinstance(recipe, SegmentRecipe):
        assert recipe.unfreeze_epoch == spec.unfreeze_epoch(recipe.epochs)
        assert recipe.encoder_lr_scale == spec.encoder_lr_scale
        assert cfg.lr_scales == ({"encoder.backbone.": spec.encoder_lr_scale} if spec.encoder_lr_scale != 1 else {})
    else:
        assert isinstance(recipe, ClassifyRecipe)
        assert cfg.monitor_from == sorted(recipe.resolutions)[-1][0]


def test_overrides_are_checked_and_may_change_one_augmentation_field():
    spec = replace(runs.get("unet_base"), recipe_overrides={"augment": {"noise": 0.1}, "bce_weight": 2.0})
    recipe = recipe_for(spec, "cpu")
    assert recipe.augment.noise == 0.1 and recipe.augment.rotate == RECIPES["segmentation"]["cpu"].augment.rotate
    assert recipe.bce_weight == 2.0
    with pytest.raises(ValueError, match=r"recipe_overrides names no field of SegmentRecipe: \['crop'\]"):
        recipe_for(replace(spec, recipe_overrides={"crop": 1}), "cpu")
    with pytest.raises(KeyError, match="no segmentation recipe for profile 'tpu'"):
        recipe_for(spec, "tpu")


def test_the_signature_names_every_kind_of_difference():
    recipe = recipe_for(runs.get("unet_backbone_finetune"), "cpu")
    base = signature(recipe, {"name": "UNetBackbone"}, "abc", 0)
    changed = signature(
        replace(recipe, dice_weight=0.5, unfreeze_epoch=3, augment=replace(recipe.augment, scale=(0.5, 1.0))),
        {"name": "UNetBackbone"},
        "abd",
        1,
    )
    diff = signature_diff(base, changed)
    assert "recipe.dice_weight: 1.0 → 0.5" in diff
    assert f"recipe.unfreeze_epoch: {recipe.unfreeze_epoch} → 3" in diff
    assert "recipe.augment.scale: [0.6, 1.0] → [0.5, 1.0]" in diff
    assert "data: 'abc' → 'abd'" in diff and "seed: 0 → 1" in diff
    assert signature_diff(base, {**base, "extra": 1}) == ["extra: '<absent>' → 1"]
    # what the run table says of the encoder, and the encoder checkpoint itself, are part of the run
    frozen = runs.get("unet_backbone_frozen")
    a = signature(recipe, {}, "abc", 0, run=frozen.training(24), encoder_sha256="e1")
    b = signature(recipe, {}, "abc", 0, run=replace(frozen, init="scratch").training(24), encoder_sha256="e2")
    assert signature_diff(a, b) == ["encoder_weights: 'e1' → 'e2'", "run.init: 'pretrained' → 'scratch'"]


class StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, state, record):
        raise KeyboardInterrupt


@pytest.fixture
def smoke_moon(tmp_path):
    root = write_moon_layout(tmp_path / "moon", n=16, seed=1)
    paths = get_paths(env={"MOON_ROOT": str(root), "MOON_CHECK_ROOT": str(tmp_path / "no_check")}, root=tmp_path)
    session = Session("smoke", 0, select_runtime("cpu", verbose=False), paths)
    pairs = segment.moon.load(segment.moon.locate(paths, profile="smoke"), paths)
    return session, segment.SegmentData(pairs, segment.moon.make_split(pairs))


@pytest.mark.parametrize(
    "override, named",
    [
        ({"bce_weight": 2.0}, "recipe.bce_weight: 1.0 → 2.0"),  # a loss weight
        ({"augment": {"noise": 0.1}}, "recipe.augment.noise: 0.03 → 0.1"),  # an augmentation parameter
        ({"lr": 0.01}, "recipe.lr: 0.002 → 0.01"),  # the optimiser
    ],
)
def test_resuming_or_reusing_with_a_changed_recipe_is_refused(smoke_moon, monkeypatch, override, named):
    session, data = smoke_moon
    spec = replace(runs.get("unet_base"), name="resume_probe", seeds=1)
    monkeypatch.setitem(runs.RUNS, spec.name, spec)
    state = train_segmentation(spec, session, data, callbacks=(StopAfterFirstEpoch(),))
    assert state.status == "interrupted" and RunLog(session.paths.run_dir(spec.name)).last_path.exists()
    changed = replace(spec, recipe_overrides=override)
    with pytest.raises(RunMismatchError, match="cannot resume") as error:
        train_segmentation(changed, session, data)
    assert named in str(error.value)
    # the same settings resume and finish; then a changed recipe cannot reuse the finished run either
    assert train_segmentation(spec, session, data).done
    RunLog(session.paths.run_dir(spec.name)).last_path.unlink()  # a fresh clone: logs and weights only
    with pytest.raises(RunMismatchError, match="holds a finished run made differently") as error:
        train_segmentation(changed, session, data)
    assert named in str(error.value)


def test_a_changed_unfreeze_epoch_is_refused(smoke_moon, monkeypatch):
    """The unfreeze epoch comes from the run table into the recipe, and so into the signature."""
    session, data = smoke_moon
    spec = replace(runs.get("unet_base"), name="unfreeze_probe", seeds=1)
    monkeypatch.setitem(runs.RUNS, spec.name, spec)
    train_segmentation(spec, session, data, callbacks=(StopAfterFirstEpoch(),))
    real = segment.recipe_for

    def later_unfreeze(s, profile):
        return replace(real(s, profile), unfreeze_epoch=2)

    monkeypatch.setattr(segment, "recipe_for", later_unfreeze)
    with pytest.raises(RunMismatchError, match=r"recipe\.unfreeze_epoch: None → 2"):
        train_segmentation(spec, session, data)


@pytest.mark.parametrize(
    "run", sorted(p.name for p in (project_root() / "runs").glob("*") if (p / "config.json").is_file())
)
def test_committed_runs_match_todays_recipes(run):
    """Re-executing a notebook over the committed runs reuses them: their logged signature is what
    today's code derives (recipe, model config, seed; the data identity is checked when the data is there)."""
    config = RunLog(project_root() / "runs" / run).config()
    spec = runs.get(run.split("-seed")[0])
    recipe = recipe_for(spec, config.info.profile)
    encoder = file_sha256(project_root() / "weights" / f"{spec.encoder_from}.pt") if spec.encoder_from else ""
    expected = signature(
        recipe,
        config.model,
        config.info.data.identity,
        config.info.seed,
        run=spec.training(recipe.epochs),
        encoder_sha256=encoder,
    )
    assert signature_diff(config.signature, expected) == []
    assert config.train == recipe.train_config(run, config.info.seed)
