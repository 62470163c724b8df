"""Inference as a user calls it: one predict, the classifier's top-k and the U-Net's rock mask of any
image at its own size, from the Python API and from ``python -m tinyseg.predict``."""

import numpy as np
import pytest
import torch
from PIL import Image

from tinyseg import predict as cli
from tinyseg.classify import checkpoint_meta
from tinyseg.data import tiny_imagenet as ti
from tinyseg.data.fixtures import write_tiny_imagenet
from tinyseg.device import select_runtime
from tinyseg.inference import Segmenter, predict
from tinyseg.models import create_model
from tinyseg.paths import get_paths
from tinyseg.runlog import CheckpointError, save_weights

FP32 = select_runtime("cpu", "fp32", channels_last=False, verbose=False)


def small_unet():
    torch.manual_seed(0)
    return create_model("UNetBase", channels=(8, 8, 16, 16, 16))


def test_predict_is_the_validation_path_and_batching_does_not_matter():
    model = small_unet().eval()
    x = torch.randint(0, 256, (5, 3, 64, 64), dtype=torch.uint8)
    one = predict(model, x, FP32, activation=torch.sigmoid, batch_size=5)
    two = predict(model, x, FP32, activation=torch.sigmoid, batch_size=2)
    assert one.shape == (5, 1, 128, 128) and torch.allclose(one, two, atol=1e-6)
    assert 0 <= one.min() and one.max() <= 1
    mirrored = predict(model, x, FP32, flip=True)  # masks: the mirror's map is mirrored back
    assert torch.allclose(
        mirrored, (predict(model, x, FP32) + predict(model, x.flip(-1), FP32).flip(-1)) / 2, atol=1e-5
    )


def test_segmenter_returns_masks_at_each_images_own_size(tmp_path):
    path = save_weights(tmp_path / "unet.pt", small_unet())
    segmenter = Segmenter.load(path, FP32)
    render = tmp_path / "render0001.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (480, 720, 3), dtype=np.uint8)).save(render)
    small = Image.new("RGB", (50, 30), (128, 128, 128))
    masks = segmenter.masks([render, small])
    assert masks[0].shape == (480, 720) and masks[1].shape == (30, 50) and masks[0].dtype == bool
    tensor = torch.from_numpy(np.array(Image.open(render))).permute(2, 0, 1)[None]
    assert np.array_equal(segmenter.masks(tensor)[0], masks[0])  # a path and the same image as a tensor agree
    with pytest.raises(ValueError, match="uint8"):
        segmenter.masks(tensor.float())
    with pytest.raises(ValueError, match="not a readable image"):
        segmenter.masks([tmp_path / "missing.png"])
    classifier = create_model("Classifier128", num_classes=3, widths=(8, 8, 8, 8), depths=(1, 1, 1, 1), stem=(8, 8))
    with pytest.raises(CheckpointError, match="not a U-Net"):
        Segmenter.load(save_weights(tmp_path / "c.pt", classifier), FP32)


def test_the_command_writes_masks_and_names_classes(tmp_path, capsys):
    unet = save_weights(tmp_path / "unet.pt", small_unet())
    image = tmp_path / "scene.png"
    Image.new("RGB", (90, 60), (200, 180, 160)).save(image)
    assert cli.main([str(unet), str(image), "--out", str(tmp_path / "masks")]) == 0
    written = np.asarray(Image.open(tmp_path / "masks" / "scene_mask.png"))
    assert written.shape == (60, 90) and set(np.unique(written)) <= {0, 255}
    assert "scene.png: 90×60, rock" in capsys.readouterr().out

    source = write_tiny_imagenet(tmp_path / "src", classes=6, train_per_class=2, val_per_class=1)
    paths = get_paths(env={"TINY_IMAGENET": str(source)}, root=tmp_path)
    data = ti.load(ti.locate(paths, profile="smoke"), paths)
    model = create_model("Classifier128", num_classes=6, widths=(8, 8, 8, 8), depths=(1, 1, 1, 1), stem=(8, 8))
    weights = save_weights(tmp_path / "c.pt", model, **checkpoint_meta(data))
    assert cli.main([str(weights), str(image), "--top", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{image}: ") and line.count(";") == 2
    assert cli.main([str(weights), str(tmp_path / "nope.png")]) == 2
    assert "no such image file" in capsys.readouterr().err
