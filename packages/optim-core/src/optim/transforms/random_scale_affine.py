"""Random zoom through an affine grid (the output size stays the same)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from optim.transforms._affine import check_sample_modes, warp
from optim.transforms._random_value import RandomValueTransform
from optim.transforms._validation import check_4d


class RandomScaleAffine(RandomValueTransform):
    """Zoom the batch by a random factor ``m`` with an affine grid ``[[m, 0, 0], [0, m, 0]]``.

    ``m > 1`` shows more of the plane (padding fills the border), ``m < 1`` zooms in.

    Args:
        scale: factors to pick from (sequence or 1-D tensor) or a scalar distribution.
        mode: ``grid_sample`` interpolation mode.
        padding_mode: ``grid_sample`` padding mode.
        align_corners: passed to ``affine_grid`` and ``grid_sample``.
        generator: optional CPU ``torch.Generator`` for picking from a list.

    Example:
        >>> RandomScaleAffine([0.9, 1.1])(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(
        self,
        scale: Sequence[float] | torch.Tensor | torch.distributions.Distribution,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
        align_corners: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(scale, "RandomScaleAffine scale", generator)
        check_sample_modes(mode, padding_mode, "RandomScaleAffine")
        self.mode = mode
        self.padding_mode = padding_mode
        self.align_corners = align_corners

    def scale_tensor(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        """Zoom ``x`` by ``scale`` (same output shape)."""
        check_4d(x, "RandomScaleAffine")
        matrix = [[scale, 0.0, 0.0], [0.0, scale, 0.0]]
        return warp(x, matrix, self.mode, self.padding_mode, self.align_corners)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale_tensor(x, self.draw())

    def extra_repr(self) -> str:
        return f"scale={self._values_repr()}, mode={self.mode!r}"
