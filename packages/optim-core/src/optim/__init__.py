"""optim: optimization-based interpretability for PyTorch.

Example:
    >>> import optim as opt
    >>> image = opt.images.NaturalImage((64, 64))
    >>> image().shape
    torch.Size([1, 3, 64, 64])

optim-core owns this package. The plugin distributions (optim-models, optim-reducer,
optim-circuits, optim-dataset) ship only ``optim/<name>/`` and are found through the
extended ``__path__`` below, for wheel and editable installs alike.
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata
from pkgutil import extend_path
from typing import Any

__path__ = extend_path(__path__, __name__)

try:
    __version__ = _metadata.version("optim-core")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

# Submodules provided by optim-core itself, imported on first access.
_CORE_SUBMODULES = {
    "images",
    "transforms",
    "loss",
    "optimization",
    "hooks",
    "model_utils",
    "image_utils",
    "plugins",
    "cli",
}

# Submodules shipped by separately installed distributions.
_PLUGIN_SUBMODULES = {
    "models": "optim-models",
    "reducer": "optim-reducer",
    "circuits": "optim-circuits",
    "dataset": "optim-dataset",
    "atlas": "optim-reducer",
}

# Top-level names re-exported lazily: name -> "module:attribute".
_LAZY_ATTRIBUTES = {
    "InputOptimization": "optim.optimization:InputOptimization",
    "ImageTensor": "optim.images:ImageTensor",
    "show": "optim.image_utils:show",
    "save_tensor_as_image": "optim.image_utils:save_tensor_as_image",
    "make_grid_image": "optim.image_utils:make_grid_image",
    "weights_to_heatmap_2d": "optim.image_utils:weights_to_heatmap_2d",
    "nchannels_to_rgb": "optim.image_utils:nchannels_to_rgb",
    "hue_to_rgb": "optim.image_utils:hue_to_rgb",
    "collect_activations": "optim.hooks:collect_activations",
    "render": "optim.rendering:render",
    "render_layer": "optim.rendering:render_layer",
    "accentuate": "optim.accentuation:accentuate",
}

__all__ = sorted({"__version__", *_CORE_SUBMODULES, *_PLUGIN_SUBMODULES, *_LAZY_ATTRIBUTES})


def _import_plugin_submodule(name: str) -> Any:
    dist = _PLUGIN_SUBMODULES[name]
    module_name = "optim.reducer.atlas" if name == "atlas" else f"optim.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only translate the error when the plugin package itself is missing, not when
        # something it imports is (that error is more useful as it is).
        if exc.name not in {module_name, f"optim.{name}"} and not (
            name == "atlas" and exc.name == "optim.reducer"
        ):
            raise
        raise ImportError(
            f"`optim.{name}` is provided by the {dist} distribution, which is not installed. "
            f"Fix it with: pip install {dist}"
        ) from exc


def __getattr__(name: str) -> Any:
    if name in _CORE_SUBMODULES:
        module = importlib.import_module(f"optim.{name}")
    elif name in _PLUGIN_SUBMODULES:
        module = _import_plugin_submodule(name)
    elif name in _LAZY_ATTRIBUTES:
        module_name, attr = _LAZY_ATTRIBUTES[name].split(":")
        module = getattr(importlib.import_module(module_name), attr)
    else:
        raise AttributeError(f"module 'optim' has no attribute {name!r}")
    globals()[name] = module  # cache: later lookups skip __getattr__
    return module


def __dir__() -> list[str]:
    return __all__
