"""numpy-style ``mode="symmetric"`` padding, on device and differentiable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def symmetric_indices(size: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Source indices of a symmetric (edge-repeating) pad of a dimension of ``size``.

    Example:
        >>> symmetric_indices(3, 2, 1, torch.device("cpu")).tolist()
        [1, 0, 0, 1, 2, 2]
    """
    positions = torch.arange(-before, size + after, device=device)
    period = torch.remainder(positions, 2 * size)
    return torch.where(period < size, period, 2 * size - 1 - period)


class SymmetricPadding(torch.autograd.Function):
    """Pad like ``numpy.pad(mode="symmetric")``: the edge pixel is repeated in the mirror.

    ``padding`` holds one ``[before, after]`` pair per dimension of the input. The backward
    pass is the exact adjoint (gradients of mirrored pixels are added back to their source).

    Example:
        >>> x = torch.tensor([[1.0, 2.0, 3.0]])
        >>> SymmetricPadding.apply(x, [[0, 0], [2, 1]]).tolist()
        [[2.0, 1.0, 1.0, 2.0, 3.0, 3.0]]
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, padding: Sequence[Sequence[int]]) -> torch.Tensor:
        if len(padding) != x.dim():
            raise ValueError(
                f"SymmetricPadding needs one [before, after] pair per dimension "
                f"({x.dim()}), got {len(padding)} pairs."
            )
        index_lists = []
        for dim, pair in enumerate(padding):
            before, after = (int(p) for p in pair)
            if before < 0 or after < 0:
                raise ValueError(f"Padding must be non-negative, got {list(pair)} for dim {dim}.")
            index_lists.append(symmetric_indices(x.shape[dim], before, after, x.device))
        ctx.index_lists = index_lists
        ctx.input_shape = x.shape
        out = x
        for dim, indices in enumerate(index_lists):
            out = out.index_select(dim, indices)
        return out

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        grad = grad_output
        for dim in reversed(range(len(ctx.index_lists))):
            shape = list(grad.shape)
            shape[dim] = ctx.input_shape[dim]
            grad = grad.new_zeros(shape).index_add(dim, ctx.index_lists[dim], grad)
        return grad, None
