"""Every registered model: built by the factory, forward and backward, feature maps as declared
(the pattern of timm's tests/test_models.py), and the committed checkpoints still load."""

import pytest
import torch

from tinyseg.models import REGISTRY, create_model, load_model
from tinyseg.models.base import Encoder
from tinyseg.paths import project_root

SMALL = {"Classifier128": {"num_classes": 7, "stem": (8, 8), "widths": (8, 16, 16, 24), "depths": (1, 1, 1, 1)},
         "UNetBase": {"channels": (8, 16, 16, 24, 24)},
         "UNetBackbone": {"classifier_config": {"stem": (8, 8), "widths": (8, 16, 16, 24), "depths": (1, 1, 1, 1)},
                          "adapter_channels": (8, 8, 16, 16, 24), "stem_channels": 8}}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_model_runs_forward_and_backward(name):
    assert name in SMALL, f"add a small configuration of {name} to this test"
    torch.manual_seed(0)
    model = create_model(name, **SMALL[name])
    assert model.config["name"] == name
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    out.float().square().mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    encoder = model.encoder if hasattr(model, "encoder") else model
    if isinstance(encoder, Encoder):
        features = encoder(x)
        assert out.shape == (2, 1, 64, 64)
    else:
        features = encoder.forward_intermediates(x)
        assert out.shape == (2, 7)
    info = encoder.feature_info
    assert len(features) == len(info)
    for f, i in zip(features, info):
        assert f.shape == (2, i["num_chs"], 64 // i["reduction"], 64 // i["reduction"])
        assert dict(encoder.named_modules())[i["module"]] is not None  # the module the map comes from


@pytest.mark.parametrize("run", ["classifier", "unet_base", "unet_backbone_frozen", "unet_backbone_finetune",
                                 "unet_backbone_scratch"])
def test_committed_checkpoints_load(run):
    path = project_root() / "weights" / f"{run}.pt"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    model = load_model(path).eval()
    out = model(torch.zeros(1, 3, 128, 128))
    assert out.shape in {(1, 200), (1, 1, 128, 128)}


def test_unknown_model_and_bad_argument_are_named():
    with pytest.raises(ValueError, match="unknown model 'UNet3D'; registered: Classifier128"):
        create_model("UNet3D")
    with pytest.raises(TypeError, match="UNetBase: .*width"):
        create_model("UNetBase", width=3)
