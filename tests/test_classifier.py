"""Classifier128, the batched augmentation and a smoke training run of part 1."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from tinyseg import classify, runlog, runs
from tinyseg.data import tiny_imagenet as ti
from tinyseg.data.augment import (
    ClassifyAugment,
    denormalize,
    normalize,
    random_affine,
    resize,
    warp,
)
from tinyseg.data.fixtures import write_tiny_imagenet
from tinyseg.device import select_runtime
from tinyseg.inference import Predictor, predict
from tinyseg.metrics import evaluate_classifier
from tinyseg.models import PARAM_LIMITS, count_macs, create_model
from tinyseg.paths import get_paths
from tinyseg.session import Session


def test_parameter_bound_and_cost():
    model = create_model("Classifier128")
    total = PARAM_LIMITS["Classifier128"].check(model, "Classifier128")
    assert total > 3_000_000  # not a toy either
    assert 0.3e9 < count_macs(model) < 0.6e9
    assert sum(part["params"] for part in model.parts()) == total


def test_timm_style_feature_interface():
    model = create_model("Classifier128").eval()
    x = torch.randn(2, 3, 128, 128)
    features = model.forward_intermediates(x)
    assert model.feature_info.reduction() == (2, 4, 8, 16, 32)
    for f, info in zip(features, model.feature_info):
        assert f.shape == (2, info["num_chs"], 128 // info["reduction"], 128 // info["reduction"])
    assert torch.equal(model.forward_features(x), features[-1])  # the last map, like timm
    logits = model.forward_head(features[-1])
    assert logits.shape == (2, 200) and torch.allclose(logits, model(x))
    assert model.forward_head(features[-1], pre_logits=True).shape == (2, model.num_features)
    model.reset_classifier(0)  # the encoder use: no FC layer
    assert model(x).shape == (2, model.num_features) and not any(k.startswith("fc.") for k in model.state_dict())
    model.reset_classifier(7)
    assert model(x).shape == (2, 7)


def test_rebuild_from_checkpoint_config():
    model = create_model("Classifier128", num_classes=10, widths=(8, 16, 24, 32), depths=(1, 1, 1, 1), stem=(4, 8))
    assert model.config["dropout"] == 0.0  # defaults are captured too
    config = dict(model.config)
    clone = create_model(config.pop("name"), **config)
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


def test_progressive_resize_schedule_moves_validation_too():
    train_aug, val_aug = ClassifyAugment(train=True), ClassifyAugment(train=False)
    resize_cb = classify.ProgressiveResize(train_aug, val_aug, ((1, 64), (9, 96), (11, 128)))
    assert [resize_cb.size_at(e) for e in (1, 8, 9, 10, 11, 12)] == [64, 64, 96, 96, 128, 128]
    assert train_aug.size == val_aug.size == 64
    recipe = replace(classify.RECIPES["cpu"], resolutions=((1, 64), (9, 96), (11, 128)))
    assert recipe.train_config("r", 0).monitor_from == 11  # only 128-px epochs compete for the best
    state = type("State", (), {"epoch": 9})()
    resize_cb.on_epoch_start(state)
    record = {}
    resize_cb.on_epoch_record(state, record)
    assert train_aug.size == val_aug.size == record["size"] == 96
    with pytest.raises(ValueError, match="end at 128"):
        classify.ProgressiveResize(train_aug, val_aug, ((1, 64), (5, 96)))


def test_smoke_training_run(tmp_path):
    source = write_tiny_imagenet(tmp_path / "src", classes=5, train_per_class=12, val_per_class=4)
    paths = get_paths(env={"TINY_IMAGENET": str(source)}, root=tmp_path)
    runtime = select_runtime("cpu", verbose=False)
    session = Session("smoke", 0, runtime, paths)
    data = classify.load_data(session)  # a small fixture: no official counts
    spec = runs.get(runs.CLASSIFIER)
    recipe = classify.recipe_for(spec, "smoke")
    model = classify.build_model(spec, session, data)
    state = classify.train(spec, model, data, session, live=False)
    assert state.status == "completed" and len(state.history) == recipe.epochs
    log = runlog.RunLog(paths.run_dir(spec.name))
    summary = log.summary()
    identity = summary.data.identity
    assert replace(summary.data, identity="") == runlog.DataRecord(
        "Tiny ImageNet-200", "real", "src/tiny-imagenet-200", 60, 20
    )
    assert len(identity) == 16 and int(identity, 16) >= 0  # a content hash of the tensors: resume checks it
    assert summary.profile == "smoke" and summary.weights == "weights/classifier.pt"
    assert log.config().info.recipe == recipe.as_dict()  # the whole recipe is recorded with the run
    assert log.config().signature["recipe"]["augment"]["jitter"] == recipe.augment.jitter
    history = log.metrics()
    assert [r["size"] for r in history] == [64, 128]  # validation at the size being trained
    assert summary.best_epoch == 2  # only epochs at the final 128 px compete for the best
    ckpt = runlog.load_weights(paths.weights(spec.name))
    assert ckpt["config"]["name"] == "Classifier128" and ckpt["config"]["num_classes"] == 5
    assert ckpt["classes"] == {"wnids": data.wnids, "names": data.names}
    assert ckpt["preprocessing"]["input_size"] == 128 and len(ckpt["preprocessing"]["mean"]) == 3
    logits = predict(model, data.val_x, runtime)
    ev = evaluate_classifier(logits, data.val_y, data.names)
    assert set(ev.metrics) == {"top1", "top5", "macro_f1"}
    assert ev.metrics["top1"] == pytest.approx(float((logits.argmax(1) == data.val_y).float().mean()))
    assert ev.confusion.sum() == len(data.val_y)
    assert len(ev.class_table(3)) == 3 and len(ev.confused_pairs(3)) == 3


def test_flip_test_time_augmentation_averages_the_mirror_images():
    torch.manual_seed(0)
    model = create_model("Classifier128", num_classes=7, widths=(8, 8, 8, 8), depths=(1, 1, 1, 1), stem=(8, 8))
    runtime = select_runtime("cpu", "fp32", channels_last=False, verbose=False)
    x = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    plain, mirrored = predict(model, x, runtime), predict(model, x.flip(-1), runtime)
    both = predict(model, x, runtime, flip=True)
    assert torch.allclose(both.exp(), (plain.softmax(1) + mirrored.softmax(1)) / 2, atol=1e-5)
    assert torch.allclose(both.exp().sum(1), torch.ones(4), atol=1e-5)


def test_predictor_names_the_top5_classes_of_files_and_tensors(tmp_path):
    from PIL import Image

    source = write_tiny_imagenet(tmp_path / "src", classes=6, train_per_class=4, val_per_class=2)
    paths = get_paths(env={"TINY_IMAGENET": str(source)}, root=tmp_path)
    data = ti.load(ti.locate(paths, profile="smoke"), paths)  # a small fixture: no official counts
    model = create_model("Classifier128", num_classes=6, widths=(8, 8, 8, 8), depths=(1, 1, 1, 1), stem=(8, 8))
    path = runlog.save_weights(tmp_path / "c.pt", model, **classify.checkpoint_meta(data))
    predictor = Predictor.load(path, select_runtime("cpu", verbose=False))
    picture = tmp_path / "big.png"
    Image.fromarray(data.val_x[0].permute(1, 2, 0).numpy()).resize((200, 150)).save(picture)
    from_file = predictor.top5([picture, Image.open(picture)])
    from_tensor = predictor.top5(data.val_x[:3])
    assert len(from_file) == 2 and len(from_tensor) == 3
    for row in from_file + from_tensor:
        assert len(row) == 5 and {name for name, _ in row} <= set(data.names)
        probs = [p for _, p in row]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert from_file[0] == from_file[1]  # a path and the same picture opened give the same answer
    with pytest.raises(ValueError, match="uint8"):
        predictor.top5(data.val_x[:2].float())
    runlog.save_weights(tmp_path / "old.pt", model)
    with pytest.raises(runlog.CheckpointError, match="class names"):
        Predictor.load(tmp_path / "old.pt")
