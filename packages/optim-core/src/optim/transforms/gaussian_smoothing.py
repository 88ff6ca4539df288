"""Depthwise Gaussian blur in 1, 2 or 3 dimensions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from optim.checks import check_int, is_real


class SmoothingDimError(ValueError, RuntimeError):
    """An unsupported ``dim``: a ``RuntimeError`` as the spec row says, and a ``ValueError``
    like every other bad argument of optim."""


def _per_dim(value: float | Sequence[float], dim: int, name: str) -> list[float]:
    if is_real(value):
        values = [value] * dim
    elif isinstance(value, Iterable):
        values = list(value)
    else:
        raise TypeError(f"{name} must be a number or a sequence of {dim}, got {value!r}.")
    if len(values) != dim:
        raise ValueError(f"{name} needs 1 or {dim} values for dim={dim}, got {value!r}.")
    return values


class GaussianSmoothing(nn.Module):
    """Blur each channel separately with a normalised Gaussian kernel.

    The kernel is the product of 1-D Gaussians (centred at ``(size - 1) / 2``) and sums to 1.

    Args:
        channels: number of input channels.
        kernel_size: kernel size per spatial dim (int or sequence).
        sigma: standard deviation per spatial dim (float or sequence).
        dim: number of spatial dims (1, 2 or 3).
        padding: convolution padding (``"same"``, ``"valid"`` or ints).

    Example:
        >>> blur = GaussianSmoothing(3, kernel_size=3, sigma=1.0)
        >>> blur(torch.ones(1, 3, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int | Sequence[int],
        sigma: float | Sequence[float],
        dim: int = 2,
        padding: str | int | Sequence[int] = "same",
    ) -> None:
        super().__init__()
        if dim not in (1, 2, 3):
            raise SmoothingDimError(f"GaussianSmoothing supports dim 1, 2 or 3, got {dim}.")
        check_int(channels, "channels", minimum=1)
        sizes = [int(s) for s in _per_dim(kernel_size, dim, "kernel_size")]
        sigmas = _per_dim(sigma, dim, "sigma")
        if min(sizes) < 1 or min(sigmas) <= 0:
            raise ValueError("kernel_size values must be >= 1 and sigma values > 0.")
        kernel = torch.ones(())
        for size, std in zip(sizes, sigmas):
            coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
            gauss = torch.exp(-((coords / std) ** 2) / 2) / (std * math.sqrt(2 * math.pi))
            kernel = kernel.unsqueeze(-1) * gauss
        kernel = (kernel / kernel.sum()).to(torch.get_default_dtype())
        self.weight: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer("weight", kernel.expand(channels, 1, *sizes).contiguous())
        self.groups = channels
        self.dim = dim
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be 'same', 'valid' or ints, got {padding!r}.")
            self.padding_name, self.padding_sizes = padding, [0] * dim
        else:
            sizes = [int(p) for p in _per_dim(padding, dim, "padding")]
            self.padding_name, self.padding_sizes = "", sizes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.dim + 2:
            raise ValueError(
                f"GaussianSmoothing(dim={self.dim}) expects a {self.dim + 2}-D input, "
                f"got shape {list(x.shape)}."
            )
        if x.shape[1] != self.groups:
            raise ValueError(f"Expected {self.groups} channels, got {x.shape[1]}.")
        weight = self.weight.to(dtype=x.dtype)
        if self.padding_name != "":
            if self.dim == 1:
                return F.conv1d(x, weight, groups=self.groups, padding=self.padding_name)
            if self.dim == 2:
                return F.conv2d(x, weight, groups=self.groups, padding=self.padding_name)
            return F.conv3d(x, weight, groups=self.groups, padding=self.padding_name)
        if self.dim == 1:
            return F.conv1d(x, weight, groups=self.groups, padding=self.padding_sizes)
        if self.dim == 2:
            return F.conv2d(x, weight, groups=self.groups, padding=self.padding_sizes)
        return F.conv3d(x, weight, groups=self.groups, padding=self.padding_sizes)
