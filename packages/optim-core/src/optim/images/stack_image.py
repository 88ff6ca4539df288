"""Concatenate several parameterizations into one batch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from optim.images.parameterization import ImageParameterization
from optim.images.simple_tensor import SimpleTensorParameterization


def _match_outside(shape: list[int], other: list[int], dim: int) -> bool:
    """Whether two 4-D shapes agree everywhere except along ``dim``."""
    for index in range(4):  # noqa: SIM110 (TorchScript has no generator expressions)
        if index != dim and shape[index] != other[index]:
            return False
    return True


class StackImage(ImageParameterization):
    """Concatenate the outputs of several parameterizations (or fixed tensors) along ``dim``.

    Args:
        parameterizations: parameterization modules and/or tensors.
        dim: concatenation dimension (0: batch).
        output_device: move every output to this device before concatenating.

    Example:
        >>> from optim.images import PixelImage
        >>> stack = StackImage([PixelImage((8, 8)), torch.zeros(1, 3, 8, 8)])
        >>> stack().shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(
        self,
        parameterizations: Sequence[nn.Module | torch.Tensor],
        dim: int = 0,
        output_device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if len(parameterizations) == 0:
            raise ValueError("StackImage needs at least one parameterization or tensor.")
        modules: list[nn.Module] = []
        for item in parameterizations:
            if isinstance(item, torch.Tensor):
                modules.append(SimpleTensorParameterization(item))
            elif isinstance(item, nn.Module):
                modules.append(item)
            else:
                raise TypeError(
                    "StackImage accepts parameterization modules and tensors, got "
                    f"{type(item).__name__}."
                )
        self.parameterizations = nn.ModuleList(modules)
        self.dim = dim
        self.output_device = None if output_device is None else torch.device(output_device)

    def forward(self) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for parameterization in self.parameterizations:
            output = parameterization()
            if self.output_device is not None:
                output = output.to(self.output_device)
            outputs.append(output)
        first = outputs[0]
        for output in outputs:
            same_rank = output.dim() == 4 and first.dim() == 4
            if not same_rank or not _match_outside(
                list(output.shape), list(first.shape), self.dim % 4
            ):
                raise ValueError(
                    "StackImage needs 4-D outputs that match outside dim "
                    f"{self.dim}, got {list(first.shape)} and {list(output.shape)}."
                )
            if output.device != first.device:
                raise ValueError("StackImage outputs are on different devices; pass output_device.")
        return torch.cat(outputs, dim=self.dim)
