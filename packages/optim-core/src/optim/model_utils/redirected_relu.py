"""Redirected ReLU: a ReLU whose backward pass never goes completely dead.

A plain ReLU blocks every gradient whose input is negative. At the start of a render the
target can sit entirely behind such ReLUs, so the image receives no gradient at all and
stays grey. The redirected version lets the gradient through in that case only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["RedirectedReLU", "RedirectedReluLayer"]


class RedirectedReLU(torch.autograd.Function):
    """ReLU forward; ReLU backward unless that gradient is zero everywhere.

    The backward pass masks ``grad_output`` where the input is negative (as ReLU does). If
    the masked gradient is all zeros, ``grad_output`` is passed through unchanged instead,
    so that optimisation can leave a region where the target is dead. The choice is made on
    the tensor's device (no host synchronisation).

    Example:
        >>> x = torch.tensor([-1.0, -2.0], requires_grad=True)
        >>> RedirectedReLU.apply(x).sum().backward()
        >>> x.grad
        tensor([1., 1.])
    """

    @staticmethod
    def forward(ctx: Any, input: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        (input,) = ctx.saved_tensors
        # torch.where(input < 0, 0, grad_output) in one pass: threshold_backward zeroes where
        # input <= threshold, and with minus the smallest subnormal that is exactly input < 0
        # (-0.0 and 0 keep their gradient, as in Lucid).
        finfo = torch.finfo(input.dtype)
        relu_grad = torch.ops.aten.threshold_backward(grad_output, input, -finfo.tiny * finfo.eps)
        # Decided on the device: a Python ``if`` would wait for the GPU at every ReLU and step
        # and could not be captured in a CUDA graph.
        return torch.where(relu_grad.any(), relu_grad, grad_output)


class RedirectedReluLayer(nn.Module):
    """An ``nn.Module`` wrapper of :class:`RedirectedReLU` (a drop-in ``nn.ReLU`` replacement).

    Extra constructor arguments (such as ``inplace`` when replacing ``nn.ReLU(inplace=True)``
    with ``transfer_vars=True``) are accepted and ignored: the layer never works in place.

    Example:
        >>> layer = RedirectedReluLayer()
        >>> layer(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():  # the same forward values; the redirection is for renders
            return torch.relu(input)
        return self._redirected(input)

    @torch.jit.unused
    def _redirected(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"RedirectedReluLayer expects a tensor, got {type(input).__name__}")
        return RedirectedReLU.apply(input)
