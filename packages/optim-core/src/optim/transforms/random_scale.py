"""Random resizing (the output size changes)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from optim.transforms._random_value import RandomValueTransform
from optim.transforms._validation import check_4d

_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area")
_ANTIALIAS_MODES = ("bilinear", "bicubic")


class RandomScale(RandomValueTransform):
    """Resize the batch by a random factor drawn from ``scale`` (``F.interpolate``).

    Unlike :class:`RandomScaleAffine` the output size changes with the factor.

    Args:
        scale: factors to pick from uniformly (sequence or 1-D tensor), or a scalar
            ``torch.distributions.Distribution`` to sample (that draws from the global RNG).
        mode: interpolation mode, one of ``nearest``, ``nearest-exact``, ``bilinear``,
            ``bicubic``, ``area``.
        align_corners: passed to ``F.interpolate`` (ignored for nearest/area modes).
        recompute_scale_factor: passed to ``F.interpolate``.
        antialias: anti-alias when downscaling (bilinear/bicubic only).
        generator: optional CPU ``torch.Generator`` for picking from a list.

    Example:
        >>> scale = RandomScale([0.5], generator=torch.Generator().manual_seed(0))
        >>> scale(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 4, 4])
    """

    __jit_unused_properties__ = ["scale"]

    def __init__(
        self,
        scale: Sequence[float] | torch.Tensor | torch.distributions.Distribution,
        mode: str = "bilinear",
        align_corners: bool = False,
        recompute_scale_factor: bool = False,
        antialias: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(scale, "RandomScale scale", generator)
        if mode not in _MODES:
            raise ValueError(
                f"RandomScale mode must be one of {_MODES} for 4-D images, got {mode!r}."
            )
        if antialias and mode not in _ANTIALIAS_MODES:
            raise ValueError(f"antialias=True needs mode in {_ANTIALIAS_MODES}, got {mode!r}.")
        if any(v <= 0 for v in self.values):
            raise ValueError(f"RandomScale factors must be positive, got {self.values}.")
        self.mode = mode
        self.align_corners: bool | None = (
            None if mode in ("nearest", "nearest-exact", "area") else align_corners
        )
        self.recompute_scale_factor = recompute_scale_factor
        self.antialias = antialias

    @property
    def scale(self) -> list[float] | torch.distributions.Distribution:
        """The factors to pick from, or the distribution to sample."""
        return self.distribution if self.distribution is not None else self.values

    def scale_tensor(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        """Resize ``x`` by the factor ``scale``.

        Example:
            >>> RandomScale([1.0]).scale_tensor(torch.rand(1, 3, 4, 4), 2.0).shape
            torch.Size([1, 3, 8, 8])
        """
        check_4d(x, "RandomScale")
        half = x.dtype == torch.float16 or x.dtype == torch.bfloat16
        if self.antialias and half and x.device.type == "cpu":
            raise TypeError(
                "RandomScale(antialias=True) is not supported for float16/bfloat16 on CPU by "
                "torch; use float32/float64 or antialias=False."
            )
        return F.interpolate(
            x,
            scale_factor=scale,
            mode=self.mode,
            align_corners=self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
            antialias=self.antialias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale_tensor(x, self.draw())

    def extra_repr(self) -> str:
        return f"scale={self._values_repr()}, mode={self.mode!r}"
