"""A parameterization that returns a stored tensor."""

from __future__ import annotations

import torch
from torch import nn

from optim.images.parameterization import ImageParameterization


class SimpleTensorParameterization(ImageParameterization):
    """Return a fixed tensor; it is optimised (a Parameter) when it requires grad.

    Example:
        >>> SimpleTensorParameterization(torch.zeros(1, 3, 4, 4))().shape
        torch.Size([1, 3, 4, 4])
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(
                f"SimpleTensorParameterization needs a tensor, got {type(tensor).__name__}."
            )
        tensor = tensor.as_subclass(torch.Tensor)
        if tensor.requires_grad:
            self.tensor = nn.Parameter(tensor.detach())
        else:
            self.register_buffer("tensor", tensor)

    def forward(self) -> torch.Tensor:
        return self.tensor
