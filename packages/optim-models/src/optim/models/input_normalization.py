"""The forward pre-hook that feeds a model trained on normalised input from RGB in [0, 1].

Example:
    >>> import torch, torch.nn as nn
    >>> model = normalize_input(nn.Identity(), mean=[0.5] * 3, std=[0.5] * 3)
    >>> model(torch.ones(1, 3, 1, 1)).flatten().tolist()
    [1.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["NormalizeInput", "normalize_input"]


class NormalizeInput:
    """Forward pre-hook mapping RGB in [0, 1] to ``(x - mean) / std``."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = torch.tensor(list(mean)).view(1, 3, 1, 1)
        self.std = torch.tensor(list(std)).view(1, 3, 1, 1)

    def __call__(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x, *rest = args
        mean, std = self.mean.to(x), self.std.to(x)
        return ((x - mean) / std, *rest)


def normalize_input(model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> nn.Module:
    """Register :class:`NormalizeInput` on ``model`` and return it."""
    model.register_forward_pre_hook(NormalizeInput(mean, std))
    return model
