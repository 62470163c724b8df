"""The models of the project: Classifier128 and (part 2/3) the U-Nets."""

from __future__ import annotations

import torch
from torch import nn

from .classifier import Classifier128
from .unet import UNet, UNetBackbone, UNetBase

REGISTRY = {"Classifier128": Classifier128, "UNetBase": UNetBase, "UNetBackbone": UNetBackbone}


def build_model(config: dict) -> nn.Module:
    """Rebuild a model from the ``config`` stored with its weights."""
    kwargs = {k: v for k, v in config.items() if k != "name"}
    try:
        cls = REGISTRY[config["name"]]
    except KeyError:
        raise ValueError(f"unknown model {config.get('name')!r}; known: {', '.join(REGISTRY)}") from None
    return cls(**kwargs)


def load_model(path) -> nn.Module:
    """A model rebuilt from a ``weights/<run>.pt`` checkpoint: its stored config, then its weights."""
    from ..runlog import load_weights

    ckpt = load_weights(path)
    model = build_model(ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model


def count_macs(model: nn.Module, size: int = 128, channels: int = 3) -> int:
    """Multiply-accumulates of one forward pass on a size×size input (torch's FLOP counter / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, channels, size, size, device=next(model.parameters()).device))
    model.train(was_training)
    return counter.get_total_flops() // 2


__all__ = ["Classifier128", "UNet", "UNetBase", "UNetBackbone", "build_model", "load_model", "count_macs", "REGISTRY"]
