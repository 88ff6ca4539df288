"""Objectives on a layer's activations: whole layer, one channel, one neuron, DeepDream."""

from __future__ import annotations

import torch

from optim.checks import check_int
from optim.hooks.targets import Target
from optim.hooks.validation import check_channel_index, check_dims
from optim.loss._common import check_position_arg, neuron_position
from optim.loss.base import BaseLoss, BatchIndex, TargetsToValues


def _check_channel_arg(channel_index: object, objective: str) -> None:
    check_int(channel_index, f"{objective}: channel_index")


class LayerActivation(BaseLoss):
    """The target's whole activation, ``a[batch]``.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> LayerActivation(layer)({layer: torch.ones(1, 2, 3, 3)}).shape
        torch.Size([1, 2, 3, 3])
    """

    def __init__(self, target: Target, batch_index: BatchIndex = None) -> None:
        super().__init__(target, batch_index)

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        return self.select_batch(self.activation(targets_to_values))


class ChannelActivation(BaseLoss):
    """One channel's activation, ``a[batch, channel_index, ...]`` (also for 2D outputs).

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> acts = torch.arange(8.0).view(1, 2, 2, 2)
        >>> ChannelActivation(layer, 1)({layer: acts})
        tensor([[[4., 5.],
                 [6., 7.]]])
    """

    def __init__(self, target: Target, channel_index: int, batch_index: BatchIndex = None) -> None:
        _check_channel_arg(channel_index, type(self).__name__)
        super().__init__(target, batch_index)
        self.channel_index = channel_index

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.activation(targets_to_values)
        check_channel_index(self.channel_index, activation, self.__name__)
        return self.select_batch(activation)[:, self.channel_index, ...]


class NeuronActivation(BaseLoss):
    """One unit: channel ``channel_index`` at column ``x`` and row ``y`` (centre by default).

    ``x`` runs along the width and ``y`` along the height; the result has shape ``[B, 1, 1]``.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> acts = torch.arange(9.0).view(1, 1, 3, 3)
        >>> NeuronActivation(layer, 0, x=2, y=0)({layer: acts})
        tensor([[[2.]]])
    """

    def __init__(
        self,
        target: Target,
        channel_index: int,
        x: int | None = None,
        y: int | None = None,
        batch_index: BatchIndex = None,
    ) -> None:
        name = type(self).__name__
        _check_channel_arg(channel_index, name)
        check_position_arg(x, "x", name)
        check_position_arg(y, "y", name)
        super().__init__(target, batch_index)
        self.channel_index = channel_index
        self.x = x
        self.y = y

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.activation(targets_to_values)
        check_dims(activation, 4, self.__name__)
        check_channel_index(self.channel_index, activation, self.__name__)
        row, column = neuron_position(activation, self.x, self.y, self.__name__)
        activation = self.select_batch(activation)
        return activation[:, self.channel_index, row : row + 1, column : column + 1]


class DeepDream(BaseLoss):
    """Squared activations ``a[batch] ** 2`` (DeepDream, Mordvintsev et al. 2015).

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> DeepDream(layer)({layer: torch.tensor([[-2.0, 3.0]])})
        tensor([[4., 9.]])
    """

    def __init__(self, target: Target, batch_index: BatchIndex = None) -> None:
        super().__init__(target, batch_index)

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        return self.select_batch(self.activation(targets_to_values)) ** 2
