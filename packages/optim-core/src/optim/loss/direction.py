"""Direction objectives: dot products (optionally cosine-weighted) with a channel vector."""

from __future__ import annotations

import torch

from optim.hooks.targets import Target
from optim.hooks.validation import check_channel_index, check_dims
from optim.loss._common import check_position_arg, dot_cossim, neuron_position
from optim.loss.base import BaseLoss, BatchIndex, TargetsToValues


def _check_vector(vec: object, objective: str) -> torch.Tensor:
    if not isinstance(vec, torch.Tensor):
        raise TypeError(f"{objective}: vec must be a torch.Tensor, got {type(vec).__name__}.")
    return vec


def _check_channels(vec: torch.Tensor, activation: torch.Tensor, objective: str) -> None:
    """One entry per channel, or a single entry that broadcasts over them (as torch does)."""
    if vec.numel() not in (1, activation.shape[1]):
        raise ValueError(
            f"{objective}: vec has {vec.numel()} entries but the target has "
            f"{activation.shape[1]} channels; give one entry per channel (or a single entry "
            "for all of them)."
        )


def _channel_view(vec: torch.Tensor, activation: torch.Tensor) -> torch.Tensor:
    """Shape ``vec`` as ``[1, C, 1, ...]`` to broadcast over ``activation``."""
    return vec.reshape(1, -1, *([1] * (activation.dim() - 2)))


class Direction(BaseLoss):
    """Dot product of each position's channel vector with ``vec`` (cosine-weighted if
    ``cossim_pow > 0``). Returns ``[B, H, W]`` (``[B]`` for 2D outputs).

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> acts = torch.ones(1, 2, 1, 1)
        >>> Direction(layer, torch.tensor([1.0, 2.0]))({layer: acts})
        tensor([[[3.]]])
    """

    def __init__(
        self,
        target: Target,
        vec: torch.Tensor,
        cossim_pow: float = 0.0,
        batch_index: BatchIndex = None,
    ) -> None:
        super().__init__(target, batch_index)
        self.vec = _check_vector(vec, type(self).__name__)
        self.cossim_pow = cossim_pow

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.select_batch(self.activation(targets_to_values))
        _check_channels(self.vec, activation, self.__name__)
        vec = _channel_view(self.converted_like(self.vec, activation), activation)
        return dot_cossim(vec, activation, cossim_pow=self.cossim_pow)


class NeuronDirection(BaseLoss):
    """:class:`Direction` at one spatial position (column ``x``, row ``y``; centre by
    default), optionally restricted to one channel (``a_c * vec_c``). Returns ``[B, 1, 1]``.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> acts = torch.zeros(1, 2, 3, 3)
        >>> acts[0, :, 0, 2] = torch.tensor([1.0, 1.0])
        >>> NeuronDirection(layer, torch.tensor([1.0, 2.0]), x=2, y=0)({layer: acts})
        tensor([[[3.]]])
    """

    def __init__(
        self,
        target: Target,
        vec: torch.Tensor,
        x: int | None = None,
        y: int | None = None,
        channel_index: int | None = None,
        cossim_pow: float = 0.0,
        batch_index: BatchIndex = None,
    ) -> None:
        name = type(self).__name__
        check_position_arg(x, "x", name)
        check_position_arg(y, "y", name)
        super().__init__(target, batch_index)
        self.vec = _check_vector(vec, name)
        self.x, self.y = x, y
        self.channel_index = channel_index
        self.cossim_pow = cossim_pow

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.activation(targets_to_values)
        check_dims(activation, 4, self.__name__)
        _check_channels(self.vec, activation, self.__name__)
        row, column = neuron_position(activation, self.x, self.y, self.__name__)
        activation = self.select_batch(activation)[..., row : row + 1, column : column + 1]
        vec = _channel_view(self.converted_like(self.vec, activation), activation)
        if self.channel_index is not None:
            check_channel_index(self.channel_index, activation, self.__name__)
            channel = slice(self.channel_index, self.channel_index + 1)
            activation = activation[:, channel]
            vec = vec if vec.shape[1] == 1 else vec[:, channel]  # a single entry broadcasts
        return dot_cossim(vec, activation, cossim_pow=self.cossim_pow)


class AngledNeuronDirection(BaseLoss):
    """The Activation Atlas objective: a direction at one position, weighted by the angle.

    ``v = vec`` (or ``vec @ vec_whitened``). At the position (centre by default; 2D outputs
    are used as they are), ``dot = mean(a * v)`` and the value is
    ``dot * clamp(dot / (eps + ||a||), min=0.1) ** cossim_pow``; ``cossim_pow=0`` returns
    the elementwise product ``a * v``.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> loss = AngledNeuronDirection(layer, torch.tensor([1.0, 1.0]), cossim_pow=0)
        >>> loss({layer: torch.tensor([[2.0, 3.0]])})
        tensor([[2., 3.]])
    """

    def __init__(
        self,
        target: Target,
        vec: torch.Tensor,
        vec_whitened: torch.Tensor | None = None,
        cossim_pow: float = 4.0,
        x: int | None = None,
        y: int | None = None,
        eps: float = 1e-4,
        batch_index: BatchIndex = None,
    ) -> None:
        name = type(self).__name__
        check_position_arg(x, "x", name)
        check_position_arg(y, "y", name)
        super().__init__(target, batch_index)
        vec = _check_vector(vec, name)
        self.vec = vec.unsqueeze(0) if vec.dim() == 1 else vec
        if vec_whitened is not None:
            vec_whitened = _check_vector(vec_whitened, name)
        self.vec_whitened = vec_whitened
        self.cossim_pow = cossim_pow
        self.x, self.y = x, y
        self.eps = eps

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.select_batch(self.activation(targets_to_values))
        check_dims(activation, (2, 4), self.__name__)
        _check_channels(self.vec[0], activation, self.__name__)
        if activation.dim() == 4:
            row, column = neuron_position(activation, self.x, self.y, self.__name__)
            activation = activation[..., row, column]
        vec = self.converted_like(self.vec, activation)
        if self.vec_whitened is not None:
            vec = (vec @ self.converted_like(self.vec_whitened, activation))[0]
        if self.cossim_pow == 0:
            return activation * vec
        dot = torch.mean(activation * vec)
        cossim = dot / (self.eps + torch.sqrt(torch.sum(activation**2)))
        return dot * torch.clamp(cossim, min=0.1) ** self.cossim_pow


class TensorDirection(BaseLoss):
    """Dot product with a spatial direction ``vec`` of shape ``[1, C, h, w]``, compared with
    the centre ``h x w`` crop of the activations. Returns ``[B, h, w]``.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> loss = TensorDirection(layer, torch.ones(1, 2, 1, 1))
        >>> loss({layer: torch.arange(18.0).view(1, 2, 3, 3)})
        tensor([[[17.]]])
    """

    def __init__(
        self,
        target: Target,
        vec: torch.Tensor,
        cossim_pow: float = 0.0,
        batch_index: BatchIndex = None,
    ) -> None:
        name = type(self).__name__
        vec = _check_vector(vec, name)
        if vec.dim() != 4:
            raise ValueError(f"{name}: vec must be 4D [1, C, h, w], got {tuple(vec.shape)}.")
        super().__init__(target, batch_index)
        self.vec = vec
        self.cossim_pow = cossim_pow

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        activation = self.activation(targets_to_values)
        check_dims(activation, 4, self.__name__)
        _check_channels(self.vec[0, :, 0, 0], activation, self.__name__)  # C or 1 channels
        height, width = self.vec.shape[2:]
        act_height, act_width = activation.shape[2:]
        if height > act_height or width > act_width:
            raise ValueError(
                f"{self.__name__}: vec's spatial size {height}x{width} exceeds the target's "
                f"{act_height}x{act_width}; use a smaller direction tensor."
            )
        top, left = (act_height - height) // 2, (act_width - width) // 2
        activation = self.select_batch(activation)[..., top : top + height, left : left + width]
        vec = self.converted_like(self.vec, activation)
        return dot_cossim(vec, activation, cossim_pow=self.cossim_pow)
