"""The composable objective: ``Loss`` (arithmetic), ``BaseLoss`` (targets, batch) and
``CompositeLoss`` (the result of arithmetic).

An objective maps ``{target: activation}`` to an unreduced tensor. Arithmetic between
objectives builds new objectives, so ``ChannelActivation(a, 3) - 0.1 * L2(b)`` is itself
an objective whose targets are ``[a, b]``.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from optim.checks import is_int, is_real
from optim.hooks.targets import NestedTargets, Target, flatten_targets

TargetsToValues = Mapping[Any, torch.Tensor | None]
"""What objectives are called with: ``{target (module or name): its output}`` (``None`` for a
target that the forward pass did not reach; :meth:`BaseLoss.activation` refuses it)."""

BatchIndex = int | Sequence[int | None] | None
"""``None`` (whole batch), an int ``i`` (sample ``i`` only) or ``[start, end]``."""

Number = int | float


def _check_target(target: Target | Sequence[NestedTargets]) -> Target | list[Target]:
    if isinstance(target, nn.Module | str):
        return target
    if isinstance(target, Sequence):
        return flatten_targets(target)
    raise TypeError(
        f"An objective's target must be an nn.Module, a dotted module name (str) or a list of "
        f"those, got {type(target).__name__}: {target!r}."
    )


def module_op(
    self: Loss, other: Number | Loss | None, math_op: Callable[..., Any]
) -> CompositeLoss:
    """Build ``math_op(self, other)`` as a :class:`CompositeLoss`.

    ``other=None`` applies the unary ``math_op`` to ``self``'s value. A number is applied
    elementwise to ``self``'s unreduced value (name and target kept). Another loss combines the
    means of both values; the name becomes ``Compose(A, B)`` and the targets are merged.

    Example:
        >>> import operator, torch.nn as nn
        >>> from optim.loss import LayerActivation
        >>> layer = nn.ReLU()
        >>> module_op(LayerActivation(layer), 2, operator.mul).target is layer
        True
    """
    if other is None:

        def unary(targets_to_values: TargetsToValues) -> torch.Tensor:
            return math_op(self(targets_to_values))

        return CompositeLoss(unary, name=self.__name__, target=self.target)
    if is_real(other):

        def with_number(targets_to_values: TargetsToValues) -> torch.Tensor:
            return math_op(self(targets_to_values), other)

        return CompositeLoss(with_number, name=self.__name__, target=self.target)
    if isinstance(other, Loss):

        def with_loss(targets_to_values: TargetsToValues) -> torch.Tensor:
            return math_op(
                torch.mean(self(targets_to_values)), torch.mean(other(targets_to_values))
            )

        return CompositeLoss(
            with_loss,
            name=f"Compose({self.__name__}, {other.__name__})",
            target=flatten_targets([self.target, other.target]),
        )
    raise TypeError(
        f"Objectives combine with int, float or another Loss, got {type(other).__name__}. "
        "Wrap tensors in a custom Loss (subclass BaseLoss) to use them."
    )


def rmodule_op(self: Loss, other: Number, math_op: Callable[..., Any]) -> CompositeLoss:
    """Build ``math_op(other, self)`` for a number ``other`` (``2 / loss``, ``2 ** loss``).

    Example:
        >>> import operator, torch.nn as nn
        >>> from optim.loss import LayerActivation
        >>> rmodule_op(LayerActivation(nn.ReLU()), 1.0, operator.truediv).__name__
        'LayerActivation'
    """
    if not is_real(other):
        raise TypeError(
            f"Only an int or a float can be on the left of an objective, got "
            f"{type(other).__name__}."
        )

    def number_first(targets_to_values: TargetsToValues) -> torch.Tensor:
        return math_op(other, self(targets_to_values))

    return CompositeLoss(number_first, name=self.__name__, target=self.target)


class Loss(ABC):
    """Abstract objective: callable on ``{target: activation}``, composable with arithmetic.

    ``-L``, ``+L``, ``abs(L)``, ``round(L, d)``, ``L op n``, ``n op L`` and ``L1 op L2`` for
    ``op`` in ``+ - * / **`` all return a :class:`CompositeLoss`. Combining two objectives
    combines their means; combining with a number works elementwise. ``sum([L1, L2])``
    works; prefer :func:`optim.loss.sum_loss_list` for hundreds of objectives.

    Example:
        >>> import torch, torch.nn as nn
        >>> from optim.loss import LayerActivation
        >>> layer = nn.ReLU()
        >>> loss = 2 * LayerActivation(layer) + 1
        >>> loss({layer: torch.ones(1, 2)})
        tensor([[3., 3.]])
    """

    __name__: str

    def __init__(self) -> None:
        self.__name__ = type(self).__name__

    @property
    @abstractmethod
    def target(self) -> Target | list[Target]:
        """The module(s) or name(s) whose outputs this objective reads."""

    @abstractmethod
    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        """Compute the unreduced objective from the targets' outputs."""

    def __repr__(self) -> str:
        return self.__name__

    def __neg__(self) -> CompositeLoss:
        return module_op(self, None, operator.neg)

    def __pos__(self) -> CompositeLoss:
        return module_op(self, None, operator.pos)

    def __abs__(self) -> CompositeLoss:
        return module_op(self, None, torch.abs)

    def __round__(self, ndigits: int | None = None) -> CompositeLoss:
        decimals = 0 if ndigits is None else ndigits
        return module_op(self, None, lambda value: torch.round(value, decimals=decimals))

    def __add__(self, other: Number | Loss) -> CompositeLoss:
        return module_op(self, other, operator.add)

    def __radd__(self, other: Number) -> CompositeLoss:
        return self.__add__(other)

    def __sub__(self, other: Number | Loss) -> CompositeLoss:
        return module_op(self, other, operator.sub)

    def __rsub__(self, other: Number) -> CompositeLoss:
        return (-self).__add__(other)

    def __mul__(self, other: Number | Loss) -> CompositeLoss:
        return module_op(self, other, operator.mul)

    def __rmul__(self, other: Number) -> CompositeLoss:
        return self.__mul__(other)

    def __truediv__(self, other: Number | Loss) -> CompositeLoss:
        return module_op(self, other, operator.truediv)

    def __rtruediv__(self, other: Number) -> CompositeLoss:
        return rmodule_op(self, other, operator.truediv)

    def __pow__(self, other: Number | Loss) -> CompositeLoss:
        return module_op(self, other, operator.pow)

    def __rpow__(self, other: Number) -> CompositeLoss:
        return rmodule_op(self, other, operator.pow)


def _batch_bounds(batch_index: BatchIndex) -> tuple[int | None, int | None]:
    if batch_index is None:
        return (None, None)
    if is_int(batch_index):
        # -1 must select the last sample, not the empty slice [-1:0].
        return (batch_index, batch_index + 1 if batch_index != -1 else None)
    if (
        isinstance(batch_index, Sequence)
        and not isinstance(batch_index, str)
        and len(batch_index) == 2
        and all(b is None or is_int(b) for b in batch_index)
    ):
        return (batch_index[0], batch_index[1])
    raise TypeError(
        f"batch_index must be None, an int (one sample) or [start, end] (a slice of the "
        f"batch), got {batch_index!r}."
    )


class BaseLoss(Loss):
    """Base class for objectives with a target and an optional batch selection.

    Args:
        target: A module, a dotted module name, or a list of those.
        batch_index: ``None`` for the whole batch, ``i`` for sample ``i`` (``-1`` is the
            last sample), or ``[start, end]`` for ``batch[start:end]``.

    Example:
        >>> import torch, torch.nn as nn
        >>> class MeanActivation(BaseLoss):
        ...     def __call__(self, targets_to_values):
        ...         return self.select_batch(self.activation(targets_to_values)).mean()
        >>> layer = nn.ReLU()
        >>> MeanActivation(layer, batch_index=-1)({layer: torch.arange(4.0).view(2, 2)})
        tensor(2.5000)
    """

    def __init__(
        self, target: Target | Sequence[NestedTargets] = (), batch_index: BatchIndex = None
    ) -> None:
        super().__init__()
        self._target = _check_target(target)
        self._batch_index = _batch_bounds(batch_index)

    @property
    def target(self) -> Target | list[Target]:
        return self._target

    @property
    def batch_index(self) -> tuple[int | None, int | None]:
        """``(start, end)`` of the batch slice; ``(None, None)`` selects everything."""
        return self._batch_index

    def activation(
        self, targets_to_values: TargetsToValues, target: Target | None = None
    ) -> torch.Tensor:
        """Return the output of ``target`` (default: this objective's single target)."""
        key = self._target if target is None else target
        try:
            value = targets_to_values[key]
        except KeyError:
            raise KeyError(
                f"{self.__name__} found no output for its target {key!r}. Objectives are "
                "evaluated by InputOptimization, which hooks every module in loss.target; "
                "when calling one directly, pass {target: activation}."
            ) from None
        except TypeError:
            raise TypeError(
                f"{self.__name__} has several targets; pass one explicitly to activation()."
            ) from None
        if value is None:
            raise RuntimeError(f"The target {key!r} of {self.__name__} produced no output.")
        return value

    def converted_like(self, tensor: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``tensor.to(like)`` (device and dtype), copied once and then reused.

        Objectives keep user tensors (directions, weights) where they were given, usually on
        the CPU. Copying them to the GPU on every step would wait for the host each time, and
        inside a CUDA-graph capture it is an error. The cached copy is refreshed when
        ``tensor`` is replaced or modified in place.

        Example:
            >>> import torch, torch.nn as nn
            >>> from optim.loss import LayerActivation
            >>> loss = LayerActivation(nn.ReLU())
            >>> vec = torch.ones(3)
            >>> a = loss.converted_like(vec, torch.zeros(1, dtype=torch.float64))
            >>> a.dtype, a is loss.converted_like(vec, torch.zeros(1, dtype=torch.float64))
            (torch.float64, True)
        """
        if tensor.requires_grad or (tensor.device, tensor.dtype) == (like.device, like.dtype):
            return tensor.to(like)  # a no-op, or a copy that must stay in the autograd graph
        cache = self.__dict__.setdefault("_converted", {})
        key = (id(tensor), like.device, like.dtype)
        hit = cache.get(key)
        if hit is not None and hit[0] is tensor and hit[1] == tensor._version:
            return hit[2]
        if len(cache) >= 16:  # replaced tensors' copies: drop them all, the live ones come back
            cache.clear()
        converted = tensor.to(like)
        cache[key] = (tensor, tensor._version, converted)
        return converted

    def select_batch(self, activation: torch.Tensor) -> torch.Tensor:
        """Apply ``batch_index`` to ``activation``; fail if the selection is empty."""
        start, end = self._batch_index
        if start is None and end is None:
            return activation
        selected = activation[start:end]
        if selected.shape[0] == 0:
            raise IndexError(
                f"{self.__name__}: batch_index {list(self._batch_index)} selects no sample of a "
                f"batch of {activation.shape[0]}; use indices in 0..{activation.shape[0] - 1}."
            )
        return selected


class CompositeLoss(BaseLoss):
    """An objective defined by a function of ``{target: activation}``.

    Arithmetic on objectives returns these; build one directly to wrap any function.

    Args:
        loss_fn: ``loss_fn(targets_to_values) -> Tensor``.
        name: The name shown by ``repr``.
        target: The module(s) or name(s) ``loss_fn`` reads.

    Example:
        >>> import torch, torch.nn as nn
        >>> layer = nn.ReLU()
        >>> loss = CompositeLoss(lambda m: m[layer].sum(), name="Total", target=layer)
        >>> loss({layer: torch.ones(2, 3)}), repr(loss)
        (tensor(6.), 'Total')
    """

    def __init__(
        self,
        loss_fn: Callable[[TargetsToValues], torch.Tensor],
        name: str = "",
        target: Target | Sequence[NestedTargets] = (),
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}.")
        super().__init__(target)
        self.loss_fn = loss_fn
        self.__name__ = name

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        return self.loss_fn(targets_to_values)
