"""Objectives over the batch: diversity, interpolation between channels, alignment."""

from __future__ import annotations

import torch

from optim.checks import check_int, check_real
from optim.hooks.targets import Target
from optim.hooks.validation import check_channel_index
from optim.loss.base import BaseLoss, BatchIndex, TargetsToValues


class Diversity(BaseLoss):
    """Pushes batch samples apart in style: minus the mean Gram-matrix similarity.

    For each sample the Gram matrix ``G_i = F_i F_i^T`` of its ``C x HW`` features is
    Frobenius-normalised; the value is ``-sum_i sum_{j != i} <G_i, G_j> / B``. Two identical
    samples give ``-1``. Add it (times a weight) to another objective over a batch.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> Diversity(layer)({layer: torch.ones(2, 3, 4, 4)})
        tensor(-1.)
    """

    def __init__(self, target: Target, batch_index: BatchIndex = None) -> None:
        super().__init__(target, batch_index)

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.select_batch(self.activation(targets_to_values))
        batch, channels = activation.shape[0], activation.shape[1]
        features = activation.reshape(batch, channels, -1)
        grams = features @ features.transpose(1, 2)
        grams = grams / torch.linalg.matrix_norm(grams, keepdim=True)
        similarity = torch.einsum("icd,jcd->ij", grams, grams)
        off_diagonal = similarity.sum() - similarity.diagonal().sum()
        return -off_diagonal / batch


class ActivationInterpolation(BaseLoss):
    """Interpolates over the batch from ``target1``'s channel to ``target2``'s channel.

    Sample ``n`` of ``B`` gets weight ``w_n = n / (B - 1)``; the value is
    ``sum_n mean((1 - w_n) a1[n]) + mean(w_n a2[n])``. A channel index of ``None`` uses the
    whole layer. Needs a batch of at least two.

    Example:
        >>> import torch, torch.nn as nn
        >>> one, two = nn.ReLU(), nn.Tanh()
        >>> loss = ActivationInterpolation(one, 0, two, 0)
        >>> loss({one: torch.ones(3, 1, 2, 2), two: 2 * torch.ones(3, 1, 2, 2)})
        tensor(4.5000)
    """

    def __init__(
        self,
        target1: Target | None = None,
        channel_index1: int | None = None,
        target2: Target | None = None,
        channel_index2: int | None = None,
    ) -> None:
        if target1 is None or target2 is None:
            raise ValueError("ActivationInterpolation needs both target1 and target2.")
        for name, index in (("channel_index1", channel_index1), ("channel_index2", channel_index2)):
            if index is not None:
                check_int(index, f"ActivationInterpolation: {name}", hint="Or None for all.")
        super().__init__([target1, target2])
        self.target_one, self.target_two = target1, target2
        self.channel_index_one, self.channel_index_two = channel_index1, channel_index2

    def _select(self, activation: torch.Tensor, channel_index: int | None) -> torch.Tensor:
        if channel_index is None:
            return activation
        check_channel_index(channel_index, activation, self.__name__)
        return activation[:, channel_index]

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        one = self._select(
            self.activation(targets_to_values, self.target_one), self.channel_index_one
        )
        two = self._select(
            self.activation(targets_to_values, self.target_two), self.channel_index_two
        )
        batch = one.shape[0]
        if batch < 2 or two.shape[0] != batch:
            raise ValueError(
                f"ActivationInterpolation interpolates across the batch and needs at least 2 "
                f"samples in both targets, got {batch} and {two.shape[0]}; use batch >= 2."
            )
        weights = torch.arange(batch, device=one.device, dtype=one.dtype) / (batch - 1)
        first = ((1 - weights) * one.reshape(batch, -1).mean(dim=1)).sum()
        second = (weights * two.reshape(batch, -1).mean(dim=1)).sum()
        return first + second


class Alignment(BaseLoss):
    """Keeps neighbouring batch samples alike (aligned interpolation).

    ``-sum_{d=1..4} sum_i mean((a_i - a_{i+d}) ** 2) / decay_ratio ** d``.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> Alignment(layer)({layer: torch.tensor([[0.0], [2.0]])})
        tensor(-2.)
    """

    def __init__(
        self, target: Target, decay_ratio: float = 2.0, batch_index: BatchIndex = None
    ) -> None:
        check_real(decay_ratio, "Alignment: decay_ratio", above=0)
        super().__init__(target, batch_index)
        self.decay_ratio = decay_ratio

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.select_batch(self.activation(targets_to_values))
        batch = activation.shape[0]
        flat = activation.reshape(batch, -1)
        total = flat.new_zeros(())
        for distance in range(1, min(4, batch - 1) + 1):
            squared = (flat[:-distance] - flat[distance:]) ** 2
            total = total + squared.mean(dim=1).sum() / self.decay_ratio**distance
        return -total
