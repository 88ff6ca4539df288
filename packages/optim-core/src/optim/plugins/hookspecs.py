"""Hook specifications: one hook per kind of thing a plugin can register, plus namespaces.

A plugin is a module (named by an ``optim.plugins`` entry point) holding functions marked
with :data:`hookimpl`, and stating the plugin API it was written for
(``OPTIM_PLUGIN_API = 1``, see :data:`PLUGIN_API_VERSION`). Each hook receives a registrar;
calling it adds names to the registry.

Example:
    >>> from optim.plugins import hookimpl
    >>> OPTIM_PLUGIN_API = 1
    >>> @hookimpl
    ... def register_objectives(register):
    ...     register("my_objective", "my_package.losses:MyObjective",
    ...              description="What my objective maximises")
    >>> @hookimpl
    ... def register_namespaces(register):
    ...     register("timm", "my_package.timm_models:resolve", kind="models",
    ...              names="my_package.timm_models:names", description="timm's models")
"""

from __future__ import annotations

from typing import Protocol

import pluggy

PROJECT_NAME = "optim"
ENTRY_POINT_GROUP = "optim.plugins"
MODULES_GROUP = "optim.modules"
"""Entry-point group mapping ``opt.<name>`` to the module a distribution adds (``models =
"optim.models"``). optim-core reads it for ``import optim as opt; opt.<name>`` and to list the
plugin distributions in run manifests."""

PLUGIN_API_VERSION = 1
"""The version of this hook interface. A plugin module states the version it was written for
as ``OPTIM_PLUGIN_API``; a plugin stating another version is skipped with a
:class:`~optim.plugins.PluginLoadWarning` (an error under ``OPTIM_STRICT_PLUGINS=1``). A plugin
stating none is assumed to be written for this version."""

PLUGIN_API_ATTRIBUTE = "OPTIM_PLUGIN_API"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Registrar(Protocol):
    """What a ``register_<kind>`` hook receives: ``register(name, obj_or_"module:attr",
    description=None)``."""

    def __call__(self, name: str, obj: object, description: str | None = None) -> None: ...


class NamespaceRegistrar(Protocol):
    """What :func:`register_namespaces` receives.

    ``register(namespace, resolver, *, kind, names=None, description=None)`` makes every
    ``"<namespace>/<name>"`` of ``kind`` resolve through ``resolver``:

    - ``resolver(name)`` returns the object for ``name`` (or a ``"module:attr"`` string naming
      it) and raises ``LookupError`` for names it does not know;
    - ``names()`` (optional) returns the names the namespace offers; the registry checks a name
      against it before calling the resolver and lists the closest ones when it is unknown.

    Either may be a ``"module:attr"`` string, imported on first use.
    """

    def __call__(
        self,
        namespace: str,
        resolver: object,
        *,
        kind: str,
        names: object | None = None,
        description: str | None = None,
    ) -> None: ...


@hookspec
def register_parameterizations(register: Registrar) -> None:
    """Register image parameterizations (``nn.Module`` classes producing images)."""


@hookspec
def register_transforms(register: Registrar) -> None:
    """Register image transforms (``nn.Module`` classes applied before the model).

    Contracts: :class:`~optim.plugins.contracts.GraphSafe`,
    :class:`~optim.plugins.contracts.SeededTransform`.
    """


@hookspec
def register_objectives(register: Registrar) -> None:
    """Register objectives (``optim.loss.Loss`` subclasses or factories)."""


@hookspec
def register_models(register: Registrar) -> None:
    """Register model factories (``f(pretrained=False, ...) -> nn.Module``).

    Contracts: :class:`~optim.plugins.contracts.ModelFactory`,
    :class:`~optim.plugins.contracts.HasWeightsFile`.
    """


@hookspec
def register_reducers(register: Registrar) -> None:
    """Register dimensionality-reduction algorithms (sklearn-style estimator classes)."""


@hookspec
def register_dataset_statistics(register: Registrar) -> None:
    """Register dataset statistics (``f(loader, **options)`` computing priors from images)."""


@hookspec
def register_namespaces(register: NamespaceRegistrar) -> None:
    """Register namespaces: ``"<namespace>/<name>"`` names of one kind resolved by a function.

    Example:
        >>> @hookimpl
        ... def register_namespaces(register):
        ...     register("torchvision", "optim.models.torchvision_models:resolve",
        ...              kind="models", names="optim.models.torchvision_models:names",
        ...              description="any torchvision classifier")
    """


# kind name -> hook name; the order is the order `optim plugins` prints them in.
KINDS: dict[str, str] = {
    "parameterizations": "register_parameterizations",
    "transforms": "register_transforms",
    "objectives": "register_objectives",
    "models": "register_models",
    "reducers": "register_reducers",
    "dataset_statistics": "register_dataset_statistics",
}

NAMESPACES_HOOK = "register_namespaces"
