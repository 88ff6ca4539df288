"""Laplacian-pyramid image parameterization."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from optim.images._init_checks import image_geometry
from optim.images.parameterization import ImageParameterization

DEFAULT_SCALES: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class LaplacianImage(ImageParameterization):
    """Sum of nearest-upsampled tensors at several resolutions, plus 0.5.

    The tensor at scale ``s`` has size (H/s, W/s) and is weighted by ``s^power /
    max(scale_list)^power``, so coarse levels carry more of the image.

    Args:
        size: (height, width); every scale must divide both.
        channels: number of channels.
        batch: number of images.
        init: optional CHW or NCHW image; each level starts as its bilinear downsample / 10.
        power: exponent of the per-level weight.
        scale_list: the downsampling factors.
        generator: optional ``torch.Generator`` for the random init.

    Example:
        >>> LaplacianImage((32, 32), scale_list=[1.0, 2.0, 4.0])().shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(
        self,
        size: int | Sequence[int] = (224, 224),
        channels: int = 3,
        batch: int = 1,
        init: torch.Tensor | None = None,
        power: float = 0.1,
        scale_list: Sequence[float] = DEFAULT_SCALES,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        init, batch, channels, height, width = image_geometry(
            size, channels, batch, init, "LaplacianImage"
        )
        scales = [float(s) for s in scale_list]
        if not scales or min(scales) <= 0:
            raise ValueError(f"scale_list must hold positive scales, got {list(scale_list)}.")
        bad = [s for s in scales if height % s or width % s]
        if bad:
            raise ValueError(
                f"LaplacianImage size {height}x{width} must be divisible by every scale; "
                f"{bad} do not divide it. Use a size that is a multiple of {int(max(scales))}."
            )
        self.size = (height, width)
        self.scales = scales
        top = max(scales) ** power
        self.level_weights = [s**power / top for s in scales]
        levels = []
        for s in scales:
            level_size = (int(height // s), int(width // s))
            if init is None:
                level = torch.randn(batch, channels, *level_size, generator=generator) / 10
            else:
                level = (
                    F.interpolate(init, size=level_size, mode="bilinear", align_corners=False) / 10
                )
            levels.append(nn.Parameter(level))
        self.tensor_params = nn.ParameterList(levels)

    def forward(self) -> torch.Tensor:
        upsampled: list[torch.Tensor] = []
        for index, level in enumerate(self.tensor_params):
            weighted = level * self.level_weights[index]
            upsampled.append(F.interpolate(weighted, size=self.size, mode="nearest"))
        return torch.stack(upsampled).sum(0) + 0.5
