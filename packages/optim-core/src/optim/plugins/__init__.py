"""optim's plugin host: hook specifications, the registry and its lookup functions.

Third-party packages add objectives, transforms, parameterizations, models, reducers and
dataset statistics by declaring an entry point in the ``optim.plugins`` group::

    [project.entry-points."optim.plugins"]
    my_plugin = "my_package.optim_plugin"

whose module holds hook implementations::

    from optim.plugins import hookimpl

    @hookimpl
    def register_objectives(register):
        register("my_objective", "my_package.losses:MyObjective", description="...")

Example:
    >>> import optim as opt
    >>> opt.plugins.get("objectives", "channel_activation").__name__
    'ChannelActivation'
"""

from __future__ import annotations

from typing import Any

from optim.plugins.hookspecs import ENTRY_POINT_GROUP, KINDS, hookimpl, hookspec
from optim.plugins.registry import (
    DISABLE_ENV,
    STRICT_ENV,
    Entry,
    PluginError,
    PluginLoadWarning,
    Registry,
    registry,
)

__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "STRICT_ENV",
    "Entry",
    "PluginError",
    "PluginLoadWarning",
    "Registry",
    "add_plugin",
    "distribution",
    "entries",
    "get",
    "hookimpl",
    "hookspec",
    "info",
    "kinds",
    "names",
    "refresh",
    "registry",
    "remove_plugin",
]


def names(kind: str) -> list[str]:
    """Sorted names registered for ``kind`` (e.g. ``"objectives"``)."""
    return registry.names(kind)


def get(kind: str, name: str) -> Any:
    """The object registered under ``name``; an unknown name lists the valid ones."""
    return registry.get(kind, name)


def info(kind: str, name: str) -> Entry:
    """The registry :class:`Entry` of ``name`` (distribution, version, description)."""
    return registry.info(kind, name)


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
    """Discover plugins again on the next lookup."""
    registry.refresh()


def add_plugin(plugin: object, name: str | None = None, distribution: str = "__main__") -> None:
    """Register a plugin object in this process, without an entry point."""
    registry.add_plugin(plugin, name=name, distribution=distribution)


def remove_plugin(plugin: object) -> None:
    """Remove a plugin added with :func:`add_plugin`."""
    registry.remove_plugin(plugin)
