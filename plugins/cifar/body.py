"""A small CNN body for 32x32 images, trained from scratch."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

import torch
from torch import nn

from tartan_fw.common.constraints import PositiveInt
from tartan_fw.data.root import DataRoot
from tartan_fw.models.bodies import Body

DEFAULT_CHANNELS = [32, 64, 128]


@Body.register("cifar_cnn")
class SmallCnnBody(Body):
    """Three stages of two 3x3 convolutions (GroupNorm, ReLU) each followed by 2x2 max-pooling, then
    global average pooling: 32x32 images to one feature vector.

    GroupNorm rather than BatchNorm: every task's batch, and META-TARTAN's dev batches, pass through
    the shared body in turn, and batch statistics would mix them (running statistics would even
    absorb dev images). The pooled features come back as a sequence of length one, ``(batch, 1,
    channels)``, so heads that read the first position (the ``classification`` head) work unchanged.

    Args:
        channels: widths of the three stages (the last is the feature size).
        groups: GroupNorm groups per layer (must divide every width).
    """

    def __init__(self, data_root: DataRoot, channels: Optional[List[PositiveInt]] = None, groups: PositiveInt = 8) -> None:
        super().__init__()
        widths = channels or DEFAULT_CHANNELS
        layers: list[nn.Module] = []
        previous = 3
        for width in widths:
            for _ in range(2):
                layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False), nn.GroupNorm(groups, width), nn.ReLU()]
                previous = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.width = widths[-1]

    @classmethod
    def argument_problems(cls, arguments: Mapping[str, Any]) -> dict[str, str]:
        widths, groups = arguments["channels"] or DEFAULT_CHANNELS, arguments["groups"]
        if len(widths) != 3 or any(w % groups for w in widths):
            return {"channels": f"must be three widths divisible by groups={groups}, got {widths}"}
        return {}

    @property
    def hidden_size(self) -> int:
        return self.width

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(batch, 3, 32, 32)`` normalised images to ``(batch, 1, channels)`` pooled features."""
        return self.features(images).mean(dim=(2, 3)).unsqueeze(1)
