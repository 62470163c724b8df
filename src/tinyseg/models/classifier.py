"""Classifier128: a residual CNN for 128×128×3 inputs that are 2× upsampled 64×64 images.

The stem halves the resolution twice at once (128 → 64 → 32) with cheap 3×3 convolutions:
the input holds no detail finer than 2 pixels, so no compute is spent at 128×128. Four
stages of basic residual blocks follow at 32, 16, 8 and 4 pixels; global average pooling and
a linear layer give the 200 logits.

The interface follows timm: ``feature_info`` describes the stage outputs (channels, reduction,
module), ``forward_intermediates`` returns them as a list, ``forward_features`` returns the last
one, ``forward_head`` is GAP + FC and ``reset_classifier(0)`` removes the FC layer. Part 3 of the
project uses ``forward_intermediates`` as the U-Net encoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import FeatureInfo, Model, count_parameters


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """conv3×3-BN-ReLU-conv3×3-BN plus the shortcut, then ReLU.

    A downsampling block's shortcut is 2×2 average pooling + 1×1 conv + BN (ResNet-D), which
    keeps all input pixels instead of reading one in four. The last BN starts at zero, so each
    block starts as the identity: this trains faster with large learning rates.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn_relu(cin, cout, stride)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        nn.init.zeros_(self.bn2.weight)
        if stride != 1 or cin != cout:
            pool = nn.AvgPool2d(stride, stride) if stride != 1 else nn.Identity()
            self.shortcut = nn.Sequential(pool, nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        else:
            self.shortcut = nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn2(self.conv2(self.conv1(x))) + self.shortcut(x))


class Classifier128(Model):
    """Residual CNN: stem (stride 4) → stages (strides 4, 8, 16, 32) → GAP → FC.

    ``forward_intermediates`` returns ``[stem1, stage1, stage2, stage3, stage4]`` at reductions
    ``(2, 4, 8, 16, 32)`` relative to the 128×128 input (see ``feature_info``).
    """

    def __init__(
        self,
        num_classes: int = 200,
        stem: Sequence[int] = (32, 64),
        widths: Sequence[int] = (64, 128, 256, 320),
        depths: Sequence[int] = (2, 2, 2, 1),
        dropout: float = 0.0,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.stem1 = conv_bn_relu(3, stem[0], stride=2)  # 128 → 64
        self.stem2 = conv_bn_relu(stem[0], stem[1], stride=2)  # 64 → 32
        stages, cin = [], stem[1]
        for i, (width, depth) in enumerate(zip(widths, depths)):
            blocks = [BasicBlock(cin, width, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock(width, width) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = width
        self.stages = nn.ModuleList(stages)
        self.feature_info = FeatureInfo(
            [{"num_chs": stem[0], "reduction": 2, "module": "stem1"}]
            + [{"num_chs": w, "reduction": 4 * 2**i, "module": f"stages.{i}"} for i, w in enumerate(widths)]
        )
        self.num_features = cin
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(cin, num_classes)

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stage outputs listed in ``feature_info``, fine to coarse."""
        s2 = self.stem1(x)
        x = self.stem2(s2)
        features = [s2]
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's map (stride 32), before pooling."""
        x = self.stem2(self.stem1(x))
        for stage in self.stages:
            x = stage(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """A new FC layer for ``num_classes`` classes; 0 removes it (the encoder use)."""
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def parts(self) -> list[dict]:
        """One dict per part, input to output (plain facts; :func:`tinyseg.report.tables.stage_table` puts them
        into words): ``name``; ``block`` (``"conv3x3"``: conv 3×3 + BN + ReLU, ``"BasicBlock"``, ``"head"``:
        global average pooling + FC); ``depth`` (blocks); ``stride`` of its first block; ``channels`` out;
        ``reduction`` (input size / output size; None for the head); ``params``."""
        parts = [
            {
                "name": "stem1",
                "block": "conv3x3",
                "depth": 1,
                "stride": self.stem1[0].stride[0],
                "channels": self.stem1[0].out_channels,
                "reduction": self.feature_info[0]["reduction"],
                "params": count_parameters(self.stem1)[0],
            },
            {
                "name": "stem2",
                "block": "conv3x3",
                "depth": 1,
                "stride": self.stem2[0].stride[0],
                "channels": self.stem2[0].out_channels,
                "reduction": self.feature_info[0]["reduction"] * self.stem2[0].stride[0],
                "params": count_parameters(self.stem2)[0],
            },
        ]
        for i, (stage, info) in enumerate(zip(self.stages, self.feature_info[1:])):
            parts.append(
                {
                    "name": f"stage{i + 1}",
                    "block": "BasicBlock",
                    "depth": len(stage),
                    "stride": stage[0].conv1[0].stride[0],
                    "channels": info["num_chs"],
                    "reduction": info["reduction"],
                    "params": count_parameters(stage)[0],
                }
            )
        parts.append(
            {
                "name": "head",
                "block": "head",
                "depth": 1,
                "stride": None,
                "channels": self.num_classes,
                "reduction": None,
                "params": count_parameters(self.fc)[0],
            }
        )
        return parts
