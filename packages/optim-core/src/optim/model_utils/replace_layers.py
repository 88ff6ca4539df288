"""In-place replacement of every layer of a given type inside a model."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

__all__ = ["LayerTypes", "replace_layers"]

logger = logging.getLogger(__name__)

LayerTypes = type[nn.Module] | Sequence[type[nn.Module]]

_VAR_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _as_type_tuple(layer1: LayerTypes) -> tuple[type, ...]:
    if isinstance(layer1, type):
        types: tuple[Any, ...] = (layer1,)
    elif isinstance(layer1, (list, tuple)):
        types = tuple(layer1)
    else:
        types = ()
    if not types or not all(isinstance(t, type) for t in types):
        raise TypeError(
            "layer1 must be a layer class (e.g. nn.ReLU) or a non-empty list of layer classes, "
            f"got {layer1!r}. Pass the class itself, not an instance."
        )
    return types


def _transfer_layer_vars(
    old: nn.Module, layer2: Callable[..., nn.Module], kwargs: dict[str, Any]
) -> nn.Module:
    """Build ``layer2`` from the public attributes of ``old`` that match its parameters."""
    parameters = inspect.signature(layer2).parameters
    old_vars = {k: v for k, v in vars(old).items() if not k.startswith("_")}
    new_kwargs = {
        name: old_vars[name]
        for name, param in parameters.items()
        if param.kind not in _VAR_KINDS and name in old_vars
    }
    new_kwargs.update(kwargs)
    return layer2(**new_kwargs)


def replace_layers(
    model: nn.Module,
    layer1: LayerTypes,
    layer2: Callable[..., nn.Module],
    transfer_vars: bool = False,
    **kwargs: Any,
) -> None:
    """Replace, in place and recursively, every ``layer1`` instance with a new ``layer2``.

    Args:
        model: the model to modify.
        layer1: the class (or list of classes) to replace, e.g. ``nn.ReLU``.
        layer2: the class (or factory) building the replacement.
        transfer_vars: copy the public attributes of each old layer whose names match
            ``layer2``'s constructor parameters (e.g. ``kernel_size``/``stride`` when turning
            ``nn.MaxPool2d`` into ``nn.AvgPool2d``).
        **kwargs: extra constructor arguments for ``layer2``; they win over transferred ones.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(3, stride=2))
        >>> replace_layers(model, nn.MaxPool2d, nn.AvgPool2d, transfer_vars=True)
        >>> model[1]
        AvgPool2d(kernel_size=3, stride=2, padding=0)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    types = _as_type_tuple(layer1)
    if not callable(layer2):
        raise TypeError(f"layer2 must be a layer class or factory, got {layer2!r}")
    if isinstance(model, types):
        raise ValueError(
            f"The model itself is a {type(model).__name__}, which cannot be replaced in place; "
            "wrap it in a container (e.g. nn.Sequential(model)) first."
        )
    replaced = _replace(model, types, layer2, transfer_vars, kwargs)
    logger.debug("replace_layers: replaced %d layer(s) with %r", replaced, layer2)


def _replace(
    model: nn.Module,
    types: tuple[type, ...],
    layer2: Callable[..., nn.Module],
    transfer_vars: bool,
    kwargs: dict[str, Any],
) -> int:
    replaced = 0
    for name, child in list(model.named_children()):
        if isinstance(child, types):
            new = _transfer_layer_vars(child, layer2, kwargs) if transfer_vars else layer2(**kwargs)
            setattr(model, name, new)
            replaced += 1
        else:
            replaced += _replace(child, types, layer2, transfer_vars, kwargs)
    return replaced
