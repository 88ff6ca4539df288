"""Plain pixel parameterization."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from optim.images._init_checks import image_geometry
from optim.images.parameterization import ImageParameterization


class PixelImage(ImageParameterization):
    """Optimise the pixels directly: ``image`` = randn/10 + 0.5, or ``init``.

    Args:
        size: (height, width); ignored when ``init`` is given.
        channels: number of channels.
        batch: number of images.
        init: optional CHW or NCHW starting image.
        generator: optional ``torch.Generator`` for the random init.

    Example:
        >>> PixelImage((8, 8), batch=2)().shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        channels: int = 3,
        batch: int = 1,
        init: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        init, batch, channels, height, width = image_geometry(
            size, channels, batch, init, "PixelImage"
        )
        if init is None:
            init = torch.randn(batch, channels, height, width, generator=generator) / 10 + 0.5
        self.image = nn.Parameter(init)

    def forward(self) -> torch.Tensor:
        return self.image
