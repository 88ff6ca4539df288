"""Type aliases and protocols for code written against optim (captum kept them internal).

Import them from here (``from optim.typing import StopCriteria``); ``optim`` does not put
``typing`` in its namespace, so ``from optim import *`` never shadows the standard library.

Example:
    >>> import torch.nn as nn
    >>> import optim as opt
    >>> from optim.typing import Objective
    >>> obj = opt.InputOptimization(nn.Identity(), opt.loss.LayerActivation(nn.Identity()))
    >>> isinstance(obj, Objective)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

import torch

from optim.hooks.output_hook import ModuleOutputMapping
from optim.loss.base import TargetsToValues

__all__ = [
    "HasLoss",
    "IntSeqOrIntType",
    "LossFunction",
    "ModuleOutputMapping",
    "NumSeqOrTensorOrProbDistType",
    "Objective",
    "Parameterized",
    "SingleTargetLossFunction",
    "StopCriteria",
    "TupleOfTensorsOrTensorType",
]


@runtime_checkable
class HasLoss(Protocol):
    """Something with a ``loss()`` that runs a forward pass and returns the objective."""

    def loss(self) -> torch.Tensor: ...


@runtime_checkable
class Parameterized(Protocol):
    """Something with ``parameters()``: the tensors an optimizer updates."""

    def parameters(self) -> Iterable[torch.Tensor]: ...


@runtime_checkable
class Objective(Parameterized, HasLoss, Protocol):
    """What a stop criterion is handed (an ``InputOptimization``): loss, parameters, cleanup."""

    def cleanup(self) -> None: ...


LossFunction = Callable[[TargetsToValues], torch.Tensor]
"""An objective's call: ``{target: output}`` to an unreduced tensor (targets may be names)."""

SingleTargetLossFunction = Callable[[torch.Tensor], torch.Tensor]
"""A function of one target's output."""

StopCriteria = Callable[[int, Objective, Sequence[torch.Tensor], torch.optim.Optimizer], bool]
"""Called before every step with the number of completed steps, the ``InputOptimization``,
the history of summarised losses and the optimizer; the loop continues while it returns True.
An optional ``close()`` method is called when the loop ends for any reason."""

NumSeqOrTensorOrProbDistType = (
    Sequence[int] | Sequence[float] | torch.Tensor | torch.distributions.Distribution
)
"""Values a random transform picks from, or a distribution it samples."""

IntSeqOrIntType = int | Sequence[int]
"""A size: one int for every dimension, or one per dimension."""

TupleOfTensorsOrTensorType = tuple[torch.Tensor, ...] | torch.Tensor
"""One tensor or a tuple of them."""
