"""Small deterministic transforms: input range scaling and channel order."""

from __future__ import annotations

import torch
from torch import nn

from optim.transforms._validation import check_4d


class ScaleInputRange(nn.Module):
    """Multiply the input by ``multiplier`` (e.g. 255 for models trained on [0, 255]).

    Example:
        >>> ScaleInputRange(255.0)(torch.ones(1)).item()
        255.0
    """

    def __init__(self, multiplier: float = 1.0) -> None:
        super().__init__()
        self.multiplier = float(multiplier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.multiplier

    def extra_repr(self) -> str:
        return f"multiplier={self.multiplier}"


class RGBToBGR(nn.Module):
    """Reverse the channel order of a 3-channel NCHW batch.

    Example:
        >>> RGBToBGR()(torch.arange(3.0).view(1, 3, 1, 1)).flatten().tolist()
        [2.0, 1.0, 0.0]
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_4d(x, "RGBToBGR")
        if x.shape[1] != 3:
            raise ValueError(f"RGBToBGR expects 3 channels, got {x.shape[1]}.")
        return x.flip(1)
