"""optim: optimization-based interpretability for PyTorch.

Example:
    >>> import optim as opt
    >>> image = opt.images.NaturalImage((64, 64))
    >>> image().shape
    torch.Size([1, 3, 64, 64])

optim-core owns this package. The plugin distributions (optim-models, optim-reducer,
optim-circuits, optim-dataset, and third-party ones) ship only ``optim/<name>/`` and are found
through the extended ``__path__`` below, for wheel and editable installs alike. Which
``opt.<name>`` attributes they add is read from their ``optim.modules`` entry points
(``models = "optim.models"``), not from a table here.
"""

from __future__ import annotations

import functools
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
    "rendering",
    "accentuation",
    "checks",
}

# The entry-point group in which plugin distributions declare the `opt.<name>` modules they
# add (optim.plugins.MODULES_GROUP; not imported from there: `import optim` needs no pluggy).
_MODULES_GROUP = "optim.modules"

# optim's own plugin packages. Used only to tell, when one is NOT installed, a missing plugin
# (ImportError naming `pip install optim-<name>`) from a typo (AttributeError); installed
# modules and their distributions come from entry points.
_FIRST_PARTY_PLUGINS = ("models", "reducer", "circuits", "dataset")

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

_BASE_ALL = {"__version__", *_CORE_SUBMODULES, *_LAZY_ATTRIBUTES}


def _plugin_distribution(name: str) -> str:
    """The distribution that provides ``optim.<name>`` by optim's naming convention."""
    return f"optim-{name.split('.')[0]}"


def _pip_install(dist: str, options: str = "") -> str:
    """How to install ``dist``: from the package index, and for optim's own distributions also
    from a clone of the repository, which ships them under ``packages/``.

    Example:
        >>> print(_pip_install("optim-models"))  # doctest: +NORMALIZE_WHITESPACE
        pip install optim-models (or, from a clone of the optim repository:
        pip install ./packages/optim-models)
    """
    command = f"pip install {options}{dist}"
    if dist.removeprefix("optim-") not in _FIRST_PARTY_PLUGINS:
        return command
    return (
        f"{command} (or, from a clone of the optim repository: "
        f"pip install {options}./packages/{dist})"
    )


@functools.cache
def _plugin_modules() -> dict[str, tuple[str, str]]:
    """``{name: (module, distribution)}`` from the installed ``optim.modules`` entry points.

    Two distributions declaring the same name for different modules make the name map to
    ``("", "<dist a> and <dist b>")``: using it raises an ImportError naming both.
    """
    found: dict[str, tuple[str, str]] = {}
    for ep in _metadata.entry_points(group=_MODULES_GROUP):
        dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
        module = ep.value.strip()
        if ep.name in _CORE_SUBMODULES or ep.name.startswith("_"):
            continue  # core's own names cannot be taken over
        previous = found.get(ep.name)
        if previous is not None and previous[0] != module:
            found[ep.name] = ("", f"{previous[1]} ({previous[0]}) and {dist} ({module})")
            continue
        found[ep.name] = (module, dist)
    return found


def _import_plugin_module(name: str) -> Any:
    module_name, dist = _plugin_modules()[name]
    if not module_name:
        raise ImportError(
            f"`optim.{name}` is declared by two distributions: {dist}. Uninstall one of them."
        )
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only translate the error when the declared module itself is missing, not when
        # something it imports is (that error is more useful as it is).
        parents = {module_name.rsplit(".", i)[0] for i in range(module_name.count("."))}
        if exc.name not in parents | {module_name}:
            raise
        raise ImportError(
            f"`optim.{name}` is declared by {dist}, but {module_name} cannot be imported; "
            f"the install looks broken. Fix it with: {_pip_install(dist, '--force-reinstall ')}"
        ) from exc


def _missing(name: str) -> Exception:
    if name in _FIRST_PARTY_PLUGINS:
        dist = _plugin_distribution(name)
        return ImportError(
            f"`optim.{name}` is provided by the {dist} distribution, which is not installed. "
            f"Fix it with: {_pip_install(dist)}"
        )
    hint = ""
    if not name.startswith("_"):
        import difflib

        close = difflib.get_close_matches(name, sorted(_public_names()), n=3, cutoff=0.6)
        hint = f". Did you mean: {', '.join(close)}?" if close else ""
    return AttributeError(f"module 'optim' has no attribute {name!r}{hint}")


def _public_names() -> set[str]:
    # The first-party plugin modules are listed even when not installed: using one then
    # says which distribution to install.
    return {*_BASE_ALL, *_FIRST_PARTY_PLUGINS, *_plugin_modules()}


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return sorted(_public_names())
    if name in _CORE_SUBMODULES:
        module = importlib.import_module(f"optim.{name}")
    elif name in _LAZY_ATTRIBUTES:
        module_name, attr = _LAZY_ATTRIBUTES[name].split(":")
        module = getattr(importlib.import_module(module_name), attr)
    elif not name.startswith("_") and name in _plugin_modules():
        module = _import_plugin_module(name)
    else:
        raise _missing(name)
    globals()[name] = module  # cache: later lookups skip __getattr__
    return module


def __dir__() -> list[str]:
    return sorted(_public_names())
