"""The contracts plugins and packages rely on, as Protocols, with the checks that enforce them.

Each contract is checked where it is consumed, so that a plugin breaking it gets an error
naming the distribution, the name and the contract, rather than a wrong result later:

====================  ============================================  ===========================
contract              what                                          checked by
====================  ============================================  ===========================
:class:`ModelFactory`  ``factory(pretrained=...) -> nn.Module``     :func:`check_model_factory`,
                                                                    :func:`check_model`
:class:`HasWeightsFile` ``model.weights_file``: ``None`` or an      :func:`check_weights_file`
                       existing file (hashed into run manifests)
:class:`GraphSafe`    ``module.graph_safe``: a bool (may a CUDA     :func:`check_graph_safe_flag`
                      graph replay the module?)
:class:`SeededTransform` ``module.generator``: a ``torch.Generator``  :func:`check_generator`
                      (or ``None``: the global RNG)
====================  ============================================  ===========================

This module imports no torch at import time (listing plugins stays cheap).

Example:
    >>> import torch
    >>> from optim.plugins.contracts import check_model, check_weights_file
    >>> model = check_model(torch.nn.Linear(2, 2), name="linear", distribution="tests")
    >>> check_weights_file(model, name="linear", distribution="tests") is None
    True
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from optim.plugins.errors import PluginError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "ContractError",
    "GraphSafe",
    "HasWeightsFile",
    "ModelFactory",
    "SeededTransform",
    "check_generator",
    "check_graph_safe_flag",
    "check_model",
    "check_model_factory",
    "check_weights_file",
]


class ContractError(PluginError, TypeError, ValueError):
    """An object from a plugin breaks one of the contracts above.

    It is a :class:`~optim.plugins.PluginError`, and also a ``TypeError`` and a ``ValueError``
    so that callers reporting bad input (the CLI prints those as one line) report it too.
    """


@runtime_checkable
class ModelFactory(Protocol):
    """What ``register_models`` registers: ``factory(pretrained=False, **options) -> nn.Module``.

    ``pretrained=True`` loads trained weights (from a local file: never a download), ``False``
    gives random weights. Other keyword options are the factory's own.
    """

    def __call__(self, *, pretrained: bool = ..., **kwargs: Any) -> nn.Module: ...


@runtime_checkable
class HasWeightsFile(Protocol):
    """A model that records the file its weights came from.

    ``weights_file`` is ``None`` (random weights, or weights not from a file) or the path of
    an existing file; run manifests store the path and its sha256.
    """

    weights_file: str | os.PathLike[str] | None


@runtime_checkable
class GraphSafe(Protocol):
    """A module stating whether a CUDA graph may replay it: ``graph_safe = True`` (it draws
    its randomness on the device, or none) or ``False`` (it draws on the host: a replay would
    freeze it). Third-party modules without the flag are treated as unsafe."""

    graph_safe: bool


@runtime_checkable
class SeededTransform(Protocol):
    """A random transform drawing from its own ``generator`` (a ``torch.Generator``; ``None``
    means torch's global RNG). A CUDA graph registers device generators found there so that
    every replay draws fresh numbers."""

    generator: torch.Generator | None


def _who(name: str, distribution: str | None) -> str:
    return f"{name!r} from {distribution}" if distribution else repr(name)


def _broken(contract: str, name: str, distribution: str | None, problem: str) -> ContractError:
    return ContractError(f"{_who(name, distribution)} breaks the {contract} contract: {problem}.")


def _describe(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def check_model_factory(factory: Any, *, name: str, distribution: str | None = None) -> Any:
    """``factory`` if it is callable and accepts ``pretrained=`` (:class:`ModelFactory`).

    Example:
        >>> check_model_factory(lambda: None, name="nope", distribution="tests")
        Traceback (most recent call last):
        ...
        optim.plugins.contracts.ContractError: 'nope' from tests breaks the ModelFactory contract: ...
    """  # noqa: E501
    if not callable(factory):
        raise _broken(
            "ModelFactory", name, distribution, f"it is {_describe(factory)}, not callable"
        )
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins and some C callables: nothing to check
        return factory
    parameters = signature.parameters.values()
    accepts = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters) or any(
        p.name == "pretrained"
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        for p in parameters
    )
    if not accepts:
        raise _broken(
            "ModelFactory",
            name,
            distribution,
            f"the factory{signature} takes no `pretrained` keyword "
            "(model factories are called as factory(pretrained=True|False))",
        )
    return factory


def check_model(model: Any, *, name: str, distribution: str | None = None) -> nn.Module:
    """``model`` if it is an ``nn.Module`` (what a :class:`ModelFactory` returns)."""
    from torch import nn

    if not isinstance(model, nn.Module):
        raise _broken(
            "ModelFactory",
            name,
            distribution,
            f"the factory returned {_describe(model)}, not a torch.nn.Module",
        )
    return model


def check_weights_file(model: Any, *, name: str, distribution: str | None = None) -> str | None:
    """The absolute path of ``model.weights_file``, or ``None`` when the model has none
    (:class:`HasWeightsFile`); a path that is not an existing file is a :class:`ContractError`.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 2)
        >>> model.weights_file = "/no/such/file.pth"
        >>> check_weights_file(model, name="linear", distribution="tests")
        Traceback (most recent call last):
        ...
        optim.plugins.contracts.ContractError: 'linear' from tests breaks the HasWeightsFile contract: ...
    """  # noqa: E501
    weights_file = getattr(model, "weights_file", None)
    if weights_file is None:
        return None
    if not isinstance(weights_file, str | os.PathLike):
        raise _broken(
            "HasWeightsFile",
            name,
            distribution,
            f"weights_file is {weights_file!r}; it must be None or a path (str or os.PathLike)",
        )
    path = Path(weights_file)
    if not path.is_file():
        raise _broken(
            "HasWeightsFile",
            name,
            distribution,
            f"weights_file {str(weights_file)!r} is not an existing file "
            "(it must name the file the weights were loaded from, or be None)",
        )
    return str(path.resolve())


def check_graph_safe_flag(module: Any) -> bool | None:
    """``module.graph_safe`` if it is set, ``None`` if it is not (:class:`GraphSafe`).

    A flag that is set but is not a bool (``"yes"``, ``1``) is a :class:`ContractError`:
    reading it as truthy could let a host-random module into a CUDA graph.

    Example:
        >>> import torch
        >>> check_graph_safe_flag(torch.nn.Identity()) is None
        True
        >>> class Jitter(torch.nn.Module):
        ...     graph_safe = "yes"
        >>> check_graph_safe_flag(Jitter())
        Traceback (most recent call last):
        ...
        optim.plugins.contracts.ContractError: 'Jitter' from ... breaks the GraphSafe contract: ...
    """
    flag = getattr(module, "graph_safe", None)
    if flag is None or isinstance(flag, bool):
        return flag
    raise _broken(
        "GraphSafe",
        type(module).__name__,
        type(module).__module__,
        f"graph_safe is {flag!r}; it must be True or False",
    )


def check_generator(module: Any) -> torch.Generator | None:
    """``module.generator`` if it is a ``torch.Generator``, ``None`` if it is unset or ``None``
    (:class:`SeededTransform`); anything else (a seed int, a numpy generator) is a
    :class:`ContractError`, since a CUDA graph could not register it.

    Example:
        >>> import torch
        >>> class Noise(torch.nn.Module):
        ...     def __init__(self, generator=None):
        ...         super().__init__()
        ...         self.generator = generator
        >>> check_generator(Noise()) is None
        True
        >>> check_generator(Noise(0))
        Traceback (most recent call last):
        ...
        optim.plugins.contracts.ContractError: 'Noise' from ... breaks the SeededTransform contract: ...
    """  # noqa: E501
    import torch

    generator = getattr(module, "generator", None)
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    raise _broken(
        "SeededTransform",
        type(module).__name__,
        type(module).__module__,
        f"generator is {_describe(generator)}; it must be a torch.Generator or None",
    )
