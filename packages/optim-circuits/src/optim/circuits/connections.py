"""The strongest connections into one channel of expanded weights.

Example:
    >>> import torch
    >>> weights = torch.zeros(1, 3, 2, 2)
    >>> weights[0, 0], weights[0, 1], weights[0, 2] = 1.0, -2.0, 0.5
    >>> top = strongest_connections(weights, channel=0, k=1)
    >>> top.positive.tolist(), top.negative.tolist()
    ([0], [1])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from optim.checks import check_int, is_int

__all__ = ["ChannelConnections", "strongest_connections", "connections_by_norm"]


def _check_weights(weights: torch.Tensor, channel: int, k: int) -> None:
    if not isinstance(weights, torch.Tensor) or weights.dim() not in (2, 4):
        raise ValueError(
            "weights must be expanded weights [C2, C1, H, W] or [C2, C1], got "
            f"{getattr(weights, 'shape', type(weights).__name__)}."
        )
    check_int(channel, "channel")
    if not 0 <= channel < weights.shape[0]:
        raise ValueError(
            f"channel {channel} is out of range: the weights have {weights.shape[0]} output "
            f"channels, so use 0..{weights.shape[0] - 1}."
        )
    if not is_int(k) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}.")


@dataclass(frozen=True)
class ChannelConnections:
    """Top excitatory and inhibitory input channels of one output channel.

    Attributes:
        channel: The output channel (index into dim 0 of the weights).
        positive: Input channels with the largest net (spatially summed) weight, strongest
            first.
        positive_strength: Their net weights (descending).
        negative: Input channels with the most negative net weight, strongest first.
        negative_strength: Their net weights (ascending, i.e. most negative first).
    """

    channel: int
    positive: torch.Tensor
    positive_strength: torch.Tensor
    negative: torch.Tensor
    negative_strength: torch.Tensor


def strongest_connections(weights: torch.Tensor, channel: int, k: int = 10) -> ChannelConnections:
    """The ``k`` strongest positive and negative input channels of output ``channel``.

    The strength of input channel ``j`` is its net weight, the sum of the spatial kernel
    ``weights[channel, j]``: what a uniform activation of ``j`` adds to ``channel``
    (Circuits thread, "Visualizing Weights").

    Args:
        weights: Expanded weights ``[C2, C1, H, W]`` (or ``[C2, C1]``), e.g. from
            :func:`extract_expanded_weights`.
        channel: The output channel.
        k: How many connections of each sign (capped at ``C1``).

    Returns:
        A :class:`ChannelConnections`. Channels appear under ``positive`` only if their net
        weight is > 0 and under ``negative`` only if it is < 0, so either may be shorter than
        ``k``.

    Example:
        >>> import torch
        >>> w = torch.tensor([[[[0.2]], [[-0.7]], [[0.9]]]])  # [1, 3, 1, 1]
        >>> strongest_connections(w, 0, k=2).positive.tolist()
        [2, 0]
    """
    _check_weights(weights, channel, k)
    net = weights[channel].reshape(weights.shape[1], -1).sum(dim=1)
    k = min(k, net.numel())
    top_values, top_indices = torch.topk(net, k)
    low_values, low_indices = torch.topk(net, k, largest=False)
    keep_top, keep_low = top_values > 0, low_values < 0
    return ChannelConnections(
        channel=channel,
        positive=top_indices[keep_top],
        positive_strength=top_values[keep_top],
        negative=low_indices[keep_low],
        negative_strength=low_values[keep_low],
    )


def connections_by_norm(weights: torch.Tensor, channel: int, k: int = 10) -> torch.Tensor:
    """Input channels whose kernels into ``channel`` have the largest L2 norm, strongest
    first (unsigned; the ranking of captum's WeightVisualization tutorial).

    Args:
        weights: Expanded weights ``[C2, C1, H, W]`` (or ``[C2, C1]``).
        channel: The output channel.
        k: How many channels (capped at ``C1``).

    Returns:
        ``[k]`` input channel indices.

    Example:
        >>> import torch
        >>> w = torch.tensor([[[[0.2]], [[-0.7]], [[0.5]]]])
        >>> connections_by_norm(w, 0, k=2).tolist()
        [1, 2]
    """
    _check_weights(weights, channel, k)
    norms = weights[channel].reshape(weights.shape[1], -1).norm(dim=1)
    return torch.topk(norms, min(k, norms.numel())).indices
