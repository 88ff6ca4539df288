"""Check that the map between two layers is linear, as expanded weights assume.

The check is a gradient-linearity probe. A map ``f`` from target1's output ``a`` to
target2's output is affine exactly when its Jacobian is the same at every ``a``. The probe
takes a fixed random combination ``u`` of target2's centre channels and compares the
gradient of ``u . f`` at the real activations with the gradient at a random, large
replacement of them (injected through a forward hook). Any ReLU, max-pool, normalisation by
the input, gating or train-mode dropout on the path changes that gradient, whether it is a
module or a functional call, while modules that run beside the path (other branches) do
not. The modules that ran between the targets and are usually non-linear are named in the
warning as likely culprits.

Example:
    >>> import torch, torch.nn as nn
    >>> model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Conv2d(3, 4, 3))
    >>> probe_linearity(model, model[0], model[1], torch.zeros(1, 2, 9, 9)).is_linear
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from optim.circuits._forward import describe_module, forward_between

__all__ = ["NonlinearPathWarning", "LinearityReport", "probe_linearity", "centre_of"]

RELATIVE_TOLERANCE = 1e-4
"""Largest relative gradient change accepted as float rounding on a linear path."""

NONLINEAR_MODULE_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh,
    nn.Softplus, nn.Softsign, nn.Softmax, nn.LogSoftmax, nn.Threshold, nn.GLU,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d, nn.LPPool1d, nn.LPPool2d, nn.LocalResponseNorm, nn.LayerNorm,
    nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
)  # fmt: skip
"""Module types listed as likely culprits (the decision itself is the gradient probe)."""


class NonlinearPathWarning(UserWarning):
    """The path between the targets of ``extract_expanded_weights`` is not linear."""


@dataclass(frozen=True)
class LinearityReport:
    """Result of :func:`probe_linearity`.

    Attributes:
        is_linear: Whether the gradients agreed within :data:`RELATIVE_TOLERANCE`.
        relative_change: ``|g(a') - g(a)| / |g(a)|`` for the probe gradients.
        suspects: ``"name (Type)"`` of non-linear looking modules that ran between the
            targets (train-mode dropout included).
    """

    is_linear: bool
    relative_change: float
    suspects: list[str]


def centre_of(activation: torch.Tensor) -> torch.Tensor:
    """The ``[B, C]`` vector at position ``((H - 1) // 2, (W - 1) // 2)`` of an NCHW output,
    or the output itself when it is already ``[B, C]``."""
    if activation.dim() == 4:
        height, width = activation.shape[2:]
        return activation[:, :, (height - 1) // 2, (width - 1) // 2]
    if activation.dim() == 2:
        return activation
    raise ValueError(
        f"target2 outputs shape {tuple(activation.shape)}; expanded weights need a [B, C, H, W] "
        "or [B, C] output."
    )


def _probe_gradient(
    activ1: torch.Tensor, activ2: torch.Tensor, direction: torch.Tensor
) -> torch.Tensor:
    (gradient,) = torch.autograd.grad(
        (centre_of(activ2) * direction).sum(), activ1, allow_unused=True
    )
    return torch.zeros_like(activ1) if gradient is None else gradient


def _is_suspect(module: nn.Module) -> bool:
    if isinstance(module, NONLINEAR_MODULE_TYPES):
        return True
    if isinstance(module, nn.modules.dropout._DropoutNd) and module.training:
        return True
    # optim.model_utils.RedirectedReluLayer and similar ReLU variants, by name.
    return "relu" in type(module).__name__.lower()


def probe_linearity(
    model: nn.Module,
    module1: nn.Module,
    module2: nn.Module,
    model_input: torch.Tensor,
    seed: int = 0,
) -> LinearityReport:
    """Test whether target2's centre output is a linear function of target1's output.

    Args:
        model: The model.
        module1: The earlier target.
        module2: The later target.
        model_input: The input batch used for the real activations.
        seed: Seed of the probe's random direction and replacement activations (a private
            generator: torch's global RNG is untouched).

    Returns:
        A :class:`LinearityReport`.

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Conv2d(3, 4, 3))
        >>> report = probe_linearity(model, model[0], model[2], torch.zeros(1, 2, 9, 9))
        >>> report.is_linear, report.suspects
        (False, ['1 (ReLU)'])
    """
    real = forward_between(model, module1, module2, model_input)
    channels = centre_of(real.activ2).shape[1]
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(channels, generator=generator, dtype=torch.float64)
    direction = (direction / direction.norm()).to(real.activ2)
    scale = 4.0 * (real.activ1.detach().abs().max().item() + 1.0)
    noise = torch.randn(real.activ1.shape, generator=generator, dtype=torch.float64)
    replacement = (noise * scale).to(real.activ1)

    gradient_real = _probe_gradient(real.activ1, real.activ2, direction)
    moved = forward_between(
        model, module1, module2, model_input, replacement=replacement, record_between=True
    )
    gradient_moved = _probe_gradient(moved.activ1, moved.activ2, direction)

    reference = gradient_real.norm().item()
    change = (gradient_moved - gradient_real).norm().item()
    relative = change / reference if reference > 0 else (0.0 if change == 0 else float("inf"))
    suspects = list(
        dict.fromkeys(describe_module(model, m) for m in moved.between if _is_suspect(m))
    )
    return LinearityReport(relative <= RELATIVE_TOLERANCE, relative, suspects)
