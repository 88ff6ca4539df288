"""Hook specifications: one hook per kind of thing a plugin can register.

A plugin is a module (named by an ``optim.plugins`` entry point) holding functions marked
with :data:`hookimpl`. Each receives a registrar; calling it adds names to the registry.

Example:
    >>> from optim.plugins import hookimpl
    >>> @hookimpl
    ... def register_objectives(register):
    ...     register("my_objective", "my_package.losses:MyObjective",
    ...              description="What my objective maximises")
"""

from __future__ import annotations

from typing import Protocol

import pluggy

PROJECT_NAME = "optim"
ENTRY_POINT_GROUP = "optim.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Registrar(Protocol):
    """What a hook receives: ``register(name, obj_or_"module:attr", description=None)``."""

    def __call__(self, name: str, obj: object, description: str | None = None) -> None: ...


@hookspec
def register_parameterizations(register: Registrar) -> None:
    """Register image parameterizations (``nn.Module`` classes producing images)."""


@hookspec
def register_transforms(register: Registrar) -> None:
    """Register image transforms (``nn.Module`` classes applied before the model)."""


@hookspec
def register_objectives(register: Registrar) -> None:
    """Register objectives (``optim.loss.Loss`` subclasses or factories)."""


@hookspec
def register_models(register: Registrar) -> None:
    """Register model factories (``f(pretrained=False, ...) -> nn.Module``)."""


@hookspec
def register_reducers(register: Registrar) -> None:
    """Register dimensionality-reduction algorithms (sklearn-style estimator classes)."""


@hookspec
def register_dataset_statistics(register: Registrar) -> None:
    """Register dataset statistics (functions computing priors from image loaders)."""


# kind name -> hook name; the order is the order `optim plugins` prints them in.
KINDS: dict[str, str] = {
    "parameterizations": "register_parameterizations",
    "transforms": "register_transforms",
    "objectives": "register_objectives",
    "models": "register_models",
    "reducers": "register_reducers",
    "dataset_statistics": "register_dataset_statistics",
}
