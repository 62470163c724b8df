"""Classifier128: a residual CNN for 128×128×3 inputs that are 2× upsampled 64×64 images.

The stem halves the resolution twice at once (128 → 64 → 32) with cheap 3×3 convolutions:
the input holds no detail finer than 2 pixels, so no compute is spent at 128×128. Four
stages of basic residual blocks follow at 32, 16, 8 and 4 pixels; global average pooling and
a linear layer give the 200 logits.

Like timm models, the network splits into ``forward_features`` (the list of stage outputs;
``feature_channels`` and ``feature_strides`` describe them) and ``forward_head`` (GAP + FC).
Part 3 of the project uses ``forward_features`` as the U-Net encoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


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


class Classifier128(nn.Module):
    """Residual CNN: stem (stride 4) → stages (strides 4, 8, 16, 32) → GAP → FC.

    ``forward_features`` returns ``[stem_s2, stage1, stage2, stage3, stage4]`` at strides
    ``(2, 4, 8, 16, 32)`` relative to the 128×128 input.
    """

    def __init__(self, num_classes: int = 200, stem: Sequence[int] = (32, 64),
                 widths: Sequence[int] = (64, 128, 256, 320), depths: Sequence[int] = (2, 2, 2, 1),
                 dropout: float = 0.0):
        super().__init__()
        self.config = {"name": "Classifier128", "num_classes": num_classes, "stem": list(stem),
                       "widths": list(widths), "depths": list(depths), "dropout": dropout}
        self.stem1 = conv_bn_relu(3, stem[0], stride=2)          # 128 → 64
        self.stem2 = conv_bn_relu(stem[0], stem[1], stride=2)    # 64 → 32
        stages, cin = [], stem[1]
        for i, (width, depth) in enumerate(zip(widths, depths)):
            blocks = [BasicBlock(cin, width, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock(width, width) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = width
        self.stages = nn.ModuleList(stages)
        self.feature_channels = (stem[0], *widths)
        self.feature_strides = (2, 4, 8, 16, 32)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(cin, num_classes)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        s2 = self.stem1(x)
        x = self.stem2(s2)
        features = [s2]
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x)[-1])

    def stage_table(self, size: int = 128) -> list[dict]:
        """One row per stage: blocks, channels, output size, stride, parameters."""
        rows = [{"stage": "stem1", "blocks": "conv3×3 s2", "channels": self.feature_channels[0],
                 "params": sum(p.numel() for p in self.stem1.parameters())},
                {"stage": "stem2", "blocks": "conv3×3 s2", "channels": self.config["stem"][1],
                 "params": sum(p.numel() for p in self.stem2.parameters())}]
        for i, stage in enumerate(self.stages):
            rows.append({"stage": f"stage{i + 1}", "blocks": f"{len(stage)}× BasicBlock",
                         "channels": self.feature_channels[i + 1],
                         "params": sum(p.numel() for p in stage.parameters())})
        strides = (2, 4, *self.feature_strides[1:])
        for row, stride in zip(rows, strides):
            row["stride"] = stride
            row["output"] = f"{size // stride}×{size // stride}"
        rows.append({"stage": "head", "blocks": "GAP + FC", "channels": self.config["num_classes"],
                     "params": sum(p.numel() for p in self.fc.parameters()), "stride": "—", "output": "1×1"})
        return rows
