"""The models: Classifier128 (part 1) and the U-Nets (parts 2–3), behind one factory.

Like timm's ``register_model``/``create_model``: every model is a registered factory, and
``create_model(name, **cfg)`` builds it and records its full constructor config (defaults
included) as ``model.config``. That config is stored with the weights (``weights/<run>.pt``), so
:func:`load_model` rebuilds any checkpoint without knowing which run made it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .base import Encoder, FeatureInfo, Model, count_parameters
from .classifier import Classifier128
from .unet import UNET_WIDTHS, UNet, UNetBackbone, UNetBase

REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Add a model factory (a class or a function) to the registry under its name."""
    REGISTRY[fn.__name__] = fn
    return fn


for _factory in (Classifier128, UNetBase, UNetBackbone):
    register_model(_factory)


def create_model(name: str, **cfg) -> nn.Module:
    """Build the registered model ``name``; ``model.config`` = its name and every constructor argument."""
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(REGISTRY)}") from None
    try:
        bound = inspect.signature(factory).bind(**cfg)
    except TypeError as e:
        raise TypeError(f"{name}: {e}") from None
    bound.apply_defaults()
    model = factory(**bound.arguments)
    model.config = {"name": name, **bound.arguments}
    return model


def load_model(path) -> nn.Module:
    """A model rebuilt from a ``weights/<run>.pt`` checkpoint: its stored config, then its weights."""
    from ..runlog import load_weights

    ckpt = load_weights(path)
    config = dict(ckpt["config"])
    model = create_model(config.pop("name"), **config)
    model.load_state_dict(ckpt["state_dict"])
    return model


@dataclass(frozen=True)
class ParamLimit:
    """The assignment's parameter budget of a model."""

    limit: int
    tolerance: float = 0.0  # allowed excess as a fraction of ``limit``

    @property
    def maximum(self) -> int:
        return round(self.limit * (1 + self.tolerance))

    def __str__(self) -> str:
        return f"≤ {self.limit:,}" + (f" (±{self.tolerance:.0%})" if self.tolerance else "")

    def check(self, model: nn.Module, name: str) -> int:
        """The parameter count; an error when it is over the budget."""
        total = count_parameters(model)[0]
        if total > self.maximum:
            raise ValueError(f"{name} has {total:,} parameters, over the limit {self}")
        return total


# the assignment's limits: Classifier128 ≤ 5M, UNetBase ≤ 2.5M ± 10%
PARAM_LIMITS = {"Classifier128": ParamLimit(5_000_000), "UNetBase": ParamLimit(2_500_000, 0.10)}


def count_macs(model: nn.Module, size: int = 128, channels: int = 3) -> int:
    """Multiply-accumulates of one forward pass on a size×size input (torch's FLOP counter / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, channels, size, size, device=next(model.parameters()).device))
    model.train(was_training)
    return counter.get_total_flops() // 2


__all__ = [
    "Classifier128",
    "UNet",
    "UNetBase",
    "UNetBackbone",
    "UNET_WIDTHS",
    "Encoder",
    "FeatureInfo",
    "Model",
    "REGISTRY",
    "register_model",
    "create_model",
    "load_model",
    "count_parameters",
    "count_macs",
    "ParamLimit",
    "PARAM_LIMITS",
]
