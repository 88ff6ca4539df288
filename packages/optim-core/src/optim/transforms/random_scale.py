"""Random resizing (the output size changes)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from optim.transforms._validation import as_values_or_distribution, check_4d, sample_value

_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area")
_ANTIALIAS_MODES = ("bilinear", "bicubic")


class RandomScale(nn.Module):
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
        generator: optional ``torch.Generator`` for picking from a list.

    Example:
        >>> scale = RandomScale([0.5], generator=torch.Generator().manual_seed(0))
        >>> scale(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 4, 4])
    """

    def __init__(
        self,
        scale: Sequence[float] | torch.Tensor | torch.distributions.Distribution,
        mode: str = "bilinear",
        align_corners: bool = False,
        recompute_scale_factor: bool = False,
        antialias: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(
                f"RandomScale mode must be one of {_MODES} for 4-D images, got {mode!r}."
            )
        if antialias and mode not in _ANTIALIAS_MODES:
            raise ValueError(f"antialias=True needs mode in {_ANTIALIAS_MODES}, got {mode!r}.")
        self.scale = as_values_or_distribution(scale, "RandomScale scale")
        if isinstance(self.scale, torch.Tensor) and bool((self.scale <= 0).any()):
            raise ValueError(f"RandomScale factors must be positive, got {self.scale.tolist()}.")
        self.mode = mode
        self.align_corners = None if mode in ("nearest", "nearest-exact", "area") else align_corners
        self.recompute_scale_factor = recompute_scale_factor
        self.antialias = antialias
        self.generator = generator

    def scale_tensor(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        """Resize ``x`` by the factor ``scale``.

        Example:
            >>> RandomScale([1.0]).scale_tensor(torch.rand(1, 3, 4, 4), 2.0).shape
            torch.Size([1, 3, 8, 8])
        """
        check_4d(x, "RandomScale")
        if self.antialias and x.device.type == "cpu" and x.dtype in (torch.float16, torch.bfloat16):
            raise TypeError(
                f"RandomScale(antialias=True) is not supported for {x.dtype} on CPU by torch; "
                "use float32/float64 or antialias=False."
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
        return self.scale_tensor(x, sample_value(self.scale, self.generator))

    def extra_repr(self) -> str:
        values = (
            self.scale if not isinstance(self.scale, torch.Tensor) else f"{len(self.scale)} values"
        )
        return f"scale={values}, mode={self.mode!r}"
