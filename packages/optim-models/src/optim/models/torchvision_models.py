"""torchvision classifiers by name, with random weights or a local file — never a download.

Registry names are ``torchvision/<name>`` (``torchvision/resnet50``): optim-models registers the
``torchvision`` namespace with :func:`resolve` and :func:`names`, so every classifier resolves
through the registry (``opt.plugins.get("models", "torchvision/resnet152")``, ``optim layers
torchvision/resnet152``). This module also exposes one factory per torchvision classifier as an
attribute (``torchvision_models.resnet50``).
"""

from __future__ import annotations

import difflib
import functools
import os
from typing import Any

from torch import nn

from optim.checks import check_size
from optim.models.input_normalization import normalize_input
from optim.models.layer_options import replace_activations
from optim.models.weights import WeightsUnavailableError, hub_cache_path, load_weights

__all__ = [
    "TORCHVISION_NAMESPACE",
    "TORCHVISION_PREFIX",
    "names",
    "resolve",
    "torchvision_model",
    "torchvision_model_names",
]

TORCHVISION_NAMESPACE = "torchvision"
TORCHVISION_PREFIX = f"{TORCHVISION_NAMESPACE}/"


def torchvision_model_names() -> list[str]:
    """The classification model names torchvision offers (``resnet50``, ``vgg16``, ...).

    Example:
        >>> "resnet18" in torchvision_model_names()
        True
    """
    import torchvision

    return list(torchvision.models.list_models(module=torchvision.models))


def names() -> list[str]:
    """The names of the ``torchvision`` registry namespace (what follows ``torchvision/``)."""
    return torchvision_model_names()


def resolve(name: str) -> str:
    """The registry target of ``torchvision/<name>``: this module's factory for ``name``.

    The registry checks ``name`` against :func:`names` first; an unknown name is a KeyError.

    Example:
        >>> resolve("resnet152")
        'optim.models.torchvision_models:resnet152'
    """
    if name not in torchvision_model_names():
        raise KeyError(f"torchvision has no classification model {name!r}")
    return f"{__name__}:{name}"


def _default_weights_url(name: str) -> str:
    import torchvision

    return torchvision.models.get_model_weights(name).DEFAULT.url


def _input_normalization(name: str) -> tuple[list[float], list[float]]:
    import torchvision

    weights = torchvision.models.get_model_weights(name).DEFAULT
    transforms = weights.transforms()
    return list(transforms.mean), list(transforms.std)


def torchvision_model(
    name: str,
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    transform_input: bool | None = None,
    replace_relus_with_redirectedrelu: bool = False,
    use_linear_modules_only: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build the torchvision classifier ``name``; layer names stay torchvision's.

    Args:
        name: a torchvision classification model name (``"resnet50"``; a
            ``"torchvision/"`` prefix is accepted).
        pretrained: load torchvision's default ImageNet weights, but only from the torch hub
            cache (``$TORCH_HOME/hub/checkpoints/<file>``): this never downloads. Without the
            file it fails saying where to put it.
        progress: unused (kept for the zoo's factory signature).
        model_path: a local state dict to load instead (implies pretrained weights).
        transform_input: normalise RGB in [0, 1] with the weights' mean/std through a
            forward pre-hook; defaults to True exactly when weights are loaded.
        replace_relus_with_redirectedrelu: replace ``nn.ReLU`` modules with
            :class:`RedirectedReluLayer` (functional ReLUs cannot be replaced).
        use_linear_modules_only: ``nn.ReLU`` -> :class:`SkipLayer`, ``nn.MaxPool2d`` ->
            ``nn.AvgPool2d``.
        **kwargs: passed to the torchvision builder (e.g. ``num_classes``).

    Example:
        >>> import torch
        >>> model = torchvision_model("resnet18").eval()
        >>> model(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 1000])
    """
    import torchvision

    del progress
    if name.startswith(TORCHVISION_PREFIX):
        name = name[len(TORCHVISION_PREFIX) :]
    available = torchvision_model_names()
    if name not in available:
        close = difflib.get_close_matches(name, available, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"torchvision has no classification model {name!r}.{hint} "
            f"Available: {', '.join(available)}"
        )
    load = pretrained or model_path is not None
    remedy = None
    if load and model_path is None:
        url = _default_weights_url(name)
        model_path = hub_cache_path(url)
        if not model_path.is_file():
            raise WeightsUnavailableError(
                f"Pretrained torchvision/{name} weights are not in the torch hub cache and "
                f"optim never downloads them: download {url} and place it at {model_path}, "
                "or pass model_path=<local state dict>."
            )
        remedy = (
            f"Delete it and place a good copy of {url} at {model_path}, or pass model_path=<file>."
        )
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    if isinstance(model, torchvision.models.MaxVit):  # its window partitions fit one size only
        model.required_input_size = check_size(kwargs.get("input_size", 224), "input_size")
    if load:
        load_weights(model, model_path=model_path, remedy=remedy)
        model.eval()
    if transform_input if transform_input is not None else load:
        normalize_input(model, *_input_normalization(name))
    return replace_activations(model, replace_relus_with_redirectedrelu, use_linear_modules_only)


def __getattr__(name: str) -> Any:
    if name.startswith("_"):
        raise AttributeError(name)
    if name in torchvision_model_names():
        factory = functools.partial(torchvision_model, name)
        functools.update_wrapper(factory, torchvision_model)
        factory.__doc__ = f"torchvision's {name}; see optim.models.torchvision_model."
        return factory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
