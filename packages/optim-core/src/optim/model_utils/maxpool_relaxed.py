"""Max pooling whose gradient is that of average pooling (Lucid's smoothed max-pool)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.common_types import _size_2_t

__all__ = ["MaxPool2dRelaxed"]


class MaxPool2dRelaxed(nn.Module):
    """Max pooling forward, average pooling backward.

    Computes ``maxpool(x.detach()) + avgpool(x) - avgpool(x.detach())``: the value equals
    max pooling while the gradient spreads over the whole window as average pooling does
    (Lucid's ``smoothed_maxpool_grad``). Useful for attribution through max pools. Its
    attributes match ``nn.MaxPool2d``'s, so ``replace_layers(model, nn.MaxPool2d,
    MaxPool2dRelaxed, transfer_vars=True)`` converts a model.

    Args:
        kernel_size: the pooling window.
        stride: the window stride (default: ``kernel_size``).
        padding: implicit padding on both sides.
        ceil_mode: use ceil instead of floor for the output size.

    Example:
        >>> pool = MaxPool2dRelaxed(2)
        >>> pool(torch.arange(16.0).view(1, 1, 4, 4)).flatten().tolist()
        [5.0, 7.0, 13.0, 15.0]
    """

    def __init__(
        self,
        kernel_size: _size_2_t,
        stride: _size_2_t | None = None,
        padding: _size_2_t = 0,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (3, 4):
            raise ValueError(
                f"MaxPool2dRelaxed expects a CHW or NCHW tensor, got shape {tuple(x.shape)}"
            )
        args = (self.kernel_size, self.stride, self.padding)
        detached = x.detach()
        max_pooled = F.max_pool2d(detached, *args, ceil_mode=self.ceil_mode)
        avg = F.avg_pool2d(x, *args, ceil_mode=self.ceil_mode)
        # (avg - avg.detach()) is exactly zero, so the value is max pooling's to the bit;
        # left to right, max + avg - avg would round.
        return max_pooled + (avg - avg.detach())

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"ceil_mode={self.ceil_mode}"
        )
