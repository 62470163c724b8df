"""Freezing part of a model (the pretrained encoder) and unfreezing it later.

A frozen module has ``requires_grad=False`` on every parameter *and* its BatchNorm layers
stay in eval mode, so neither the weights nor the running statistics move. The project's
models (:class:`tinyseg.models.base.Model`) keep frozen BatchNorm in eval whatever calls
``.train()`` (:func:`~tinyseg.models.base.keep_frozen_norms_in_eval`, re-exported here);
:func:`train_mode` does the same for any other module.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from . import words
from .callbacks import Callback
from .models.base import count_parameters, keep_frozen_norms_in_eval


def set_trainable(module: nn.Module, trainable: bool) -> nn.Module:
    """Freeze (``False``) or unfreeze (``True``) every parameter and BatchNorm of ``module``."""
    for p in module.parameters():
        p.requires_grad_(trainable)
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.train(trainable and module.training)
    return module


def train_mode(model: nn.Module) -> nn.Module:
    """``model.train()``, except that BatchNorm layers whose parameters are frozen stay in eval."""
    model.train()
    keep_frozen_norms_in_eval(model)
    return model


def is_frozen(module: nn.Module) -> bool:
    """No parameter of ``module`` is trained."""
    return not any(p.requires_grad for p in module.parameters())


class UnfreezeAt(Callback):
    """Engine callback: unfreeze ``module`` at the start of epoch ``epoch`` (1-based).

    Give the module's parameters their own (lower) learning rate with
    ``TrainConfig.lr_scales`` so that fine-tuning does not wreck the pretrained weights.
    """

    def __init__(self, module: nn.Module, epoch: int, verbose: bool = True):
        self.module, self.epoch, self.verbose = module, epoch, verbose

    def on_epoch_start(self, state) -> None:
        if state.epoch >= self.epoch and is_frozen(self.module):
            set_trainable(self.module, True)
            total = count_parameters(self.module)[0]
            if self.verbose:
                print(f"эпоха {state.epoch}: энкодер разморожен ({words.thousands(total)} параметров)")
