"""Freezing part of a model (the pretrained encoder) and unfreezing it later.

A frozen module has ``requires_grad=False`` on every parameter *and* its BatchNorm layers
stay in eval mode, so neither the weights nor the running statistics move. The engine
switches models to training mode with :func:`train_mode`, which honours that.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def set_trainable(module: nn.Module, trainable: bool) -> nn.Module:
    """Freeze (``False``) or unfreeze (``True``) every parameter and BatchNorm of ``module``."""
    for p in module.parameters():
        p.requires_grad_(trainable)
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.train(trainable and module.training)
    return module


def is_frozen(module: nn.Module) -> bool:
    params = list(module.parameters(recurse=False))
    return bool(params) and not any(p.requires_grad for p in params)


def train_mode(model: nn.Module) -> nn.Module:
    """``model.train()``, except that BatchNorm layers whose parameters are frozen stay in eval."""
    model.train()
    for m in model.modules():
        if isinstance(m, _BatchNorm) and is_frozen(m):
            m.eval()
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


class UnfreezeAt:
    """Engine callback: unfreeze ``module`` at the start of epoch ``epoch`` (1-based).

    Give the module's parameters their own (lower) learning rate with
    ``TrainConfig.lr_scales`` so that fine-tuning does not wreck the pretrained weights.
    """

    def __init__(self, module: nn.Module, epoch: int):
        self.module, self.epoch = module, epoch

    def on_epoch_start(self, state) -> None:
        if state.epoch >= self.epoch and is_frozen_tree(self.module):
            set_trainable(self.module, True)
            print(f"epoch {state.epoch}: unfroze {type(self.module).__name__} "
                  f"({count_parameters(self.module)[0]:,} parameters)")


def is_frozen_tree(module: nn.Module) -> bool:
    return not any(p.requires_grad for p in module.parameters())
