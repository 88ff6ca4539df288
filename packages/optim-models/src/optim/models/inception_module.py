"""The Inception module and auxiliary classifier shared by both InceptionV1 variants."""

from __future__ import annotations

import torch
from torch import nn

from optim.model_utils import Conv2dSame

__all__ = ["AuxBranch", "InceptionModule"]


class InceptionModule(nn.Module):
    """One GoogLeNet "mixed" block: 1x1, 3x3, 5x5 and pool-projection branches, concatenated.

    Its output is the **pre-ReLU** concatenation (Lucid's ``mixedXX_pre_relu``); only the
    two reduce convolutions are followed by an activation inside the module.

    Args:
        in_channels: input channels.
        c1x1: output channels of the 1x1 branch.
        c3x3reduce: channels of the 1x1 reduction before the 3x3 conv.
        c3x3: output channels of the 3x3 branch.
        c5x5reduce: channels of the 1x1 reduction before the 5x5 conv.
        c5x5: output channels of the 5x5 branch.
        pool_proj: output channels of the pool-projection branch.
        activ: the activation class (``nn.ReLU``, ``RedirectedReluLayer`` or ``SkipLayer``).
        p_layer: the pooling class (``nn.MaxPool2d`` or ``nn.AvgPool2d``).

    Example:
        >>> module = InceptionModule(8, 2, 2, 3, 2, 4, 5)
        >>> module(torch.zeros(1, 8, 7, 7)).shape
        torch.Size([1, 14, 7, 7])
    """

    def __init__(
        self,
        in_channels: int,
        c1x1: int,
        c3x3reduce: int,
        c3x3: int,
        c5x5reduce: int,
        c5x5: int,
        pool_proj: int,
        activ: type[nn.Module] = nn.ReLU,
        p_layer: type[nn.Module] = nn.MaxPool2d,
    ) -> None:
        super().__init__()
        self.conv_1x1 = nn.Conv2d(in_channels, c1x1, kernel_size=1)
        self.conv_3x3_reduce = nn.Conv2d(in_channels, c3x3reduce, kernel_size=1)
        self.conv_3x3_reduce_relu = activ()
        self.conv_3x3 = Conv2dSame(c3x3reduce, c3x3, kernel_size=3)
        self.conv_5x5_reduce = nn.Conv2d(in_channels, c5x5reduce, kernel_size=1)
        self.conv_5x5_reduce_relu = activ()
        self.conv_5x5 = Conv2dSame(c5x5reduce, c5x5, kernel_size=5)
        self.pool = p_layer(kernel_size=3, stride=1, padding=1, ceil_mode=True)
        self.pool_proj = nn.Conv2d(in_channels, pool_proj, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch_1x1 = self.conv_1x1(x)
        branch_3x3 = self.conv_3x3(self.conv_3x3_reduce_relu(self.conv_3x3_reduce(x)))
        branch_5x5 = self.conv_5x5(self.conv_5x5_reduce_relu(self.conv_5x5_reduce(x)))
        branch_pool = self.pool_proj(self.pool(x))
        return torch.cat([branch_1x1, branch_3x3, branch_5x5, branch_pool], dim=1)


class AuxBranch(nn.Module):
    """GoogLeNet's auxiliary classifier (attached after mixed4a and mixed4d).

    Example:
        >>> AuxBranch(16, 10)(torch.zeros(2, 16, 14, 14)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, in_channels: int = 508, out_features: int = 1008, activ: type[nn.Module] = nn.ReLU
    ) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = nn.Conv2d(in_channels, 128, kernel_size=1)
        self.conv_relu = activ()
        self.fc1 = nn.Linear(2048, 1024)
        self.fc1_relu = activ()
        self.dropout = nn.Dropout(0.699999988079071)
        self.fc2 = nn.Linear(1024, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_relu(self.conv(self.avg_pool(x)))
        x = self.fc1_relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(self.dropout(x))
