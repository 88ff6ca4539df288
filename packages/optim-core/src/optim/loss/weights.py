"""ActivationWeights: activations weighted per channel, at a neuron or over a window."""

from __future__ import annotations

import torch

from optim.hooks.targets import Target
from optim.hooks.validation import check_dims
from optim.loss._common import check_position_arg, neuron_position
from optim.loss.base import BaseLoss, TargetsToValues


class ActivationWeights(BaseLoss):
    """Activations multiplied by one weight per channel.

    Three modes: the whole layer (``a * w``); one neuron when ``x``/``y`` is given or
    ``neuron=True`` (``a[:, :, y, x] * w``, shape ``[B, C]``); a window when ``x``, ``y``,
    ``wx`` and ``wy`` are all given (``a[..., y:y+wy, x:x+wx] * w``). ``x`` runs along the
    width and ``y`` along the height in every mode.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> loss = ActivationWeights(layer, torch.tensor([1.0, -1.0]), x=0, y=0)
        >>> loss({layer: torch.ones(1, 2, 2, 2)})
        tensor([[ 1., -1.]])
    """

    def __init__(
        self,
        target: Target,
        weights: torch.Tensor | None = None,
        neuron: bool = False,
        x: int | None = None,
        y: int | None = None,
        wx: int | None = None,
        wy: int | None = None,
    ) -> None:
        name = type(self).__name__
        if not isinstance(weights, torch.Tensor):
            raise TypeError(
                f"{name} needs weights: a tensor with one weight per channel, got {weights!r}."
            )
        for arg, value in (("x", x), ("y", y), ("wx", wx), ("wy", wy)):
            check_position_arg(value, arg, name)
        window_args = (x, y, wx, wy)
        if (wx is not None or wy is not None) and any(v is None for v in window_args):
            raise ValueError(
                f"{name}: a window needs x, y, wx and wy together; got x={x}, y={y}, "
                f"wx={wx}, wy={wy}."
            )
        super().__init__(target)
        self.weights = weights.reshape(-1)
        self.neuron = neuron or x is not None or y is not None
        self.x, self.y, self.wx, self.wy = x, y, wx, wy

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.activation(targets_to_values)
        if self.weights.numel() not in (1, activation.shape[1]):  # a single weight broadcasts
            raise ValueError(
                f"{self.__name__}: {self.weights.numel()} weights for a target with "
                f"{activation.shape[1]} channels; give one weight per channel (or a single "
                "weight for all of them)."
            )
        weights = self.converted_like(self.weights, activation)
        if not self.neuron:
            return activation * weights.reshape(1, -1, *([1] * (activation.dim() - 2)))
        check_dims(activation, 4, self.__name__)
        x, y, wx, wy = self.x, self.y, self.wx, self.wy
        if x is None or y is None or wx is None or wy is None:  # a window has all four
            row, column = neuron_position(activation, x, y, self.__name__)
            return activation[:, :, row, column] * weights
        window = activation[..., y : y + wy, x : x + wx]
        if window.shape[2] != wy or window.shape[3] != wx:
            raise IndexError(
                f"{self.__name__}: the window x={x}, y={y}, wx={wx}, wy={wy} "
                f"does not fit in the target's {activation.shape[2]}x{activation.shape[3]}."
            )
        return window * weights.reshape(1, -1, 1, 1)
