"""U-Net as a composition (like segmentation_models.pytorch): encoder → decoder → head.

* An encoder (:class:`~tinyseg.models.base.Encoder`) returns a list of feature maps from fine to
  coarse and describes them with ``feature_info`` (``out_channels``, ``reductions``).
* :class:`UNetDecoder` is built from ``out_channels``: starting at the coarsest map it upsamples
  (bilinear, to the skip's exact size), concatenates the skip and applies two 3×3 convs, level
  by level up to the finest map.
* The head is a 1×1 conv to ``classes`` channels (1 here): logits, sigmoid at prediction.

UNetBase and UNetBackbone differ only in the encoder: :class:`PlainEncoder` (a classic U-Net
contracting path) or :class:`ClassifierEncoder` (Classifier128's stages behind 1×1 adapters).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import Encoder, FeatureInfo, Model
from .classifier import Classifier128, conv_bn_relu


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(conv_bn_relu(cin, cout), conv_bn_relu(cout, cout))


class PlainEncoder(Encoder):
    """The U-Net contracting path: a double conv at full resolution, then max-pool + double conv per level.

    ``channels[0]`` is the base width (32); ``len(channels) - 1`` levels down.
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128, 144, 176), in_channels: int = 3):
        super().__init__()
        self.blocks = nn.ModuleList([DoubleConv(in_channels, channels[0])])
        self.blocks.extend(DoubleConv(a, b) for a, b in zip(channels[:-1], channels[1:]))
        self.pool = nn.MaxPool2d(2)
        self.feature_info = FeatureInfo({"num_chs": c, "reduction": 2 ** i, "module": f"blocks.{i}"}
                                        for i, c in enumerate(channels))

    def levels(self) -> list[tuple[str, list[nn.Module]]]:
        return [("2× conv 3×3", [self.blocks[0]])] + [
            ("max-pool 2×2, 2× conv 3×3", [b]) for b in self.blocks[1:]]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.blocks[0](x)]
        for block in self.blocks[1:]:
            features.append(block(self.pool(features[-1])))
        return features


class ClassifierEncoder(Encoder):
    """Classifier128 without GAP/FC as a U-Net encoder.

    The skips are the classifier's stage outputs (``backbone.feature_info``: reductions 2, 4, 8,
    16, 32); each passes a 1×1 conv + BN + ReLU adapter to the decoder's width. The classifier
    has no full-resolution map, so a light stem (two 3×3 convs on the input image,
    ``stem_channels``) provides the stride-1 skip. ``backbone`` is the pretrained part: freezing
    it is ``set_trainable(encoder.backbone, False)``.

    ``input_scale=2`` feeds the classifier the image upsampled 2× (bilinear): its stages then see
    scales like the 2×-upsampled 64-px photos it was trained on, and their reductions relative to
    the U-Net input halve (1, 2, 4, 8, 16). ``stem_channels=0`` leaves the light stem out (with
    ``input_scale=2`` the classifier's own first map is already at full resolution).
    """

    def __init__(self, backbone: Classifier128, adapter_channels: Sequence[int] = (32, 64, 128, 144, 176),
                 stem_channels: int = 16, in_channels: int = 3, input_scale: int = 1):
        super().__init__()
        stages = backbone.feature_info
        if len(adapter_channels) != len(stages):
            raise ValueError(f"need one adapter width per classifier stage ({len(stages)}), "
                             f"got {len(adapter_channels)}")
        if input_scale not in (1, 2):
            raise ValueError(f"input_scale must be 1 or 2, not {input_scale}")
        if not stem_channels and stages[0]["reduction"] // input_scale != 1:
            raise ValueError("without the light stem (stem_channels=0) the classifier's first map must be at full "
                             "resolution: use input_scale=2")
        backbone.reset_classifier(0)  # the head is not part of the encoder
        self.backbone = backbone
        self.input_scale = input_scale
        self.stem = DoubleConv(in_channels, stem_channels) if stem_channels else None
        self.adapters = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, a, 1, bias=False), nn.BatchNorm2d(a), nn.ReLU(inplace=True))
            for c, a in zip(stages.channels(), adapter_channels))
        self.classifier_channels = stages.channels()
        self.feature_info = FeatureInfo(
            ([{"num_chs": stem_channels, "reduction": 1, "module": "stem"}] if stem_channels else [])
            + [{"num_chs": a, "reduction": f["reduction"] // input_scale, "module": f"adapters.{i}"}
               for i, (a, f) in enumerate(zip(adapter_channels, stages))])

    def sources(self) -> list[tuple[int, dict] | None]:
        """Per U-Net level, the classifier map that feeds it — (stage position, its ``feature_info`` entry) —
        or None for the light stem's level."""
        return ([None] if self.stem is not None else []) + list(enumerate(self.backbone.feature_info))

    def levels(self) -> list[tuple[str, list[nn.Module]]]:
        b = self.backbone
        first = "input ×2 (bilinear), stem1 (conv, s2) → 1×1" if self.input_scale == 2 else "stem1 (conv, s2) → 1×1"
        rows = ([("new light stem: 2× conv 3×3", [self.stem])] if self.stem is not None else []) + [
                (first, [b.stem1, self.adapters[0]]),
                ("stem2 (s2) + stage1 → 1×1", [b.stem2, b.stages[0], self.adapters[1]])]
        for i in range(1, len(b.stages)):
            rows.append((f"stage{i + 1} (s2) → 1×1", [b.stages[i], self.adapters[i + 1]]))
        return rows

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        inner = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) if self.input_scale == 2 else x
        features = [adapt(f) for adapt, f in zip(self.adapters, self.backbone.forward_intermediates(inner))]
        return ([self.stem(x)] if self.stem is not None else []) + features


class UNetDecoder(nn.Module):
    """Upsample, concatenate the skip, two 3×3 convs — from the coarsest feature map up to the finest.

    Widths: each level's decoder block has as many channels as that level's skip.
    """

    def __init__(self, encoder_channels: Sequence[int]):
        super().__init__()
        chans = list(encoder_channels)
        self.blocks = nn.ModuleList()
        deeper = chans[-1]
        for skip in reversed(chans[:-1]):
            self.blocks.append(DoubleConv(deeper + skip, skip))
            deeper = skip
        self.out_channels = chans[0]

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, reversed(features[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return x


class UNet(Model):
    """encoder → decoder (built from the encoder's ``out_channels``) → 1×1 conv head (``classes`` logits)."""

    def __init__(self, encoder: Encoder, classes: int = 1):
        super().__init__()
        self.encoder = encoder
        self.decoder = UNetDecoder(encoder.out_channels)
        self.head = nn.Conv2d(self.decoder.out_channels, classes, 1)

    @property
    def backbone(self) -> nn.Module | None:
        """The encoder's pretrained part (initialised from another run's weights), if it has one."""
        return getattr(self.encoder, "backbone", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.encoder(x)))

    def level_table(self, size: int = 128) -> list[dict]:
        """One row per level: resolution, how the encoder reaches it, channels, parameters."""
        enc, blocks = self.encoder, self.decoder.blocks
        last = len(enc.out_channels) - 1
        rows = []
        for i, (how, modules) in enumerate(enc.levels()):
            decoder = blocks[last - 1 - i] if i < last else None
            r = enc.reductions[i]
            rows.append({
                "level": i, "stride": r, "resolution": f"{size // r}×{size // r}",
                "encoder": how, "encoder channels": enc.out_channels[i],
                "decoder channels": decoder[-1][0].out_channels if decoder is not None else "— (bottom)",
                "encoder params": sum(p.numel() for m in modules for p in m.parameters()),
                "decoder params": sum(p.numel() for p in decoder.parameters()) if decoder is not None else 0})
        rows.append({"level": "head", "stride": 1, "resolution": f"{size}×{size}",
                     "encoder": f"1×1 conv → {self.head.out_channels} logit{'s' if self.head.out_channels > 1 else ''}",
                     "encoder channels": "—", "decoder channels": self.head.out_channels, "encoder params": 0,
                     "decoder params": sum(p.numel() for p in self.head.parameters())})
        return rows


def UNetBase(channels: Sequence[int] = (32, 64, 128, 144, 176), classes: int = 1) -> UNet:
    """The plain U-Net: 4 levels down (max-pool), 4 up with skips, 32 base channels.

    The widths double up to 128 and then grow slowly (144, 176) to stay within 2.5M parameters.
    """
    return UNet(PlainEncoder(channels), classes)


def UNetBackbone(classifier_config: dict | None = None, adapter_channels: Sequence[int] = (32, 64, 128, 144, 176),
                 stem_channels: int = 16, classes: int = 1, input_scale: int = 1) -> UNet:
    """The U-Net on Classifier128's stages (``classifier_config``: the classifier's stored config;
    load its weights into ``model.backbone``). ``input_scale``/``stem_channels``: see
    :class:`ClassifierEncoder`."""
    kwargs = {k: v for k, v in (classifier_config or {}).items() if k != "name"}
    return UNet(ClassifierEncoder(Classifier128(**kwargs), adapter_channels, stem_channels,
                                  input_scale=input_scale), classes)
