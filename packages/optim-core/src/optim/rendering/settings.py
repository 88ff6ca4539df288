"""Validation of render settings shared by ``render`` and ``render_layer``.

Example:
    >>> from optim.rendering.settings import check_size, resolve_seed
    >>> check_size(64)
    (64, 64)
    >>> resolve_seed(7)
    7
"""

from __future__ import annotations

import math
import secrets

import torch
from torch import nn

from optim.hooks import model_device

__all__ = [
    "MAX_SEED",
    "check_lr",
    "check_positive_int",
    "check_size",
    "resolve_device",
    "resolve_seed",
]

MAX_SEED = 2**31 - 1
"""Seeds are drawn from and limited to [0, MAX_SEED] so that they fit every RNG and JSON."""


def check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` from an int or a pair of positive ints.

    Example:
        >>> check_size((32, 48))
        (32, 48)
    """
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in pair):
        raise ValueError(f"size must be an int or (height, width) ints, got {size!r}.")
    if min(pair) < 8:
        raise ValueError(f"size must be at least 8 px, got {size!r}.")
    return pair  # type: ignore[return-value]


def check_positive_int(value: int, name: str) -> int:
    """``value`` if it is an int >= 1, else a ValueError naming ``name``.

    Example:
        >>> check_positive_int(3, "steps")
        3
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
    return value


def check_lr(lr: float) -> float:
    """A finite, positive learning rate.

    Example:
        >>> check_lr(0.05)
        0.05
    """
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number such as 0.05, got {lr!r}.")
    return float(lr)


def resolve_seed(seed: int | None) -> int:
    """``seed`` checked to lie in [0, MAX_SEED], or a fresh random one when it is ``None``.

    Example:
        >>> 0 <= resolve_seed(None) <= MAX_SEED
        True
    """
    if seed is None:
        return secrets.randbelow(MAX_SEED + 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number in 0..{MAX_SEED}, got {seed!r}.")
    return seed


def resolve_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """The render device: ``device``, or the model's when ``None``; the two must agree.

    Example:
        >>> resolve_device(nn.Linear(1, 1), None)
        device(type='cpu')
    """
    model_on = model_device(model)  # None for a model without parameters or buffers
    if device is None:
        return model_on or torch.device("cpu")
    try:
        wanted = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"Unknown device {device!r}; use e.g. 'cpu' or 'cuda:0'.") from None
    if wanted.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here.")
    if model_on is not None and (
        wanted.type != model_on.type
        or (wanted.index is not None and wanted.index != model_on.index)
    ):
        raise ValueError(
            f"The model is on {model_on} but device={device!r} was asked for: move the "
            f"model first with model.to({str(wanted)!r}), or pass device=None."
        )
    return wanted
