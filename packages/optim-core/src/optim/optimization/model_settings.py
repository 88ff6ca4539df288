"""Model settings for a render: frozen parameters, channels_last weights, the training-mode check.

The two settings are undone when their context exits, on every exit path.

Example:
    >>> import torch.nn as nn
    >>> model = nn.Conv2d(3, 4, 3)
    >>> with frozen_parameters(model):
    ...     model.weight.requires_grad
    False
    >>> model.weight.requires_grad
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["channels_last_parameters", "frozen_parameters", "warn_if_training"]

# Modules whose forward differs between train() and eval().
_MODE_DEPENDENT = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._NormBase)


def warn_if_training(model: nn.Module) -> None:
    """Warn when ``model`` is in training mode and has layers that behave differently then.

    Example:
        >>> warn_if_training(nn.Sequential(nn.BatchNorm2d(3)).eval())  # silent in eval mode
    """
    if model.training and any(isinstance(m, _MODE_DEPENDENT) for m in model.modules()):
        warnings.warn(
            f"{type(model).__name__} is in training mode, so dropout and batch "
            "normalisation behave as in training (and batch-norm statistics get updated). "
            "Call model.eval() before rendering.",
            stacklevel=4,
        )


@contextmanager
def frozen_parameters(model: nn.Module, keep: Iterable[torch.Tensor] = ()) -> Iterator[None]:
    """Turn off ``requires_grad`` of the model's parameters (except ``keep``) for a while.

    A render optimises the input only: gradients for the weights would cost about as much
    again as the input gradient, and would pile up in the model's ``.grad``.
    """
    kept = {id(p) for p in keep}
    frozen = [p for p in model.parameters() if p.requires_grad and id(p) not in kept]
    try:
        for param in frozen:
            param.requires_grad_(False)
        yield
    finally:
        for param in frozen:
            param.requires_grad_(True)


@contextmanager
def channels_last_parameters(model: nn.Module) -> Iterator[None]:
    """Store the model's 4-D parameters and buffers in ``torch.channels_last`` for a while.

    Convolutions on tensor cores run fastest with NHWC data. The tensors keep their identity
    (only ``.data`` changes), and the ones that were contiguous are made contiguous again.

    Example:
        >>> conv = nn.Conv2d(3, 4, 3)
        >>> with channels_last_parameters(conv):
        ...     conv.weight.is_contiguous(memory_format=torch.channels_last)
        True
        >>> conv.weight.is_contiguous()
        True
    """
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.dim() == 4]
    restore = [t for t in tensors if t.is_contiguous()]
    try:
        for tensor in tensors:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        yield
    finally:
        for tensor in restore:
            tensor.data = tensor.data.contiguous()
