"""The model zoo by name, backed by optim's plugin registry (kind ``"models"``)."""

from __future__ import annotations

import difflib
from typing import Any

from torch import nn

from optim import plugins
from optim.models.torchvision_models import TORCHVISION_PREFIX, torchvision_model

__all__ = ["get_model", "list_models"]


def list_models() -> list[str]:
    """Every registered model name (from optim-models and any other plugin).

    Any torchvision classifier is also available as ``"torchvision/<name>"``.

    Example:
        >>> "googlenet" in list_models() and "efficientnet_lite0" in list_models()
        True
    """
    return plugins.names("models")


def get_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered as ``name`` with the factory's options.

    Args:
        name: a name from :func:`list_models`, or ``"torchvision/<name>"``.
        **kwargs: factory options, e.g. ``pretrained=True``.

    Example:
        >>> get_model("efficientnet_lite0", pretrained=True).variant
        'lite0'
    """
    if not isinstance(name, str):
        raise TypeError(f"Model names are strings, got {type(name).__name__}")
    names = list_models()
    if name in names:
        return plugins.get("models", name)(**kwargs)
    if name.startswith(TORCHVISION_PREFIX):
        return torchvision_model(name, **kwargs)
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown model {name!r}.{hint} Available: {', '.join(names)} "
        f"(and any torchvision classifier as '{TORCHVISION_PREFIX}<name>')"
    )
