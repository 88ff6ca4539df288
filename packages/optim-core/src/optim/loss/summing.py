"""Summing many objectives without recursion, and the default summarize function."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from optim.hooks.targets import flatten_targets
from optim.loss.base import CompositeLoss, Loss, TargetsToValues


def sum_loss_list(
    loss_list: Iterable[Loss],
    to_scalar_fn: Callable[[torch.Tensor], torch.Tensor] = torch.mean,
) -> CompositeLoss:
    """Sum ``to_scalar_fn(loss(...))`` over any number of objectives, iteratively.

    ``sum(losses)`` nests one composite per term and overflows Python's recursion limit
    around a few hundred objectives; this does not. The name is ``Sum(A, B, ...)`` and the
    targets are merged without duplicates.

    Args:
        loss_list: The objectives to add.
        to_scalar_fn: Reduces each objective's value to a scalar (default ``torch.mean``).

    Example:
        >>> import torch, torch.nn as nn
        >>> from optim.loss import LayerActivation
        >>> layer = nn.ReLU()
        >>> total = sum_loss_list([LayerActivation(layer)] * 3)
        >>> total({layer: torch.tensor([1.0, 3.0])})
        tensor(6.)
    """
    losses = list(loss_list)
    if not losses:
        raise ValueError("sum_loss_list needs at least one objective, got an empty list.")
    for index, loss in enumerate(losses):
        if not isinstance(loss, Loss):
            raise TypeError(
                f"sum_loss_list item {index} is a {type(loss).__name__}, not an optim.loss.Loss."
            )
    if not callable(to_scalar_fn):
        raise TypeError("to_scalar_fn must be callable, e.g. torch.mean or torch.sum.")

    def loss_fn(targets_to_values: TargetsToValues) -> torch.Tensor:
        total = to_scalar_fn(losses[0](targets_to_values))
        for loss in losses[1:]:
            total = total + to_scalar_fn(loss(targets_to_values))
        return total

    name = "Sum(" + ", ".join(loss.__name__ for loss in losses) + ")"
    return CompositeLoss(loss_fn, name=name, target=flatten_targets([l.target for l in losses]))


def default_loss_summarize(loss_value: torch.Tensor) -> torch.Tensor:
    """Reduce an objective's value to the scalar the optimizer minimises: ``-mean``.

    Minimising it maximises the objective.

    Example:
        >>> import torch
        >>> default_loss_summarize(torch.tensor([1.0, 3.0]))
        tensor(-2.)
    """
    return -1 * loss_value.mean()
