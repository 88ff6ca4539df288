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
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from optim.checks import is_int
from optim.plugins import hookspecs
from optim.plugins.entries import (
    NAMESPACE_SEPARATOR,
    Clash,
    Entry,
    Namespace,
    _qualname,
    _same_target,
)
from optim.plugins.errors import (
    IncompatiblePluginError,
    PluginClashWarning,
    PluginError,
    PluginLoadWarning,
    _call_plugin_code,
    _unwrap,
    describe_error,
)

logger = logging.getLogger(__name__)

STRICT_ENV = "OPTIM_STRICT_PLUGINS"
DISABLE_ENV = "OPTIM_DISABLE_PLUGIN_AUTOLOAD"
CORE_DISTRIBUTION = "optim-core"


def autoload_disabled() -> bool:
    """Whether ``OPTIM_DISABLE_PLUGIN_AUTOLOAD`` is set (then no installed plugin is loaded)."""
    return _truthy(DISABLE_ENV)


AUTOLOAD_DISABLED_NOTE = (
    f"{DISABLE_ENV} is set, so no installed plugin is loaded (optim-models' models neither): "
    f"only {CORE_DISTRIBUTION}'s built-ins and plugins added in-process are registered. Unset "
    "it to use the names of installed plugins."
)
"""What lookup errors and ``optim plugins`` say while plugin autoload is disabled."""


def _truthy(env: str) -> bool:
    return os.environ.get(env, "").strip().lower() not in {"", "0", "false", "no", "off"}


def _distribution_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def plugin_distributions() -> dict[str, str]:
    """``{distribution: version}`` of every installed distribution declaring optim entry points
    (``optim.plugins`` or ``optim.modules``), sorted by name. Reads metadata only: no plugin
    is imported.

    Example:
        >>> found = plugin_distributions()  # {"optim-models": "0.1.0", ...} when installed
        >>> all(found[dist] == metadata.version(dist) for dist in found), sorted(found) == [*found]
        (True, True)
    """
    found: dict[str, str] = {}
    for group in (hookspecs.ENTRY_POINT_GROUP, hookspecs.MODULES_GROUP):
        for ep in metadata.entry_points(group=group):
            if ep.dist is not None:
                found.setdefault(ep.dist.name, ep.dist.version)
    return dict(sorted(found.items()))


def check_plugin_api(module: object, plugin: str, dist: str, version: str) -> None:
    """Raise :class:`IncompatiblePluginError` unless ``module`` states (or omits) this API."""
    stated = getattr(module, hookspecs.PLUGIN_API_ATTRIBUTE, None)
    if stated is None or (is_int(stated) and stated == hookspecs.PLUGIN_API_VERSION):
        return
    raise IncompatiblePluginError(
        f"plugin {plugin!r} from {dist} {version} is written for optim plugin API "
        f"{stated!r} ({hookspecs.PLUGIN_API_ATTRIBUTE}), but {CORE_DISTRIBUTION} "
        f"{_distribution_version(CORE_DISTRIBUTION)} provides plugin API "
        f"{hookspecs.PLUGIN_API_VERSION}. Install a {dist} release made for plugin API "
        f"{hookspecs.PLUGIN_API_VERSION}, or an optim-core that provides API {stated!r}."
    )


@dataclass
class _State:
    entries: dict[str, dict[str, Entry]]
    namespaces: dict[str, dict[str, Namespace]]
    resolved: dict[tuple[str, str], Entry] = field(default_factory=dict)
    autoload: bool = True


@dataclass
class _Staged:
    """What one plugin registers, committed only when all of its hooks succeed."""

    entries: dict[str, dict[str, Entry]] = field(default_factory=dict)
    namespaces: dict[str, dict[str, Namespace]] = field(default_factory=dict)
    clashes: list[Clash] = field(default_factory=list)


class Registry:
    """Names registered by optim-core and by every installed plugin, per kind.

    Discovery runs on first access and is cached; :meth:`refresh` runs it again (for
    example after installing a plugin in the same process).

    One plugin cannot take the others down: a plugin whose import or hook fails (any
    exception, ``sys.exit()`` included; only ``KeyboardInterrupt`` stops discovery) is skipped
    with a :class:`PluginLoadWarning` and listed in :attr:`failed`; a name registered twice
    keeps its first registration (optim-core's built-ins come first) and the clashing one is
    skipped with a :class:`PluginClashWarning` and listed in :attr:`clashes`.
    ``OPTIM_STRICT_PLUGINS=1`` turns both into a :class:`PluginError`.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state: _State | None = None
        self._extra_plugins: list[tuple[object, str, str, str]] = []
        self.failed: list[tuple[str, str, str, BaseException]] = []
        self.clashes: list[Clash] = []

    # ---- discovery -------------------------------------------------------------------
    def refresh(self) -> None:
        """Forget everything discovered so far; the next access discovers plugins again."""
        with self._lock:
            self._state = None

    def _ensure_loaded(self) -> _State:
        with self._lock:
            if self._state is None:
                self._state = self._discover()
            return self._state

    @property
    def autoload_disabled(self) -> bool:
        """Whether discovery skipped installed plugins (``OPTIM_DISABLE_PLUGIN_AUTOLOAD``)."""
        return not self._ensure_loaded().autoload

    def _discover(self) -> _State:
        state = _State(
            entries={kind: {} for kind in hookspecs.KINDS},
            namespaces={kind: {} for kind in hookspecs.KINDS},
            autoload=not autoload_disabled(),
        )
        self.failed = []
        self.clashes = []
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)

        from optim.plugins import builtin

        plugins: list[tuple[object, str, str, str]] = [
            (builtin, "optim-core", CORE_DISTRIBUTION, _distribution_version(CORE_DISTRIBUTION))
        ]
        if state.autoload:
            plugins.extend(self._load_entry_points())
        plugins.extend(self._extra_plugins)

        for index, (module, plugin_name, dist, version) in enumerate(plugins):
            if pm.is_registered(module):  # the same module object twice: ignore
                continue
            try:
                source = (plugin_name, dist, version)
                staged = self._run_plugin(
                    pm, state, module, f"{dist}:{plugin_name}:{index}", source
                )
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                if pm.is_registered(module):
                    pm.unregister(module)
                self._fail(plugin_name, dist, version, _unwrap(exc))
                continue
            self._commit(state, staged)
        return state

    def _run_plugin(
        self,
        pm: pluggy.PluginManager,
        state: _State,
        module: object,
        pm_name: str,
        source: tuple[str, str, str],
    ) -> _Staged:
        """Check, register and call one plugin's hooks; what it registered, uncommitted."""
        plugin_name, dist, version = source
        _call_plugin_code(check_plugin_api, module, plugin_name, dist, version)
        _call_plugin_code(pm.register, module, name=pm_name)
        staged = _Staged()
        others = [p for p in pm.get_plugins() if p is not module]
        registrars: list[tuple[str, Any]] = [
            (hook, _Registrar(state.entries[kind], staged, kind, source))
            for kind, hook in hookspecs.KINDS.items()
        ]
        registrars.append(
            (hookspecs.NAMESPACES_HOOK, _NamespaceRegistrar(state.namespaces, staged, source))
        )
        for hook_name, register in registrars:
            caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
            _call_plugin_code(caller, register=register)
        return staged

    def _commit(self, state: _State, staged: _Staged) -> None:
        """Add one plugin's registrations; report its clashes (strict mode: raise)."""
        for clash in staged.clashes:
            message = clash.message()
            if _truthy(STRICT_ENV):
                raise PluginError(
                    f"{message} Uninstall one of them or ask its author to rename it "
                    f"({STRICT_ENV} is set)."
                )
            self.clashes.append(clash)
            warnings.warn(
                f"{message} Kept {clash.kept.distribution}'s and skipped "
                f"{clash.skipped_distribution}'s; uninstall one of them or ask its author to "
                f"rename it. Set {STRICT_ENV}=1 to make this an error.",
                PluginClashWarning,
                stacklevel=4,
            )
        for kind, table in staged.entries.items():
            state.entries[kind].update(table)
        for kind, namespaces in staged.namespaces.items():
            state.namespaces[kind].update(namespaces)

    def _load_entry_points(self) -> list[tuple[object, str, str, str]]:
        loaded = []
        for ep in sorted(metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP), key=str):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "unknown"
            try:
                module = _call_plugin_code(ep.load)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self._fail(ep.name, dist, version, _unwrap(exc))
                continue
            loaded.append((module, ep.name, dist, version))
        return loaded

    def _fail(self, plugin: str, dist: str, version: str, exc: BaseException) -> None:
        message = (
            f"optim plugin {plugin!r} from {dist} {version} failed to load and was skipped: "
            f"{describe_error(exc)}"
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
            ...     OPTIM_PLUGIN_API = 1
            ...     @staticmethod
            ...     @hookimpl
            ...     def register_objectives(register):
            ...         register("mine", "my_package.losses:Mine", description="...")
            >>> registry.add_plugin(MyPlugin, name="mine")
        """
        label = name or str(getattr(module, "__name__", repr(module)))
        with self._lock:
            self._extra_plugins.append((module, label, distribution, "local"))
            self._state = None

    def remove_plugin(self, module: object) -> None:
        """Undo :meth:`add_plugin`."""
        with self._lock:
            self._extra_plugins = [p for p in self._extra_plugins if p[0] is not module]
            self._state = None

    # ---- lookup ----------------------------------------------------------------------
    def kinds(self) -> list[str]:
        """The kinds of things plugins can register."""
        return list(hookspecs.KINDS)

    def _check_kind(self, kind: str, state: _State) -> None:
        if kind not in state.entries:
            raise ValueError(
                f"Unknown plugin kind {kind!r}. Valid kinds: {', '.join(state.entries)}"
                + _closest_hint(kind, state.entries)
            )

    def _kind(self, kind: str) -> dict[str, Entry]:
        state = self._ensure_loaded()
        self._check_kind(kind, state)
        return state.entries[kind]

    def names(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind`` (namespaces are listed by :meth:`namespaces`)."""
        return sorted(self._kind(kind))

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every :class:`Entry`, for one kind or for all of them."""
        kinds = [kind] if kind else self.kinds()
        return [self._kind(k)[n] for k in kinds for n in sorted(self._kind(k))]

    def namespaces(self, kind: str | None = None) -> list[Namespace]:
        """Every registered :class:`Namespace`, for one kind or for all of them."""
        state = self._ensure_loaded()
        kinds = [kind] if kind else self.kinds()
        for k in kinds:
            self._check_kind(k, state)
        return [state.namespaces[k][ns] for k in kinds for ns in sorted(state.namespaces[k])]

    def info(self, kind: str, name: str) -> Entry:
        """The :class:`Entry` for ``name`` (distribution, version, description, target).

        ``"<namespace>/<name>"`` names not registered as such resolve through the namespace's
        resolver (:func:`~optim.plugins.hookspecs.register_namespaces`).
        """
        state = self._ensure_loaded()
        self._check_kind(kind, state)
        table = state.entries[kind]
        if name in table:
            return table[name]
        if isinstance(name, str) and NAMESPACE_SEPARATOR in name:
            with self._lock:
                cached = state.resolved.get((kind, name))
                if cached is None:
                    cached = self._resolve_namespaced(state, kind, name)
                    state.resolved[(kind, name)] = cached
                return cached
        valid = ", ".join(sorted(table)) or "(none registered)"
        namespaces = state.namespaces[kind]
        also = (
            f" Namespaced names: {', '.join(ns.pattern for ns in namespaces.values())}."
            if namespaces
            else ""
        )
        raise KeyError(
            f"No {kind} named {name!r}.{_closest_hint(name, table)} Valid names: {valid}.{also}"
            + _state_note(state)
        )

    def _resolve_namespaced(self, state: _State, kind: str, name: str) -> Entry:
        prefix, _, sub = name.partition(NAMESPACE_SEPARATOR)
        namespaces = state.namespaces[kind]
        space = namespaces.get(prefix)
        if space is None:
            known = ", ".join(ns.pattern for ns in namespaces.values()) or "(none registered)"
            raise KeyError(
                f"No {kind} named {name!r}: no namespace {prefix!r} is registered for {kind}."
                f"{_closest_hint(prefix, namespaces)} Namespaces for {kind}: {known}. "
                f"`optim plugins --kind {kind}` lists every name." + _state_note(state)
            )
        where = f"the {prefix} namespace ({space.distribution} {space.version})"
        try:
            valid = space.names()
        except Exception as exc:
            raise PluginError(
                f"The names of {where} could not be listed: {describe_error(exc)}"
            ) from exc
        if valid is not None and sub not in valid:
            raise KeyError(
                f"No {kind} named {name!r}: {where} has no {sub!r}."
                f"{_closest_hint(sub, valid)} Valid names: {', '.join(valid)}."
            )
        try:
            target = space.resolve(sub)
        except LookupError as exc:
            message = exc.args[0] if exc.args else exc
            raise KeyError(f"No {kind} named {name!r}: {where} says: {message}") from None
        except Exception as exc:
            raise PluginError(
                f"Resolving {name!r} through {where} failed: {describe_error(exc)}"
            ) from exc
        if isinstance(target, str) and ":" not in target:
            raise PluginError(
                f"Resolving {name!r} through {where} returned {target!r}; string targets must "
                "look like 'module:attr'."
            )
        return Entry(
            kind, name, target, space.distribution, space.version, space.plugin, space.description
        )

    def get(self, kind: str, name: str) -> Any:
        """The object registered as ``name``; unknown names list the valid ones."""
        return self.info(kind, name).load()

    def distribution(self, kind: str, name: str) -> str:
        """The distribution that registered ``name``."""
        return self.info(kind, name).distribution


def _state_note(state: _State) -> str:
    return "" if state.autoload else f" {AUTOLOAD_DISABLED_NOTE}"


def _closest_hint(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""


class _Registrar:
    """The ``register`` callable handed to one plugin's hook for one kind.

    Registrations are staged (committed when every hook of the plugin succeeded); a name
    already taken with another target is recorded as a :class:`Clash` and skipped.
    """

    def __init__(
        self,
        table: dict[str, Entry],
        staged: _Staged,
        kind: str,
        source: tuple[str, str, str],
    ) -> None:
        self._table, self._staged, self._kind = table, staged, kind
        self.plugin, self.dist, self.version = source

    def __call__(self, name: str, obj: Any, description: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Plugin names must be non-empty strings, got {name!r}")
        if isinstance(obj, str) and ":" not in obj:
            raise ValueError(f"String targets must look like 'module:attr', got {obj!r}")
        staged = self._staged.entries.setdefault(self._kind, {})
        existing = staged.get(name) or self._table.get(name)
        if existing is not None:
            if not _same_target(existing.target, obj):
                self._staged.clashes.append(
                    Clash(
                        self._kind,
                        name,
                        existing,
                        self.dist,
                        self.version,
                        self.plugin,
                        obj if isinstance(obj, str) else _qualname(obj),
                    )
                )
            return  # the same object registered twice is harmless
        if not description and not isinstance(obj, str):
            doc = (getattr(obj, "__doc__", None) or "").strip()
            description = doc.splitlines()[0] if doc else ""
        staged[name] = Entry(
            self._kind, name, obj, self.dist, self.version, self.plugin, description or ""
        )


class _NamespaceRegistrar:
    """The ``register`` callable handed to one plugin's ``register_namespaces`` hook."""

    def __init__(
        self,
        tables: dict[str, dict[str, Namespace]],
        staged: _Staged,
        source: tuple[str, str, str],
    ) -> None:
        self._tables, self._staged = tables, staged
        self.plugin, self.dist, self.version = source

    def __call__(
        self,
        namespace: str,
        resolver: Any,
        *,
        kind: str,
        names: Any = None,
        description: str | None = None,
    ) -> None:
        if (
            not isinstance(namespace, str)
            or not namespace
            or NAMESPACE_SEPARATOR in namespace
            or namespace != namespace.strip()
        ):
            raise ValueError(
                f"Namespaces must be non-empty strings without {NAMESPACE_SEPARATOR!r}, "
                f"got {namespace!r}"
            )
        if kind not in self._tables:
            raise ValueError(
                f"Unknown plugin kind {kind!r} for namespace {namespace!r}. Valid kinds: "
                f"{', '.join(self._tables)}"
            )
        for role, value in (("resolver", resolver), ("names", names)):
            if isinstance(value, str) and ":" not in value:
                raise ValueError(f"String {role} must look like 'module:attr', got {value!r}")
            if value is not None and not isinstance(value, str) and not callable(value):
                raise TypeError(f"A namespace {role} must be callable, got {value!r}")
        if resolver is None:
            raise TypeError(f"Namespace {namespace!r} needs a resolver")
        staged = self._staged.namespaces.setdefault(kind, {})
        existing = staged.get(namespace) or self._tables[kind].get(namespace)
        if existing is not None:
            if not _same_target(existing.resolver, resolver):
                target = resolver if isinstance(resolver, str) else _qualname(resolver)
                self._staged.clashes.append(
                    Clash(kind, namespace, existing, self.dist, self.version, self.plugin, target)
                )
            return
        staged[namespace] = Namespace(
            kind,
            namespace,
            resolver,
            names,
            self.dist,
            self.version,
            self.plugin,
            description or "",
        )


registry = Registry()
