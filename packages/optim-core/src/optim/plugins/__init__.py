"""optim's plugin host: hook specifications, the registry and its lookup functions.

Third-party packages add objectives, transforms, parameterizations, models, reducers and
dataset statistics by declaring an entry point in the ``optim.plugins`` group::

    [project.entry-points."optim.plugins"]
    my_plugin = "my_package.optim_plugin"

whose module states the plugin API it was written for and holds hook implementations::

    from optim.plugins import hookimpl

    OPTIM_PLUGIN_API = 1  # optim.plugins.PLUGIN_API_VERSION when it was written

    @hookimpl
    def register_objectives(register):
        register("my_objective", "my_package.losses:MyObjective", description="...")

    @hookimpl
    def register_namespaces(register):  # every "mine/<name>" model resolves through resolve()
        register("mine", "my_package.zoo:resolve", kind="models", names="my_package.zoo:names")

The contracts that registered objects must keep (a model factory's ``pretrained=``, a model's
``weights_file``, a module's ``graph_safe``, a transform's ``generator``) are Protocols in
:mod:`optim.plugins.contracts`, with the checks their consumers run.

Example:
    >>> import optim as opt
    >>> opt.plugins.get("objectives", "channel_activation").__name__
    'ChannelActivation'
"""

from __future__ import annotations

from typing import Any

from optim.plugins import contracts
from optim.plugins.contracts import (
    ContractError,
    GraphSafe,
    HasWeightsFile,
    ModelFactory,
    SeededTransform,
)
from optim.plugins.entries import Clash, Entry, Namespace
from optim.plugins.errors import (
    IncompatiblePluginError,
    PluginClashWarning,
    PluginError,
    PluginImportError,
    PluginLoadWarning,
)
from optim.plugins.hookspecs import (
    ENTRY_POINT_GROUP,
    KINDS,
    MODULES_GROUP,
    PLUGIN_API_VERSION,
    NamespaceRegistrar,
    Registrar,
    hookimpl,
    hookspec,
)
from optim.plugins.registry import (
    DISABLE_ENV,
    STRICT_ENV,
    Registry,
    autoload_disabled,
    plugin_distributions,
    registry,
)

__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "MODULES_GROUP",
    "PLUGIN_API_VERSION",
    "STRICT_ENV",
    "Clash",
    "ContractError",
    "Entry",
    "GraphSafe",
    "HasWeightsFile",
    "IncompatiblePluginError",
    "ModelFactory",
    "Namespace",
    "NamespaceRegistrar",
    "PluginClashWarning",
    "PluginError",
    "PluginImportError",
    "PluginLoadWarning",
    "Registrar",
    "Registry",
    "SeededTransform",
    "add_plugin",
    "autoload_disabled",
    "contracts",
    "distribution",
    "entries",
    "get",
    "hookimpl",
    "hookspec",
    "info",
    "kinds",
    "names",
    "namespaces",
    "plugin_distributions",
    "refresh",
    "registry",
    "remove_plugin",
]


def names(kind: str) -> list[str]:
    """Sorted names registered for ``kind`` (e.g. ``"objectives"``)."""
    return registry.names(kind)


def get(kind: str, name: str) -> Any:
    """The object registered under ``name``, or resolved by its namespace for
    ``"<namespace>/<name>"``; an unknown name lists the valid ones and the closest."""
    return registry.get(kind, name)


def info(kind: str, name: str) -> Entry:
    """The registry :class:`Entry` of ``name`` (distribution, version, description); namespaced
    names resolve as in :func:`get`."""
    return registry.info(kind, name)


def namespaces(kind: str | None = None) -> list[Namespace]:
    """The registered namespaces (``torchvision`` for ``"torchvision/<name>"`` models, ...)."""
    return registry.namespaces(kind)


def distribution(kind: str, name: str) -> str:
    """The distribution that registered ``name``."""
    return registry.distribution(kind, name)


def entries(kind: str | None = None) -> list[Entry]:
    """Every registered entry, for one kind or all."""
    return registry.entries(kind)


def kinds() -> list[str]:
    """The kinds plugins can register."""
    return registry.kinds()


def refresh() -> None:
    """Discover plugins (and the ``optim.modules`` behind ``opt.<name>``) again on next use."""
    import optim

    registry.refresh()
    optim._plugin_modules.cache_clear()


def add_plugin(plugin: object, name: str | None = None, distribution: str = "__main__") -> None:
    """Register a plugin object in this process, without an entry point."""
    registry.add_plugin(plugin, name=name, distribution=distribution)


def remove_plugin(plugin: object) -> None:
    """Remove a plugin added with :func:`add_plugin`."""
    registry.remove_plugin(plugin)
