"""Checks shared by the objectives: channel indices and activation shapes."""

from __future__ import annotations

import torch


def check_channel_index(channel_index: int, activation: torch.Tensor, objective: str) -> None:
    """Fail unless ``channel_index`` is a valid channel (dim 1) of ``activation``.

    Args:
        channel_index: The requested channel.
        activation: The target's output, channels on dim 1.
        objective: The objective's name, used in the message.

    Raises:
        IndexError: If the index is outside ``0 .. C - 1``; the message gives the range.

    Example:
        >>> import torch
        >>> check_channel_index(3, torch.zeros(1, 4, 2, 2), "ChannelActivation")
    """
    if activation.dim() < 2:
        raise ValueError(
            f"{objective} selects channels on dim 1, but the target output has shape "
            f"{tuple(activation.shape)}; target a layer with a batch and a channel dimension."
        )
    channels = activation.shape[1]
    if not 0 <= channel_index < channels:
        raise IndexError(
            f"{objective}: channel_index {channel_index} is out of range for a target with "
            f"{channels} channels; the valid range is 0..{channels - 1}."
        )


def check_dims(activation: torch.Tensor, dims: int | tuple[int, ...], objective: str) -> None:
    """Fail unless ``activation`` has one of the expected numbers of dimensions.

    Example:
        >>> import torch
        >>> check_dims(torch.zeros(1, 4, 2, 2), 4, "NeuronActivation")
    """
    allowed = (dims,) if isinstance(dims, int) else dims
    if activation.dim() not in allowed:
        expected = " or ".join(f"{d}D" for d in allowed)
        raise ValueError(
            f"{objective} needs a {expected} target output, got shape "
            f"{tuple(activation.shape)}; pick a target layer with that layout."
        )
