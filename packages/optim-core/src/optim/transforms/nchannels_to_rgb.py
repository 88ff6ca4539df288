"""Any channel count -> RGB, as a module."""

from __future__ import annotations

import torch
from torch import nn

from optim.image_utils.colors import nchannels_to_rgb


class NChannelsToRGB(nn.Module):
    """Module version of :func:`optim.image_utils.nchannels_to_rgb`.

    Note the default ``warp=False`` here (the function defaults to ``warp=True``).

    Example:
        >>> NChannelsToRGB()(torch.rand(1, 5, 4, 4)).shape
        torch.Size([1, 3, 4, 4])
    """

    def __init__(self, warp: bool = False) -> None:
        super().__init__()
        self.warp = warp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nchannels_to_rgb(x, warp=self.warp)
