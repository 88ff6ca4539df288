"""Identity layers that stand in for layers removed from a model."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from optim.model_utils.replace_layers import LayerTypes, replace_layers

__all__ = ["SkipLayer", "skip_layers"]


class SkipLayer(nn.Module):
    """Returns its first input unchanged and ignores every other argument.

    Constructor arguments are accepted (and ignored) so that it can replace any layer,
    including through ``replace_layers(..., transfer_vars=True)``.

    Example:
        >>> SkipLayer(inplace=True)(torch.ones(2), "ignored").tolist()
        [1.0, 1.0]
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return x

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles instead (it takes no ``*args``): an identity."""
        return nn.Identity()


def skip_layers(model: nn.Module, layers: LayerTypes) -> None:
    """Replace, in place, every layer of the given type(s) with a :class:`SkipLayer`.

    Args:
        model: the model to modify.
        layers: a layer class or a list/tuple of layer classes (for example ``nn.ReLU``).

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        >>> skip_layers(model, nn.ReLU)
        >>> type(model[1]).__name__
        'SkipLayer'
    """
    replace_layers(model, layers, SkipLayer)
