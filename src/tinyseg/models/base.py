"""What every model of the project shares: the timm-style feature description, frozen BatchNorm
that stays frozen, parameter counts, and the encoder contract the U-Net decoder is built from."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def total_parameters(modules: Iterable[nn.Module | None]) -> int:
    """All parameters of several modules together (None: none)."""
    return sum(count_parameters(m)[0] for m in modules if m is not None)


def _norm_is_frozen(module: nn.Module) -> bool:
    params = list(module.parameters(recurse=False))
    return bool(params) and not any(p.requires_grad for p in params)


def keep_frozen_norms_in_eval(model: nn.Module) -> None:
    """Put every BatchNorm whose parameters are frozen back into eval mode."""
    for m in model.modules():
        if isinstance(m, _BatchNorm) and _norm_is_frozen(m):
            m.eval()


class FeatureInfo(list):
    """One dict per feature map, fine to coarse: ``num_chs``, ``reduction`` (input size / map size)
    and ``module`` (the submodule that produces it), as in timm's ``feature_info``."""

    def channels(self) -> tuple[int, ...]:
        return tuple(f["num_chs"] for f in self)

    def reduction(self) -> tuple[int, ...]:
        return tuple(f["reduction"] for f in self)


class Model(nn.Module):
    """Base of the project's models: ``.train()`` keeps frozen BatchNorm layers in eval mode.

    A BatchNorm whose parameters are frozen (``requires_grad=False``, see :mod:`tinyseg.freeze`)
    keeps its running statistics, whoever switches the model to training mode.
    """

    config: dict  # the constructor arguments, set by models.create_model and stored with the weights

    def train(self, mode: bool = True) -> Model:
        super().train(mode)
        if mode:
            keep_frozen_norms_in_eval(self)
        return self


class Encoder(Model):
    """A U-Net encoder: ``forward(x)`` returns feature maps fine to coarse, described by
    ``feature_info`` (channels and reduction of each); the decoder is built from ``out_channels``."""

    feature_info: FeatureInfo

    @property
    def out_channels(self) -> tuple[int, ...]:
        return self.feature_info.channels()

    @property
    def reductions(self) -> tuple[int, ...]:
        return self.feature_info.reduction()

    def levels(self) -> list[dict]:
        """Per feature map, fine to coarse, plain facts: ``level``, ``reduction``, ``channels``, ``params``
        (of the modules that compute it from the previous map) and how it is computed (encoder-specific
        keys, e.g. ``pool`` and ``convs``); the report puts them into words."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError
