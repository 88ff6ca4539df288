"""Base classes of the input parameterizations."""

from __future__ import annotations

import torch
from torch import nn


class InputParameterization(nn.Module):
    """Base class of everything ``InputOptimization`` optimises: ``forward()`` builds the input.

    Example:
        >>> class Constant(InputParameterization):
        ...     def forward(self):
        ...         return torch.zeros(1)
        >>> Constant()().shape
        torch.Size([1])
    """

    def forward(self) -> torch.Tensor:
        raise NotImplementedError(
            f"{type(self).__name__} must implement forward() returning the input tensor."
        )


class ImageParameterization(InputParameterization):
    """Marker base class of image parameterizations (forward returns NCHW).

    Example:
        >>> issubclass(ImageParameterization, InputParameterization)
        True
    """
