"""What every model of the project shares: the timm-style feature description, frozen BatchNorm
that stays frozen, and the encoder contract the U-Net decoder is built from."""

from __future__ import annotations

import torch
from torch import nn

from ..freeze import keep_frozen_norms_in_eval


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

    def levels(self) -> list[tuple[str, list[nn.Module]]]:
        """Per feature map: how it is computed (words) and the modules whose parameters it adds."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError
