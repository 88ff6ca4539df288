"""2D convolution with TensorFlow's "SAME" padding."""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.common_types import _size_2_t

__all__ = ["Conv2dSame", "same_padding"]


def same_padding(size: int, kernel_size: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one dimension as ``(before, after)``.

    The total is ``max((ceil(size / stride) - 1) * stride + (kernel_size - 1) * dilation + 1
    - size, 0)``; when it is odd the extra pixel goes after (right / bottom).

    Example:
        >>> same_padding(224, kernel_size=7, stride=2, dilation=1)
        (2, 3)
    """
    total = max(
        (math.ceil(size / stride) - 1) * stride + (kernel_size - 1) * dilation + 1 - size, 0
    )
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow "SAME" padding (the output is ``ceil(input / stride)``).

    Models imported from TensorFlow/Caffe (InceptionV1, EfficientNet-Lite) pad
    asymmetrically when the total padding is odd. When the padding is symmetric it is
    done by the convolution itself; otherwise the input is padded first. The ``padding``
    argument exists for signature compatibility with ``nn.Conv2d`` and is ignored.

    Example:
        >>> conv = Conv2dSame(3, 8, kernel_size=3, stride=2)
        >>> conv(torch.zeros(1, 3, 15, 15)).shape
        torch.Size([1, 8, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size_2_t,
        stride: _size_2_t = 1,
        padding: _size_2_t | str = 0,
        dilation: _size_2_t = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        if padding not in (0, (0, 0), "same", "SAME"):
            warnings.warn(
                f"Conv2dSame ignores padding={padding!r}: it always pads TensorFlow-style "
                "('SAME'). Use nn.Conv2d for explicit padding.",
                UserWarning,
                stacklevel=2,
            )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=0,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (3, 4):
            raise ValueError(f"Conv2dSame expects a CHW or NCHW tensor, got shape {list(x.shape)}")
        top, bottom = same_padding(
            x.shape[-2], self.kernel_size[0], self.stride[0], self.dilation[0]
        )
        left, right = same_padding(
            x.shape[-1], self.kernel_size[1], self.stride[1], self.dilation[1]
        )
        if top == bottom and left == right:
            padding: tuple[int, int] = (top, left)
        else:
            x = F.pad(x, [left, right, top, bottom])
            padding = (0, 0)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)
