"""Checks of checkpoints and inputs (issue 23): every case a user met stops with the file named and the
problem said, or reads correctly. Each test fails without its fix."""

import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from tinyseg import runs, segment
from tinyseg.classify import PREPROCESSING
from tinyseg.data import Source, moon
from tinyseg.data.fixtures import write_moon_check, write_moon_layout
from tinyseg.device import select_runtime
from tinyseg.engine import Objective, TrainConfig, fit
from tinyseg.inference import Predictor, Segmenter, as_uint8_batch
from tinyseg.models import create_model, load_model
from tinyseg.paths import get_paths
from tinyseg.report.logs import load_segmentation_models
from tinyseg.runlog import CheckpointError, RunLog, RunSummary, file_sha256, load_weights, save_weights
from tinyseg.session import Session

FP32 = select_runtime("cpu", "fp32", channels_last=False, verbose=False)
TINY = dict(widths=(8, 8, 8, 8), depths=(1, 1, 1, 1), stem=(8, 8))


def classifier_checkpoint(path, classes=6, names=None):
    """A tiny Classifier128 saved as notebook 01 saves it: weights, config, class names, preprocessing."""
    torch.manual_seed(0)
    model = create_model("Classifier128", num_classes=classes, **TINY)
    names = names if names is not None else classes
    meta = {"wnids": [f"n{i:08d}" for i in range(names)], "names": [f"class {i}" for i in range(names)]}
    return save_weights(path, model, classes=meta, preprocessing=PREPROCESSING)


def unet_checkpoint(path):
    torch.manual_seed(0)
    return save_weights(path, create_model("UNetBase", channels=(8, 8, 16, 16, 16)))


# 1. 16-bit (and 32-bit) greyscale is scaled to 8 bits, not clipped to white


def test_a_16_bit_png_reads_as_its_8_bit_equivalent(tmp_path):
    grey = np.add.outer(np.arange(40) * 3, np.arange(60) * 2).astype(np.uint8)  # 0..231, a gradient
    Image.fromarray(grey, mode="L").save(tmp_path / "grey8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode == "I;16"
    eight, _ = as_uint8_batch([tmp_path / "grey8.png"])
    sixteen, _ = as_uint8_batch([tmp_path / "grey16.png"])
    assert sixteen.shape == eight.shape == (1, 3, 40, 60)
    assert (sixteen.int() - eight.int()).abs().max() <= 1  # not all white
    # 32-bit integer and float greyscale
    wide = Image.fromarray(grey.astype(np.int32) * 257, mode="I")
    unit = Image.fromarray(grey.astype(np.float32) / 255, mode="F")
    for image in (wide, unit):
        assert (as_uint8_batch([image])[0].int() - eight.int()).abs().max() <= 1


# 2. a truncated JPEG names its file


def test_a_truncated_jpeg_names_its_file(tmp_path):
    predictor = Predictor.load(classifier_checkpoint(tmp_path / "c.pt"), FP32)
    good = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(good, quality=95)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"broken\.jpg.*not a readable image.*truncated"):
        predictor.top5([good, broken])
    with pytest.raises(ValueError, match=r"broken\.jpg \(image 2 of 2\): not a readable image.*truncated"):
        predictor.top5([Image.open(good), Image.open(broken)])  # PIL images opened by the user
    assert len(predictor.top5([Image.open(good)])[0]) == 5


# 3. no images


def test_no_images_is_a_clear_error(tmp_path):
    predictor = Predictor.load(classifier_checkpoint(tmp_path / "c.pt"), FP32)
    segmenter = Segmenter.load(unet_checkpoint(tmp_path / "u.pt"), FP32)
    empty = torch.zeros(0, 3, 32, 32, dtype=torch.uint8)
    for call in (predictor.top5, segmenter.masks):
        for images in ([], empty):
            with pytest.raises(ValueError, match="no images given"):
                call(images)


# 4. a U-Net checkpoint given to the classifier's tool


def test_each_tool_names_the_other_for_the_wrong_checkpoint(tmp_path):
    unet = unet_checkpoint(tmp_path / "unet_base.pt")
    with pytest.raises(CheckpointError, match=r"unet_base\.pt is a U-Net checkpoint \(UNetBase\), not the classifier"):
        Predictor.load(unet, FP32)
    with pytest.raises(CheckpointError, match="not a U-Net: use Predictor"):
        Segmenter.load(classifier_checkpoint(tmp_path / "c.pt"), FP32)


# 5. checkpoints whose parts do not fit together


def test_a_checkpoint_without_config_is_named(tmp_path):
    path = tmp_path / "bare.pt"
    torch.save({"state_dict": create_model("Classifier128", num_classes=3, **TINY).state_dict()}, path)
    for load in (load_model, lambda p: Predictor.load(p, FP32)):
        with pytest.raises(CheckpointError, match=r"bare\.pt has no model config"):
            load(path)


def test_class_names_that_do_not_fit_the_head_are_named(tmp_path):
    path = classifier_checkpoint(tmp_path / "c.pt", classes=200, names=10)
    with pytest.raises(CheckpointError, match=r"c\.pt: .*10 wnids and 10 names for a 200-class head"):
        Predictor.load(path, FP32)


def test_a_config_that_does_not_fit_the_weights_is_named(tmp_path):
    path = classifier_checkpoint(tmp_path / "c.pt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["widths"] = [2 * w for w in ckpt["config"]["widths"]]  # doubled widths
    torch.save(ckpt, path)
    for load in (load_model, lambda p: Predictor.load(p, FP32)):
        with pytest.raises(CheckpointError, match=r"c\.pt: its weights do not fit .*Classifier128.*another shape"):
            load(path)
    ckpt["config"] = {"name": "Classifier128", "wings": 2}
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=r"c\.pt: its model config .* cannot be built"):
        load_model(path)


# 6. torch's advice to load with weights_only=False is not passed on


def test_a_checkpoint_with_python_objects_is_refused_without_unsafe_advice(tmp_path):
    import datetime

    path = tmp_path / "odd.pt"
    torch.save({"state_dict": {}, "made": datetime.date(2025, 1, 1)}, path)
    with pytest.raises(CheckpointError) as caught:
        load_weights(path)
    message = str(caught.value)
    assert str(path) in message and "datetime.date" in message
    assert "can still be loaded" not in message and "Re-running" not in message
    assert "add_safe_globals" not in message
    assert "do not load it with weights_only=False" in message


# 7. the weights' sha256: recorded by the engine, checked by the loaders


def tamper(source, target):
    """A copy of ``source`` with up to 4 KiB inside its largest tensor's bytes flipped (it still loads)."""
    data = bytearray(source.read_bytes())
    ckpt = torch.load(source, weights_only=True)
    raw = max(ckpt["state_dict"].values(), key=lambda t: t.numel()).numpy().tobytes()
    start, size = data.find(raw), min(4096, len(raw) // 2)  # the tensor's storage in the file
    assert start > 0
    start += len(raw) // 4
    data[start : start + size] = bytes(b ^ 0xFF for b in data[start : start + size])
    target.write_bytes(bytes(data))
    return target


def test_a_tampered_checkpoint_is_refused_with_the_file_named(tmp_path, monkeypatch):
    path = unet_checkpoint(tmp_path / "weights" / "unet_base.pt")
    digest = file_sha256(path)
    copy = tamper(path, tmp_path / "tampered.pt")
    load_weights(copy)  # without the hash it loads: the damage is silent
    assert load_weights(path, digest)["state_dict"]
    with pytest.raises(CheckpointError, match=r"tampered\.pt is not the file its run saved"):
        load_weights(copy, digest)
    with pytest.raises(CheckpointError, match=r"tampered\.pt is not the file its run saved"):
        load_model(copy, digest)

    # the report's loader and the tools read the hash from the run's summary.json
    paths = get_paths(env={}, root=tmp_path)
    RunLog(paths.run_dir("unet_base")).write_summary(
        RunSummary("unet_base", "completed", 1, {}, 1, 1, 0, 0, 1.0, weights_sha256=digest)
    )
    assert set(load_segmentation_models(paths, ["unet_base"])) == {"unet_base"}
    monkeypatch.setenv("WEIGHTS_DIR", str(paths.weights_dir))
    monkeypatch.setenv("RUNS_DIR", str(paths.runs_dir))
    assert Segmenter.load(path, FP32)
    shutil.copy(copy, path)
    with pytest.raises(CheckpointError, match=r"unet_base\.pt is not the file its run saved"):
        load_segmentation_models(paths, ["unet_base"])
    with pytest.raises(CheckpointError, match=r"unet_base\.pt is not the file its run saved"):
        Segmenter.load(path, FP32)
    # the backbone U-Nets' encoder: weights/classifier.pt against runs/classifier/summary.json
    classifier = classifier_checkpoint(paths.weights("classifier"))
    summary = RunSummary("classifier", "completed", 1, {}, 1, 1, 0, 0, 1.0, weights_sha256=file_sha256(classifier))
    RunLog(paths.run_dir("classifier")).write_summary(summary)
    tamper(classifier, classifier)
    with pytest.raises(CheckpointError, match=r"classifier\.pt is not the file its run saved"):
        segment.build_model(runs.get("unet_backbone_frozen"), Session("smoke", 0, FP32, paths))


def test_the_engine_records_the_weights_hash(tmp_paths):
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(32, 4, generator=g), torch.randint(0, 2, (32,), generator=g))
    model = nn.Linear(4, 2)
    model.config = {"name": "Linear"}
    cfg = TrainConfig(run="lin", epochs=2, lr=0.1, monitor="val_acc", mode="max")
    objective = Objective(nn.functional.cross_entropy, MetricCollection({"acc": MulticlassAccuracy(2)}))
    loader = DataLoader(data, batch_size=16)
    fit(model, loader, loader, cfg=cfg, objective=objective, runtime=FP32, paths=tmp_paths, verbose=False)
    summary = RunLog(tmp_paths.run_dir("lin")).summary()
    assert summary.weights_sha256 == file_sha256(tmp_paths.weights("lin"))
    assert RunSummary.from_json(summary.as_json()) == summary


def test_the_committed_summaries_record_their_weights_hash():
    paths = get_paths(env={})
    for weights in sorted(paths.weights_dir.glob("*.pt")):
        summary = RunLog(paths.run_dir(weights.stem)).summary()
        if summary is not None:
            assert len(summary.weights_sha256) == 64, f"{weights.stem}: run tools/add_weights_hashes.py"


# 8. palette masks are read through their palette


def test_a_palette_mask_with_the_class_colours_is_read_as_its_colours(tmp_path):
    index = np.zeros((30, 40), np.uint8)  # 0 ground (black), 1 sky (red), 2 small rocks (green), 3 large (blue)
    index[:8] = 1
    index[12:18, 5:12] = 2
    index[20:28, 25:35] = 3
    image = Image.fromarray(index, mode="P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    image.save(tmp_path / "ground0001.png")
    assert Image.open(tmp_path / "ground0001.png").mode == "P"
    assert np.array_equal(moon.read_mask(tmp_path / "ground0001.png"), index >= 2)
    binary = Image.fromarray((index >= 2).astype(np.uint8), mode="P")  # a 0/1 palette mask, black and white
    binary.putpalette([0, 0, 0, 255, 255, 255])
    binary.save(tmp_path / "ground0002.png")
    assert np.array_equal(moon.read_mask(tmp_path / "ground0002.png"), index >= 2)


# 9. the real check set is neither generated nor the training data


def check_paths(tmp_path, check, moon_root=None):
    env = {"MOON_CHECK_ROOT": str(check), "DATA_DIR": str(tmp_path / "data")}
    return get_paths(env={**env, **({"MOON_ROOT": str(moon_root)} if moon_root else {})}, root=tmp_path)


def test_a_generated_stand_in_is_refused_as_the_real_check_set(tmp_path):
    stand_in = write_moon_layout(tmp_path / "stand_in", n=3, generated=True)
    with pytest.raises(moon.MoonDataError, match=r"MOON_CHECK_ROOT=.*stand_in is a generated stand-in"):
        moon.locate_check(check_paths(tmp_path, stand_in))


def test_the_training_data_is_refused_as_the_real_check_set(tmp_path):
    train = write_moon_layout(tmp_path / "moon", n=4)
    refused = {
        "is MOON_ROOT": train,
        "lies inside MOON_ROOT": write_moon_check(train / "check", n=2),
        "contains MOON_ROOT": tmp_path,  # the repository root holds moon/ (and is in the layout below)
    }
    write_moon_check(tmp_path, n=2, seed=7)
    linked = tmp_path / "linked"
    (linked / "images").mkdir(parents=True)
    (linked / "images" / "render").symlink_to(train / "images" / "render")
    shutil.copytree(train / "images" / "ground", linked / "images" / "ground")  # copies of the same masks
    refused["shares 8 file"] = linked
    for why, check in refused.items():
        with pytest.raises(moon.MoonDataError, match=f"MOON_CHECK_ROOT=.* {why}.*no model trained on"):
            moon.locate_check(check_paths(tmp_path, check, moon_root=train))
    elsewhere = write_moon_check(tmp_path / "real_check", n=3)
    assert moon.locate_check(check_paths(tmp_path, elsewhere, moon_root=train)) == Source(moon.NAME, "check", elsewhere)
