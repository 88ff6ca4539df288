"""The plugin registry: discovery of ``optim.plugins`` entry points and name lookup.

Example:
    >>> from optim import plugins
    >>> "fft_image" in plugins.names("parameterizations")
    True
    >>> plugins.get("parameterizations", "fft_image").__name__
    'FFTImage'
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from optim.plugins import hookspecs

logger = logging.getLogger(__name__)

STRICT_ENV = "OPTIM_STRICT_PLUGINS"
DISABLE_ENV = "OPTIM_DISABLE_PLUGIN_AUTOLOAD"
CORE_DISTRIBUTION = "optim-core"


class PluginError(RuntimeError):
    """A plugin could not be loaded, or two plugins registered the same name."""


class PluginLoadWarning(UserWarning):
    """A plugin failed to load and was skipped (set OPTIM_STRICT_PLUGINS=1 to make it an error)."""


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
        """Return the registered object, importing ``"module:attr"`` targets on first use."""
        if self._resolved is None:
            self._resolved = _resolve(self.target) if isinstance(self.target, str) else self.target
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


def _truthy(env: str) -> bool:
    return os.environ.get(env, "").strip().lower() not in {"", "0", "false", "no", "off"}


def _distribution_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


class Registry:
    """Names registered by optim-core and by every installed plugin, per kind.

    Discovery runs on first access and is cached; :meth:`refresh` runs it again (for
    example after installing a plugin in the same process).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._entries: dict[str, dict[str, Entry]] | None = None
        self._extra_plugins: list[tuple[object, str, str, str]] = []
        self.failed: list[tuple[str, str, str, BaseException]] = []

    # ---- discovery -------------------------------------------------------------------
    def refresh(self) -> None:
        """Forget everything discovered so far; the next access discovers plugins again."""
        with self._lock:
            self._entries = None

    def _ensure_loaded(self) -> dict[str, dict[str, Entry]]:
        with self._lock:
            if self._entries is None:
                self._entries = self._discover()
            return self._entries

    def _discover(self) -> dict[str, dict[str, Entry]]:
        entries: dict[str, dict[str, Entry]] = {kind: {} for kind in hookspecs.KINDS}
        self.failed = []
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)

        from optim.plugins import builtin

        plugins: list[tuple[object, str, str, str]] = [
            (builtin, "optim-core", CORE_DISTRIBUTION, _distribution_version(CORE_DISTRIBUTION))
        ]
        if not _truthy(DISABLE_ENV):
            plugins.extend(self._load_entry_points())
        plugins.extend(self._extra_plugins)

        for module, plugin_name, dist, version in plugins:
            try:
                pm.register(module, name=f"{dist}:{plugin_name}")
            except ValueError:  # the same module object registered twice: ignore
                continue
            for kind, hook_name in hookspecs.KINDS.items():
                caller = pm.subset_hook_caller(
                    hook_name, remove_plugins=[p for p in pm.get_plugins() if p is not module]
                )
                register = _Registrar(entries[kind], kind, plugin_name, dist, version)
                try:
                    caller(register=register)
                except PluginError:
                    raise
                except Exception as exc:
                    self._fail(plugin_name, dist, version, exc)
                    break
        return entries

    def _load_entry_points(self) -> list[tuple[object, str, str, str]]:
        loaded = []
        for ep in sorted(metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP), key=str):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "unknown"
            try:
                module = ep.load()
            except Exception as exc:
                self._fail(ep.name, dist, version, exc)
                continue
            loaded.append((module, ep.name, dist, version))
        return loaded

    def _fail(self, plugin: str, dist: str, version: str, exc: BaseException) -> None:
        message = (
            f"optim plugin {plugin!r} from {dist} {version} failed to load and was skipped: "
            f"{type(exc).__name__}: {exc}"
        )
        if _truthy(STRICT_ENV):
            raise PluginError(message + f" ({STRICT_ENV} is set)") from exc
        self.failed.append((plugin, dist, version, exc))
        warnings.warn(
            message + f". Set {STRICT_ENV}=1 to make this an error.",
            PluginLoadWarning,
            stacklevel=4,
        )

    def add_plugin(
        self, module: object, name: str | None = None, distribution: str = "__main__"
    ) -> None:
        """Register a plugin object (module or class with hookimpls) without an entry point.

        Example:
            >>> from optim.plugins import hookimpl, registry
            >>> class MyPlugin:
            ...     @staticmethod
            ...     @hookimpl
            ...     def register_objectives(register):
            ...         register("mine", "my_package.losses:Mine", description="...")
            >>> registry.add_plugin(MyPlugin, name="mine")
        """
        name = name or getattr(module, "__name__", repr(module))
        with self._lock:
            self._extra_plugins.append((module, name, distribution, "local"))
            self._entries = None

    def remove_plugin(self, module: object) -> None:
        """Undo :meth:`add_plugin`."""
        with self._lock:
            self._extra_plugins = [p for p in self._extra_plugins if p[0] is not module]
            self._entries = None

    # ---- lookup ----------------------------------------------------------------------
    def kinds(self) -> list[str]:
        """The kinds of things plugins can register."""
        return list(hookspecs.KINDS)

    def _kind(self, kind: str) -> dict[str, Entry]:
        entries = self._ensure_loaded()
        if kind not in entries:
            raise ValueError(
                f"Unknown plugin kind {kind!r}. Valid kinds: {', '.join(entries)}"
                + _closest_hint(kind, entries)
            )
        return entries[kind]

    def names(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind``."""
        return sorted(self._kind(kind))

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every :class:`Entry`, for one kind or for all of them."""
        kinds = [kind] if kind else self.kinds()
        return [self._kind(k)[n] for k in kinds for n in sorted(self._kind(k))]

    def info(self, kind: str, name: str) -> Entry:
        """The :class:`Entry` for ``name`` (distribution, version, description, target)."""
        table = self._kind(kind)
        if name not in table:
            valid = ", ".join(sorted(table)) or "(none registered)"
            raise KeyError(
                f"No {kind} named {name!r}.{_closest_hint(name, table)} Valid names: {valid}"
            )
        return table[name]

    def get(self, kind: str, name: str) -> Any:
        """The object registered as ``name``; unknown names list the valid ones."""
        return self.info(kind, name).load()

    def distribution(self, kind: str, name: str) -> str:
        """The distribution that registered ``name``."""
        return self.info(kind, name).distribution


def _closest_hint(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""


class _Registrar:
    """The ``register`` callable handed to one plugin's hook for one kind."""

    def __init__(
        self, table: dict[str, Entry], kind: str, plugin: str, dist: str, version: str
    ) -> None:
        self._table, self._kind = table, kind
        self._plugin, self._dist, self._version = plugin, dist, version

    def __call__(self, name: str, obj: Any, description: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Plugin names must be non-empty strings, got {name!r}")
        if isinstance(obj, str) and ":" not in obj:
            raise ValueError(f"String targets must look like 'module:attr', got {obj!r}")
        existing = self._table.get(name)
        if existing is not None:
            if _same_target(existing.target, obj):
                return  # the same object registered twice is harmless
            raise PluginError(
                f"The {self._kind} name {name!r} is registered twice: by "
                f"{existing.distribution} {existing.version} (plugin {existing.plugin!r}) and by "
                f"{self._dist} {self._version} (plugin {self._plugin!r}). "
                "Uninstall one of them or ask its author to rename it."
            )
        if not description and not isinstance(obj, str):
            doc = (getattr(obj, "__doc__", None) or "").strip()
            description = doc.splitlines()[0] if doc else ""
        self._table[name] = Entry(
            self._kind, name, obj, self._dist, self._version, self._plugin, description or ""
        )


registry = Registry()
