"""The model zoo by name, backed by optim's plugin registry (kind ``"models"``)."""

from __future__ import annotations

from typing import Any

from torch import nn

from optim import plugins

__all__ = ["get_model", "list_models"]


def list_models() -> list[str]:
    """Every registered model name (from optim-models and any other plugin).

    Namespaced names resolve too without being listed: any torchvision classifier is
    ``"torchvision/<name>"`` (``opt.plugins.namespaces("models")`` lists the namespaces).

    Example:
        >>> "googlenet" in list_models() and "efficientnet_lite0" in list_models()
        True
    """
    return plugins.names("models")


def get_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered as ``name`` with the factory's options.

    Args:
        name: a name from :func:`list_models`, or a namespaced one (``"torchvision/<name>"``).
        **kwargs: factory options, e.g. ``pretrained=True``.

    Raises:
        ValueError: unknown name; the message lists the closest and the valid names.

    Example:
        >>> get_model("efficientnet_lite0", pretrained=True).variant
        'lite0'
    """
    if not isinstance(name, str):
        raise TypeError(f"Model names are strings, got {type(name).__name__}")
    try:
        factory = plugins.get("models", name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    return factory(**kwargs)
