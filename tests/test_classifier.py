"""Classifier128, the batched augmentation and a smoke training run of part 1."""

import pytest
import torch
import torch.nn.functional as F

from tinyseg import classify, runlog
from tinyseg import tiny_imagenet as ti
from tinyseg.augment import ClassifyAugment, denormalize, normalize, random_affine, resize, warp
from tinyseg.device import select_runtime
from tinyseg.fixtures import write_tiny_imagenet
from tinyseg.models import Classifier128, build_model, count_macs
from tinyseg.paths import get_paths


def test_parameter_bound_and_cost():
    model = Classifier128()
    total = sum(p.numel() for p in model.parameters())
    assert total <= 5_000_000, total
    assert total > 3_000_000  # not a toy either
    assert 0.3e9 < count_macs(model) < 0.6e9
    assert sum(row["params"] for row in model.stage_table()) == total


def test_forward_features_shapes_and_strides():
    model = Classifier128().eval()
    x = torch.randn(2, 3, 128, 128)
    features = model.forward_features(x)
    assert len(features) == len(model.feature_channels) == len(model.feature_strides)
    for f, c, s in zip(features, model.feature_channels, model.feature_strides):
        assert f.shape == (2, c, 128 // s, 128 // s)
    assert model.feature_strides == (2, 4, 8, 16, 32)
    logits = model.forward_head(features[-1])
    assert logits.shape == (2, 200)
    assert torch.allclose(logits, model(x))


def test_rebuild_from_checkpoint_config():
    model = Classifier128(num_classes=10, widths=(8, 16, 24, 32), depths=(1, 1, 1, 1), stem=(4, 8))
    clone = build_model(model.config)
    clone.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 128, 128)
    assert torch.equal(clone.eval()(x), model.eval()(x))


def test_augmentation_shapes_dtypes_and_ranges():
    x = torch.randint(0, 256, (6, 3, 64, 64), dtype=torch.uint8)
    y = torch.arange(6)
    for train in (True, False):
        out, labels = ClassifyAugment(train=train)(x, y)
        assert out.shape == (6, 3, 128, 128) and out.dtype == torch.float32
        assert torch.equal(labels, y)
        img = denormalize(out)
        assert img.min() >= 0 and img.max() <= 1
    aug = ClassifyAugment(train=True, size=64)
    assert aug(x, y)[0].shape == (6, 3, 64, 64)


def test_validation_transform_is_a_plain_bilinear_upscale():
    x = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    out, _ = ClassifyAugment(train=False)(x, None)
    expected = normalize(F.interpolate(x.float() / 255, size=128, mode="bilinear", align_corners=False))
    assert torch.allclose(out, expected, atol=1e-5)
    # the identity warp is the same resampling, so training and validation see the same geometry
    identity = random_affine(3)
    assert torch.allclose(warp(x.float() / 255, identity, 128), resize(x.float() / 255, 128), atol=1e-5)


def test_flip_and_crop_geometry():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, :, :4] = 1  # left half bright
    flipped = warp(x, random_affine(64, flip=True, generator=torch.Generator().manual_seed(0)), 8)
    left = flipped[:, 0, :, :4].mean((1, 2))
    assert set(left.round().tolist()) == {0.0, 1.0}  # some mirrored, some not
    crops = warp(x, random_affine(64, scale=(0.2, 0.2), generator=torch.Generator().manual_seed(1)), 8)
    assert crops.min() >= 0 and crops.max() <= 1 and crops.std() > 0


def test_progressive_resize_schedule():
    aug = ClassifyAugment(train=True)
    resize_cb = classify.ProgressiveResize(aug, ((1, 64), (9, 96), (11, 128)))
    assert [resize_cb.size_at(e) for e in (1, 8, 9, 10, 11, 12)] == [64, 64, 96, 96, 128, 128]


def test_smoke_training_run(tmp_path):
    source = write_tiny_imagenet(tmp_path / "src", classes=5, train_per_class=12, val_per_class=4)
    paths = get_paths(env={"TINY_IMAGENET": str(source)}, root=tmp_path)
    data = ti.load(paths, expected=None)
    recipe = classify.PROFILES["smoke"]
    model = classify.build_model(data, recipe)
    runtime = select_runtime("cpu", verbose=False)
    state = classify.train(model, data, recipe, runtime, paths, info={"profile": "smoke"}, live=False)
    assert state.status == "completed" and len(state.history) == recipe.epochs
    log = runlog.RunLog(paths.run_dir("classifier"))
    assert log.summary()["data_source"] == str(source) and log.summary()["profile"] == "smoke"
    assert log.config()["recipe"]["epochs"] == recipe.epochs  # the recipe is recorded with the run
    ckpt = runlog.load_weights(paths.weights("classifier"))
    assert ckpt["config"]["name"] == "Classifier128" and ckpt["config"]["num_classes"] == 5
    logits = classify.predict(model, data.val_x, runtime)
    ev = classify.evaluate_classifier(logits, data.val_y, data.names)
    assert set(ev.metrics) == {"top1", "top5", "macro_f1"}
    assert ev.metrics["top1"] == pytest.approx(float((logits.argmax(1) == data.val_y).float().mean()))
    assert ev.confusion.sum() == len(data.val_y)
    assert len(ev.class_table(3)) == 3 and len(ev.confused_pairs(3)) == 3
