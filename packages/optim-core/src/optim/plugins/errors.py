"""What goes wrong with plugins: the exceptions and warnings the registry raises, and the
wrapper that keeps a plugin's ``sys.exit()`` from ending the process.

Example:
    >>> from optim.plugins.errors import describe_error
    >>> describe_error(SystemExit(3))
    'SystemExit: the plugin called sys.exit(3)'
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "IncompatiblePluginError",
    "PluginClashWarning",
    "PluginCodeExit",
    "PluginError",
    "PluginImportError",
    "PluginLoadWarning",
    "describe_error",
]


class PluginError(RuntimeError):
    """A plugin could not be loaded, or two plugins registered the same name."""


class PluginLoadWarning(UserWarning):
    """A plugin failed to load and was skipped (set OPTIM_STRICT_PLUGINS=1 to make it an error)."""


class PluginClashWarning(PluginLoadWarning):
    """A plugin registered a name that another one (or optim-core) registered first; the first
    registration was kept and the clashing one skipped (OPTIM_STRICT_PLUGINS=1: an error)."""


class PluginImportError(PluginError, ImportError):
    """The ``"module:attr"`` target of a registered name could not be imported.

    It is also an ``ImportError``, so that callers reporting bad input (the CLI prints those as
    one line) report it too.
    """


class IncompatiblePluginError(PluginError):
    """A plugin states a plugin API version (``OPTIM_PLUGIN_API``) this optim-core lacks."""


class PluginCodeExit(Exception):
    """Plugin code raised a ``BaseException`` that is not an ``Exception`` (``SystemExit``, a
    custom ``BaseException``, ...): wrapped so that ordinary error handling isolates it."""


def _call_plugin_code(function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``: plugin code, whose ``sys.exit()`` (or any other
    ``BaseException`` but ``KeyboardInterrupt``) becomes a :class:`PluginCodeExit`."""
    try:
        return function(*args, **kwargs)
    except (Exception, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise PluginCodeExit(describe_error(exc)) from exc


def describe_error(exc: BaseException) -> str:
    """``"Type: message"`` of what plugin code raised (``sys.exit()`` said as such)."""
    exc = _unwrap(exc)
    if isinstance(exc, SystemExit):
        return f"SystemExit: the plugin called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}"


def _unwrap(exc: BaseException) -> BaseException:
    """What plugin code raised: the ``SystemExit`` behind a :class:`PluginCodeExit`."""
    if isinstance(exc, PluginCodeExit) and exc.__cause__ is not None:
        return exc.__cause__
    return exc
