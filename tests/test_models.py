"""Every registered model: built by the factory, forward and backward, feature maps as declared
(the pattern of timm's tests/test_models.py), and the committed checkpoints still load."""

import pytest
import torch

from tinyseg.models import REGISTRY, create_model, load_model
from tinyseg.models.base import Encoder
from tinyseg.paths import project_root
from tinyseg.runs import RUNS

SMALL = {
    "Classifier128": {"num_classes": 7, "stem": (8, 8), "widths": (8, 16, 16, 24), "depths": (1, 1, 1, 1)},
    "UNetBase": {"channels": (8, 16, 16, 24, 24)},
    "UNetBackbone": {
        "classifier_config": {"stem": (8, 8), "widths": (8, 16, 16, 24), "depths": (1, 1, 1, 1)},
        "adapter_channels": (8, 8, 16, 16, 24),
        "stem_channels": 8,
    },
}


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


@pytest.mark.parametrize("run", [s.name for s in RUNS.values()])
def test_committed_checkpoints_load(run):
    path = project_root() / "weights" / f"{run}.pt"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    model = load_model(path).eval()
    assert model.config["name"] == RUNS[run].model  # the architecture the run table names
    out = model(torch.zeros(1, 3, 128, 128))
    assert out.shape == ((1, 200) if RUNS[run].task == "classification" else (1, 1, 128, 128))


def test_unknown_model_and_bad_argument_are_named():
    with pytest.raises(ValueError, match="unknown model 'UNet3D'; registered: Classifier128"):
        create_model("UNet3D")
    with pytest.raises(TypeError, match="UNetBase: .*width"):
        create_model("UNetBase", width=3)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_models_describe_themselves_in_plain_facts(name):
    """Parts (classifier) and levels (U-Nets) are numbers under English keys; their parameters add up to the
    model's, so a table built from them (tinyseg.report.tables) cannot drift from the model."""
    from tinyseg.models import count_parameters

    model = create_model(name, **SMALL[name])
    total = count_parameters(model)[0]
    if name == "Classifier128":
        parts = model.parts()
        assert [p["name"] for p in parts] == ["stem1", "stem2", "stage1", "stage2", "stage3", "stage4", "head"]
        assert [p["reduction"] for p in parts] == [2, 4, 4, 8, 16, 32, None]
        assert sum(p["params"] for p in parts) == total
        return
    levels = model.levels()
    assert [lv["reduction"] for lv in levels] == list(model.encoder.reductions)
    assert [lv["encoder_channels"] for lv in levels] == list(model.encoder.out_channels)
    assert levels[-1]["decoder_channels"] is None and levels[-1]["decoder_params"] == 0  # the bottom
    assert all(
        isinstance(v, (int, str, tuple, list, dict, type(None))) for lv in levels for v in lv["encoder"].values()
    )
    head = model.head_facts()
    assert sum(lv["encoder_params"] + lv["decoder_params"] for lv in levels) + head["params"] == total
