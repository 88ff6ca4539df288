"""Regularizers, usually aimed at the image: total variation, L1 and L2 distances."""

from __future__ import annotations

import torch

from optim.checks import check_real
from optim.hooks.targets import Target
from optim.loss.base import BaseLoss, BatchIndex, TargetsToValues


def _check_number(value: object, name: str, objective: str) -> None:
    check_real(value, f"{objective}: {name}", finite=False)


class TotalVariation(BaseLoss):
    """Total variation: the summed absolute differences of vertical and horizontal neighbours.

    Returns a scalar. Usually targets the image parameterization and is subtracted.

    Example:
        >>> import torch, torch.nn as nn
        >>> image = nn.Identity()
        >>> TotalVariation(image)({image: torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])})
        tensor(6.)
    """

    def __init__(self, target: Target, batch_index: BatchIndex = None) -> None:
        super().__init__(target, batch_index)

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        x = self.select_batch(self.activation(targets_to_values))
        if x.dim() < 2:
            raise ValueError(
                f"TotalVariation needs at least 2D (…, H, W) values, got shape {tuple(x.shape)}."
            )
        vertical = torch.sum(torch.abs(x[..., 1:, :] - x[..., :-1, :]))
        horizontal = torch.sum(torch.abs(x[..., :, 1:] - x[..., :, :-1]))
        return vertical + horizontal


class L1(BaseLoss):
    """L1 distance to a constant: ``sum(|a - constant|)`` (a scalar).

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> L1(layer, constant=1.0)({layer: torch.tensor([[0.0, 3.0]])})
        tensor(3.)
    """

    def __init__(
        self, target: Target, constant: float = 0.0, batch_index: BatchIndex = None
    ) -> None:
        _check_number(constant, "constant", type(self).__name__)
        super().__init__(target, batch_index)
        self.constant = constant

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.select_batch(self.activation(targets_to_values))
        return torch.abs(activation - self.constant).sum()


class L2(BaseLoss):
    """L2 distance to a constant: ``sqrt(eps + sum((a - constant) ** 2))`` (a scalar).

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> L2(layer, eps=0.0)({layer: torch.tensor([[3.0, 4.0]])})
        tensor(5.)
    """

    def __init__(
        self,
        target: Target,
        constant: float = 0.0,
        eps: float = 1e-6,
        batch_index: BatchIndex = None,
    ) -> None:
        _check_number(constant, "constant", type(self).__name__)
        _check_number(eps, "eps", type(self).__name__)
        if eps < 0:
            raise ValueError(f"L2: eps must be >= 0 (it keeps sqrt differentiable), got {eps}.")
        super().__init__(target, batch_index)
        self.constant = constant
        self.eps = eps

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.select_batch(self.activation(targets_to_values))
        return torch.sqrt(self.eps + ((activation - self.constant) ** 2).sum())
