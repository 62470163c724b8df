"""The U-Nets: structure and size, the classifier as encoder, freezing, and the four runs in smoke profile."""

import copy
import shutil

import pytest
import torch

from tinyseg import runlog, runs, segment
from tinyseg.data import lunar_synth, moon
from tinyseg.data.augment import SegmentAugment
from tinyseg.device import select_runtime
from tinyseg.engine import Objective, TrainConfig, fit
from tinyseg.freeze import set_trainable
from tinyseg.metrics import evaluate_masks, segmentation_metrics
from tinyseg.models import PARAM_LIMITS, UNET_WIDTHS, create_model
from tinyseg.models.unet import PlainEncoder
from tinyseg.paths import get_paths
from tinyseg.runs import RunSpec
from tinyseg.session import Session

FP32 = select_runtime("cpu", "fp32", verbose=False)


def test_unet_base_structure_and_size():
    model = create_model("UNetBase")
    enc = model.encoder
    assert isinstance(enc, PlainEncoder)
    assert enc.out_channels[0] == 32  # 32 base channels
    assert enc.reductions == (1, 2, 4, 8, 16)  # 4 levels down ...
    assert len(model.decoder.blocks) == 4  # ... and 4 up, each with its skip
    assert all(isinstance(m, torch.nn.MaxPool2d) for m in [enc.pool])
    assert PARAM_LIMITS["UNetBase"].check(model, "UNetBase") <= 2_500_000
    out = model(torch.randn(2, 3, 128, 128))
    assert out.shape == (2, 1, 128, 128)  # one channel of logits (sigmoid at prediction)
    assert model.config == {"name": "UNetBase", "channels": UNET_WIDTHS, "classes": 1, "input_scale": 1}


def test_unet_base_can_run_on_the_image_upsampled_twice():
    """The probe of UNetBackbone's 2× input for the plain U-Net: same weights, the whole net on the 2× image, the
    logits averaged back to the input's grid."""
    torch.manual_seed(0)
    model = create_model("UNetBase", input_scale=2).eval()
    plain = create_model("UNetBase").eval()
    plain.load_state_dict(model.state_dict())  # the same parameters: input_scale adds none
    x = torch.randn(1, 3, 32, 32)
    up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert model.encoder.reductions == (0.5, 1, 2, 4, 8)
    with torch.no_grad():
        assert model(x).shape == (1, 1, 32, 32)
        assert torch.allclose(model(x), torch.nn.functional.avg_pool2d(plain(up), 2), atol=1e-5)
    with pytest.raises(ValueError, match="input_scale must be 1 or 2"):
        create_model("UNetBase", input_scale=3)


def test_backbone_uses_the_classifier_stages():
    model = create_model("UNetBackbone").eval()
    enc = model.encoder
    x = torch.randn(1, 3, 128, 128)
    features = enc(x)
    stages = enc.backbone.forward_intermediates(x)
    assert enc.reductions == (1, 2, 4, 8, 16, 32)
    for f, r, c in zip(features, enc.reductions, enc.out_channels):
        assert f.shape == (1, c, 128 // r, 128 // r)
    # each skip after the stem is its classifier stage through a 1×1 adapter
    for adapter, stage, f in zip(enc.adapters, stages, features[1:]):
        assert adapter[0].kernel_size == (1, 1)
        assert torch.allclose(adapter(stage), f)
    assert model(x).shape == (1, 1, 128, 128)
    assert not any(k.startswith("encoder.backbone.fc") for k in model.state_dict())  # reset_classifier(0)


@pytest.mark.parametrize("stem_channels", [16, 0])
def test_the_classifier_can_see_the_image_upsampled_twice(stem_channels):
    import torch.nn.functional as F

    model = create_model("UNetBackbone", input_scale=2, stem_channels=stem_channels).eval()
    enc = model.encoder
    x = torch.randn(1, 3, 64, 64)
    features = enc(x)
    assert enc.reductions == ((1,) if stem_channels else ()) + (1, 2, 4, 8, 16)
    for f, r, c in zip(features, enc.reductions, enc.out_channels):
        assert f.shape == (1, c, 64 // r, 64 // r)
    stages = enc.backbone.forward_intermediates(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
    assert torch.allclose(enc.adapters[-1](stages[-1]), features[-1])
    assert model(x).shape == (1, 1, 64, 64)
    with pytest.raises(ValueError, match="input_scale=2"):
        create_model("UNetBackbone", stem_channels=0)


def test_frozen_batchnorm_stays_frozen_whatever_calls_train():
    model = create_model("UNetBackbone")
    set_trainable(model.backbone, False)
    model.train()  # a plain .train(), not the engine's helper
    norms = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    assert model.decoder.training and model.encoder.stem.training
    before = norms[0].running_mean.clone()
    model(torch.randn(2, 3, 128, 128))
    assert torch.equal(norms[0].running_mean, before)


def _classifier_checkpoint(paths):
    clf = create_model("Classifier128")
    torch.manual_seed(5)
    for p in clf.parameters():
        p.data.normal_()
    for m in clf.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
    runlog.save_weights(paths.weights("classifier"), clf, run="classifier", epoch=1, metrics={})
    return runlog.load_weights(paths.weights("classifier"))


def test_pretrained_weights_arrive_unchanged(tmp_path):
    paths = get_paths(env={}, root=tmp_path)
    ckpt = _classifier_checkpoint(paths)
    model = segment.build_model(runs.get("unet_backbone_frozen"), Session("smoke", 0, FP32, paths))
    encoder_state = model.backbone.state_dict()
    for key, value in ckpt["state_dict"].items():
        if key.startswith("fc."):
            assert key not in encoder_state  # the head is not part of the encoder
            continue
        assert torch.equal(encoder_state[key], value), key
    scratch = segment.build_model(runs.get("unet_backbone_scratch"), Session("smoke", 0, FP32, paths))
    assert not torch.equal(scratch.backbone.stem1[0].weight, ckpt["state_dict"]["stem1.0.weight"])


def test_one_step_leaves_frozen_tensors_bit_identical(tmp_path):
    paths = get_paths(env={}, root=tmp_path)
    _classifier_checkpoint(paths)
    model = segment.build_model(runs.get("unet_backbone_frozen"), Session("smoke", 0, FP32, paths))
    frozen = copy.deepcopy(model.backbone.state_dict())  # weights and BN running statistics
    trained_before = copy.deepcopy(model.decoder.state_dict())
    x = torch.randint(0, 256, (4, 3, 128, 128), dtype=torch.uint8)
    y = torch.randint(0, 2, (4, 1, 128, 128), dtype=torch.uint8)
    loader = [(x, y)]
    cfg = TrainConfig(run="step", epochs=1, lr=1e-2, optimizer="adamw", monitor="val_iou", mode="max")
    fit(
        model,
        loader,
        loader,
        cfg=cfg,
        objective=Objective(
            segment.BCEDiceLoss(),
            segmentation_metrics(),
            to_preds=torch.sigmoid,
            train_transform=SegmentAugment(train=True),
            val_transform=SegmentAugment(train=False),
        ),
        runtime=FP32,
        paths=paths,
    )
    after = runlog.load_weights(paths.weights("step"))["state_dict"]
    for key, value in frozen.items():
        assert torch.equal(after[f"encoder.backbone.{key}"], value), key
    assert any(not torch.equal(after[f"decoder.{k}"], v) for k, v in trained_before.items())


def test_loss_and_metrics():
    loss = segment.BCEDiceLoss()
    target = torch.zeros(2, 1, 8, 8)
    target[:, :, 2:5, 2:5] = 1
    perfect = target * 20 - 10
    assert loss(perfect, target) < 0.01
    assert loss(-perfect, target) > 1.5
    probs = torch.sigmoid(perfect)
    out = evaluate_masks(probs, target.long())
    assert out["metrics"]["iou"] == pytest.approx(1.0) and out["metrics"]["pixel_acc"] == pytest.approx(1.0)
    assert out["metrics"]["background_share"] == pytest.approx(1 - 9 / 64)
    assert out["per_image_iou"].tolist() == [1.0, 1.0]
    half = probs.clone()
    half[1] = 0  # the second image predicts no rock at all
    out = evaluate_masks(half, target.long())
    assert out["metrics"]["iou"] == pytest.approx(0.5) and out["per_image_iou"].tolist() == [1.0, 0.0]


def test_the_runs_of_the_table_in_smoke_profile(tmp_path, monkeypatch, lunar_stand_in):
    root = shutil.copytree(lunar_stand_in, tmp_path / "moon")  # the smoke stand-in, rendered once per test run
    paths = get_paths(env={"MOON_ROOT": str(root)}, root=tmp_path)
    _classifier_checkpoint(paths)
    session = Session("smoke", 0, select_runtime("cpu", verbose=False), paths)
    data = segment.load_data(session)
    split = data.split
    # adding a run is adding a row: a fifth run, registered in a temporary table, trains like the others
    extra = RunSpec(
        "unet_small",
        "UNetBase, half width",
        "small",
        "tab:olive",
        "02_unet_base.ipynb",
        "segmentation",
        "UNetBase",
        model_args={"channels": (16, 32, 64, 72, 88)},
        recipe_overrides={"batch_size": 2},
    )
    monkeypatch.setitem(runs.RUNS, extra.name, extra)
    specs = runs.of_task("segmentation")
    assert len(specs) == 5 and specs[-1] is extra
    for spec in specs:
        model = segment.build_model(spec, session, data)
        state = segment.train(spec, model, data, session, live=False)
        assert state.status == "completed"
        log = runlog.RunLog(paths.run_dir(spec.name))
        assert log.summary().data.kind == "generated" and log.summary().data.location == "moon"
        test = log.summary().data.test  # the stand-in's test set: another seed, the same generator version
        assert test.location == f"data/moon_synth/seed1-n{moon.TEST_PAIRS['smoke']}-v{lunar_synth.VERSION}"
        assert "test" in runlog.read_json(log.overlaps_path)
        assert log.config().info.spec["frozen"] == spec.frozen
        assert moon.Split.read(paths.run_dir(spec.name) / "split.json") == split  # every run on the same images
        assert runlog.load_weights(paths.weights(spec.name))["config"]["name"] == spec.model
    assert runlog.RunLog(paths.run_dir("unet_small")).config().info.recipe["batch_size"] == 2
    assert runlog.load_weights(paths.weights("unet_small"))["config"]["channels"] == [16, 32, 64, 72, 88]
    frozen = runlog.RunLog(paths.run_dir("unet_backbone_frozen")).summary()
    finetune = runlog.RunLog(paths.run_dir("unet_backbone_finetune")).summary()
    assert frozen.params_trainable < frozen.params_total == finetune.params_trainable
    assert runlog.RunLog(paths.run_dir("unet_backbone_finetune")).config().info.recipe["unfreeze_epoch"] == 2
