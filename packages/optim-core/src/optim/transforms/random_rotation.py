"""Random rotation through an affine grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from optim.transforms._affine import check_sample_modes, warp
from optim.transforms._random_value import RandomValueTransform
from optim.transforms._validation import check_4d


class RandomRotation(RandomValueTransform):
    """Rotate the batch by a random angle in degrees (same output shape).

    The rotation is rigid in pixels: for a square image the matrix is
    ``[[cos, -sin, 0], [sin, cos, 0]]`` in ``affine_grid``'s normalised coordinates, and for
    an ``H x W`` image the off-diagonal terms are scaled by ``H/W`` and ``W/H`` (the
    unscaled matrix would shear it). The corners are filled according to ``padding_mode``.

    Args:
        degrees: angles to pick from (sequence or 1-D tensor) or a scalar distribution.
        mode: ``grid_sample`` interpolation mode.
        padding_mode: ``grid_sample`` padding mode.
        align_corners: passed to ``affine_grid`` and ``grid_sample``.
        generator: optional CPU ``torch.Generator`` for picking from a list.

    Example:
        >>> RandomRotation([-5, 5])(torch.rand(2, 3, 8, 8)).shape
        torch.Size([2, 3, 8, 8])
    """

    __jit_unused_properties__ = ["degrees"]

    def __init__(
        self,
        degrees: Sequence[float] | torch.Tensor | torch.distributions.Distribution,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
        align_corners: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(degrees, "RandomRotation degrees", generator)
        check_sample_modes(mode, padding_mode, "RandomRotation")
        self.mode = mode
        self.padding_mode = padding_mode
        self.align_corners = align_corners

    @property
    def degrees(self) -> list[float] | torch.distributions.Distribution:
        """The angles to pick from, or the distribution to sample."""
        return self.distribution if self.distribution is not None else self.values

    def rotate_tensor(self, x: torch.Tensor, degrees: float) -> torch.Tensor:
        """Rotate ``x`` by ``degrees``.

        Example:
            >>> x = torch.rand(1, 1, 4, 4)
            >>> torch.allclose(RandomRotation([0]).rotate_tensor(x, 0.0), x)
            True
        """
        check_4d(x, "RandomRotation")
        theta = degrees * math.pi / 180.0
        cos, sin = math.cos(theta), math.sin(theta)
        # Normalised coordinates span the height and the width (their pixel centres with
        # align_corners) with the same [-1, 1]; the aspect ratio keeps the rotation rigid.
        trim = 1 if self.align_corners else 0
        height, width = max(x.shape[2] - trim, 1), max(x.shape[3] - trim, 1)
        matrix = [[cos, -sin * height / width, 0.0], [sin * width / height, cos, 0.0]]
        return warp(x, matrix, self.mode, self.padding_mode, self.align_corners)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rotate_tensor(x, self.draw())

    def extra_repr(self) -> str:
        return f"degrees={self._values_repr()}, mode={self.mode!r}"
