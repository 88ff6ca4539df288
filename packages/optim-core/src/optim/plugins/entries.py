"""What the registry holds: registered names (:class:`Entry`), namespaces
(:class:`Namespace`) and the registrations skipped because their name was taken
(:class:`Clash`).

Example:
    >>> entry = Entry("objectives", "mine", "optim.loss:ChannelActivation", "me", "1", "mine")
    >>> entry.load().__name__
    'ChannelActivation'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from optim.plugins.errors import PluginImportError, _call_plugin_code, describe_error

__all__ = ["NAMESPACE_SEPARATOR", "Clash", "Entry", "Namespace"]

NAMESPACE_SEPARATOR = "/"


@dataclass
class Entry:
    """One registered name: what it is, where it points and who registered it."""

    kind: str
    name: str
    target: Any  # the object, or a "module:attr" string resolved on first use
    distribution: str
    version: str
    plugin: str
    description: str = ""
    _resolved: Any = field(default=None, repr=False, compare=False)

    def load(self) -> Any:
        """Return the registered object, importing ``"module:attr"`` targets on first use.

        Raises:
            PluginImportError: the target cannot be imported, whatever the import raised
                (``sys.exit()`` included; only ``KeyboardInterrupt`` passes through).
        """
        if self._resolved is None:
            if not isinstance(self.target, str):
                self._resolved = self.target
            else:
                try:
                    self._resolved = _resolve(self.target)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    raise PluginImportError(
                        f"The {self.kind} name {self.name!r} from {self.distribution} "
                        f"{self.version} (plugin {self.plugin!r}) points to {self.target!r}, "
                        f"which cannot be imported: {describe_error(exc)}"
                    ) from exc
        return self._resolved

    def as_dict(self) -> dict[str, str]:
        target = self.target if isinstance(self.target, str) else _qualname(self.target)
        return {
            "kind": self.kind,
            "name": self.name,
            "target": target,
            "distribution": self.distribution,
            "version": self.version,
            "plugin": self.plugin,
            "description": self.description,
        }


@dataclass
class Namespace:
    """A registered namespace: every ``"<namespace>/<name>"`` of ``kind`` goes to ``resolver``."""

    kind: str
    namespace: str
    resolver: Any  # callable name -> object or "module:attr" string, or its "module:attr"
    names_source: Any  # callable () -> names, its "module:attr", or None
    distribution: str
    version: str
    plugin: str
    description: str = ""
    _names: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def pattern(self) -> str:
        """How names of this namespace are written: ``"torchvision/<name>"``."""
        return f"{self.namespace}{NAMESPACE_SEPARATOR}<name>"

    def names(self) -> list[str] | None:
        """The names the namespace offers (sorted), or ``None`` when it does not list them."""
        if self.names_source is None:
            return None
        if self._names is None:
            source = self.names_source
            source = _call_plugin_code(_resolve, source) if isinstance(source, str) else source
            self._names = sorted(_call_plugin_code(source))
        return self._names

    def resolve(self, name: str) -> Any:
        """What the resolver returns for ``name`` (an object or a ``"module:attr"`` string)."""
        resolver = self.resolver
        if isinstance(resolver, str):
            resolver = _call_plugin_code(_resolve, resolver)
        return _call_plugin_code(resolver, name)

    def as_dict(self) -> dict[str, str]:
        resolver = self.resolver if isinstance(self.resolver, str) else _qualname(self.resolver)
        return {
            "kind": self.kind,
            "name": self.pattern,
            "target": resolver,
            "distribution": self.distribution,
            "version": self.version,
            "plugin": self.plugin,
            "description": self.description,
            "namespace": self.namespace,
        }


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}:{name}"


def _resolve(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def _same_target(a: Any, b: Any) -> bool:
    if a is b:
        return True
    as_str = [x if isinstance(x, str) else _qualname(x) for x in (a, b)]
    return as_str[0] == as_str[1]


@dataclass
class Clash:
    """A registration skipped because its name was taken: the first registration is kept.

    ``kept`` is the :class:`Entry` (or :class:`Namespace`) that stays registered; the
    ``skipped_*`` fields describe the registration that was dropped.
    """

    kind: str
    name: str
    kept: Entry | Namespace
    skipped_distribution: str
    skipped_version: str
    skipped_plugin: str
    skipped_target: str

    @property
    def is_namespace(self) -> bool:
        """Whether the clash is on a namespace (``"<namespace>/<name>"``), not a name."""
        return isinstance(self.kept, Namespace)

    @property
    def what(self) -> str:
        """``"objectives name 'x'"`` or ``"models namespace 'x'"``."""
        role = "namespace" if self.is_namespace else "name"
        return f"{self.kind} {role} {self.name!r}"

    def message(self) -> str:
        """Both sides of the clash: distributions, versions and plugins."""
        kept = self.kept
        return (
            f"The {self.what} is registered twice: by {kept.distribution} {kept.version} "
            f"(plugin {kept.plugin!r}) and by {self.skipped_distribution} "
            f"{self.skipped_version} (plugin {self.skipped_plugin!r})."
        )

    def as_dict(self) -> dict[str, str]:
        """The skipped registration (``optim plugins --json`` lists it with the kept row)."""
        return {
            "distribution": self.skipped_distribution,
            "version": self.skipped_version,
            "plugin": self.skipped_plugin,
            "target": self.skipped_target,
        }
