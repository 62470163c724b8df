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

from .base import Encoder, FeatureInfo, Model, count_parameters, total_parameters
from .classifier import Classifier128, conv_bn_relu

# the default widths of the U-Nets' levels, fine to coarse (UNetBase's encoder; UNetBackbone's adapters):
# doubling up to 128, then growing slowly to stay within UNetBase's 2.5M parameters
UNET_WIDTHS = (32, 64, 128, 144, 176)


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(conv_bn_relu(cin, cout), conv_bn_relu(cout, cout))


def _stride(module: nn.Module) -> int:
    """The stride of a module's first convolution (how much it downsamples)."""
    return next(m for m in module.modules() if isinstance(m, nn.Conv2d)).stride[0]


class PlainEncoder(Encoder):
    """The U-Net contracting path: a double conv at full resolution, then max-pool + double conv per level.

    ``channels[0]`` is the base width (32); ``len(channels) - 1`` levels down. ``input_scale=2`` runs the
    whole U-Net on the image upsampled 2× (bilinear) — the probe of what UNetBackbone's 2× input gives a plain
    U-Net (4× the compute); :class:`UNet` averages the logits back to the input's size.
    """

    def __init__(self, channels: Sequence[int] = UNET_WIDTHS, in_channels: int = 3, input_scale: int = 1):
        super().__init__()
        if input_scale not in (1, 2):
            raise ValueError(f"input_scale must be 1 or 2, not {input_scale}")
        self.input_scale = input_scale
        self.blocks = nn.ModuleList([DoubleConv(in_channels, channels[0])])
        self.blocks.extend(DoubleConv(a, b) for a, b in zip(channels[:-1], channels[1:]))
        self.pool = nn.MaxPool2d(2)
        self.feature_info = FeatureInfo(
            {"num_chs": c, "reduction": 2**i / input_scale if input_scale != 1 else 2**i, "module": f"blocks.{i}"}
            for i, c in enumerate(channels)
        )

    def levels(self) -> list[dict]:
        """Per level: ``pool`` (max-pool 2×2 first) and ``convs`` (3×3 convs), besides the common facts."""
        return [
            {
                "level": i,
                "reduction": info["reduction"],
                "channels": info["num_chs"],
                "pool": i > 0,
                "convs": len(block),
                "params": count_parameters(block)[0],
            }
            for i, (block, info) in enumerate(zip(self.blocks, self.feature_info))
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.input_scale == 2:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
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

    def __init__(
        self,
        backbone: Classifier128,
        adapter_channels: Sequence[int] = UNET_WIDTHS,
        stem_channels: int = 16,
        in_channels: int = 3,
        input_scale: int = 1,
    ):
        super().__init__()
        stages = backbone.feature_info
        if len(adapter_channels) != len(stages):
            raise ValueError(
                f"need one adapter width per classifier stage ({len(stages)}), got {len(adapter_channels)}"
            )
        if input_scale not in (1, 2):
            raise ValueError(f"input_scale must be 1 or 2, not {input_scale}")
        if not stem_channels and stages[0]["reduction"] // input_scale != 1:
            raise ValueError(
                "without the light stem (stem_channels=0) the classifier's first map must be at full "
                "resolution: use input_scale=2"
            )
        backbone.reset_classifier(0)  # the head is not part of the encoder
        self.backbone = backbone
        self.input_scale = input_scale
        self.stem = DoubleConv(in_channels, stem_channels) if stem_channels else None
        self.adapters = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, a, 1, bias=False), nn.BatchNorm2d(a), nn.ReLU(inplace=True))
            for c, a in zip(stages.channels(), adapter_channels)
        )
        self.classifier_channels = stages.channels()
        self.feature_info = FeatureInfo(
            ([{"num_chs": stem_channels, "reduction": 1, "module": "stem"}] if stem_channels else [])
            + [
                {"num_chs": a, "reduction": f["reduction"] // input_scale, "module": f"adapters.{i}"}
                for i, (a, f) in enumerate(zip(adapter_channels, stages))
            ]
        )

    def sources(self) -> list[tuple[int, dict] | None]:
        """Per U-Net level, the classifier map that feeds it — (stage position, its ``feature_info`` entry) —
        or None for the light stem's level."""
        return ([None] if self.stem is not None else []) + list(enumerate(self.backbone.feature_info))

    def levels(self) -> list[dict]:
        """Per level, besides the common facts: ``source`` — ``"stem"`` (the light stem: ``convs`` 3×3 convs
        on the input) or ``"backbone"``; for the latter ``parts``, the classifier's parts that compute it
        from the previous level's map, as ``(name, stride)`` pairs, ``input_scale`` (the input is upsampled
        that much before the first part) and ``adapter`` (1×1 conv: classifier channels → level channels).
        ``params`` counts the parts and the adapter."""
        b = self.backbone
        # the classifier modules behind each of its maps (feature_info order): stem1 | stem2 + stage1 | stage k
        groups = [[("stem1", b.stem1)], [("stem2", b.stem2), ("stage1", b.stages[0])]] + [
            [(f"stage{k + 1}", b.stages[k])] for k in range(1, len(b.stages))
        ]
        rows = []
        if self.stem is not None:
            rows.append({"source": "stem", "convs": len(self.stem), "params": count_parameters(self.stem)[0]})
        for i, (group, adapter) in enumerate(zip(groups, self.adapters)):
            rows.append(
                {
                    "source": "backbone",
                    "parts": [(name, _stride(m)) for name, m in group],
                    "input_scale": self.input_scale if i == 0 else 1,
                    "adapter": (adapter[0].in_channels, adapter[0].out_channels),
                    "params": total_parameters([m for _, m in group] + [adapter]),
                }
            )
        return [
            {"level": i, "reduction": info["reduction"], "channels": info["num_chs"], **row}
            for i, (row, info) in enumerate(zip(rows, self.feature_info))
        ]

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
        logits = self.head(self.decoder(self.encoder(x)))
        if logits.shape[-2:] != x.shape[-2:]:  # an encoder that ran on an upsampled input: back to the input's grid
            logits = F.adaptive_avg_pool2d(logits, x.shape[-2:])
        return logits

    def levels(self) -> list[dict]:
        """Per level, fine to coarse: ``level``, ``reduction``, ``encoder`` (the encoder's facts of the level,
        :meth:`Encoder.levels`), ``encoder_channels``, ``encoder_params``, ``decoder_channels`` and
        ``decoder_params`` (None and 0 at the bottom, which has no decoder block)."""
        blocks = self.decoder.blocks
        last = len(self.encoder.out_channels) - 1
        rows = []
        for i, level in enumerate(self.encoder.levels()):
            decoder = blocks[last - 1 - i] if i < last else None
            rows.append(
                {
                    "level": i,
                    "reduction": level["reduction"],
                    "encoder": level,
                    "encoder_channels": level["channels"],
                    "encoder_params": level["params"],
                    "decoder_channels": decoder[-1][0].out_channels if decoder is not None else None,
                    "decoder_params": count_parameters(decoder)[0] if decoder is not None else 0,
                }
            )
        return rows

    def head_facts(self) -> dict:
        """The 1×1 conv head: ``in_channels``, ``classes`` (logits out), ``params``."""
        return {
            "in_channels": self.head.in_channels,
            "classes": self.head.out_channels,
            "params": count_parameters(self.head)[0],
        }


def UNetBase(channels: Sequence[int] = UNET_WIDTHS, classes: int = 1, input_scale: int = 1) -> UNet:
    """The plain U-Net: 4 levels down (max-pool), 4 up with skips, 32 base channels.

    The widths double up to 128 and then grow slowly (144, 176) to stay within 2.5M parameters.
    ``input_scale``: see :class:`PlainEncoder`.
    """
    return UNet(PlainEncoder(channels, input_scale=input_scale), classes)


def UNetBackbone(
    classifier_config: dict | None = None,
    adapter_channels: Sequence[int] = UNET_WIDTHS,
    stem_channels: int = 16,
    classes: int = 1,
    input_scale: int = 1,
) -> UNet:
    """The U-Net on Classifier128's stages (``classifier_config``: the classifier's stored config;
    load its weights into ``model.backbone``). ``input_scale``/``stem_channels``: see
    :class:`ClassifierEncoder`."""
    kwargs = {k: v for k, v in (classifier_config or {}).items() if k != "name"}
    return UNet(
        ClassifierEncoder(Classifier128(**kwargs), adapter_channels, stem_channels, input_scale=input_scale), classes
    )
