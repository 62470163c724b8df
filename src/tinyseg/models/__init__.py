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


def load_model(path, expected_sha256: str | None = None) -> nn.Module:
    """A model rebuilt from a ``weights/<run>.pt`` checkpoint: its stored config, then its weights.

    ``expected_sha256``: the hash the run's summary records (see :func:`tinyseg.runlog.load_weights`).
    A checkpoint whose config is missing or does not fit its weights is a
    :class:`~tinyseg.runlog.CheckpointError` naming the file and the problem."""
    from ..runlog import load_weights

    return model_from_checkpoint(load_weights(path, expected_sha256), path)


def model_from_checkpoint(ckpt: dict, where) -> nn.Module:
    """The model of a loaded checkpoint (``{"state_dict", "config", ...}``); ``where`` names it in errors."""
    from ..runlog import CheckpointError

    config = ckpt.get("config")
    if not isinstance(config, dict) or not config.get("name"):
        raise CheckpointError(
            f"{where} has no model config (the 'config' entry with the model's name and constructor "
            "arguments that the project saves with the weights), so its model cannot be rebuilt: "
            "it was not saved by tinyseg.runlog.save_weights. Use a checkpoint from weights/."
        )
    config = dict(config)
    name = config.pop("name")
    try:
        model = create_model(name, **config)
    except Exception as e:  # an unknown name or argument, or a value the constructor refuses
        raise CheckpointError(f"{where}: its model config {ckpt['config']} cannot be built: {e}") from None
    problems = state_problems(model, ckpt["state_dict"])
    if problems:
        raise CheckpointError(
            f"{where}: its weights do not fit the model its config describes ({name}): {'; '.join(problems)}. "
            "The config or the weights were changed after saving: restore the file."
        )
    model.load_state_dict(ckpt["state_dict"])
    return model


def state_problems(model: nn.Module, state: dict, limit: int = 3) -> list[str]:
    """What keeps ``state`` from loading into ``model`` strictly: missing and unexpected keys, tensors
    of another shape (the first ``limit`` of each kind, with the count)."""
    if not isinstance(state, dict):
        return [f"the state_dict is a {type(state).__name__}, not a dict of tensors"]
    own = model.state_dict()

    def shape(value) -> str:
        if not isinstance(value, torch.Tensor):
            return type(value).__name__
        return "×".join(map(str, value.shape)) or "a scalar"

    shapes = [
        f"{k} is {shape(v)} in the file but {shape(own[k])} in the model"
        for k, v in state.items()
        if k in own and shape(v) != shape(own[k])
    ]
    kinds = (
        ("tensor(s) of another shape", shapes),
        ("missing key(s)", [k for k in own if k not in state]),
        ("unexpected key(s)", [k for k in state if k not in own]),
    )
    return [
        f"{len(items)} {kind}: {', '.join(items[:limit])}{', …' if len(items) > limit else ''}"
        for kind, items in kinds
        if items
    ]


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
    "model_from_checkpoint",
    "state_problems",
    "count_parameters",
    "count_macs",
    "ParamLimit",
    "PARAM_LIMITS",
]
