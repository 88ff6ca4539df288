"""Look up dimensionality-reduction algorithms by name: the registry, then scikit-learn.

Example:
    >>> from optim.reducer.algorithms import resolve_reduction_algorithm
    >>> resolve_reduction_algorithm("PCA").__name__
    'PCA'
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from optim import plugins

REGISTRY_KIND = "reducers"
SKLEARN_MODULES = ("sklearn.decomposition", "sklearn.manifold")


def _sklearn_estimator(name: str) -> type | None:
    """The class ``name`` from sklearn.decomposition or sklearn.manifold, if it is an estimator."""
    from sklearn.base import BaseEstimator

    for module_name in SKLEARN_MODULES:
        candidate = getattr(importlib.import_module(module_name), name, None)
        if isinstance(candidate, type) and issubclass(candidate, BaseEstimator):
            return candidate
    return None


def available_reduction_algorithms() -> list[str]:
    """Names accepted by ``ChannelReducer(reduction_alg=...)`` through the registry.

    Example:
        >>> "NMF" in available_reduction_algorithms()
        True
    """
    return plugins.names(REGISTRY_KIND)


def resolve_reduction_algorithm(reduction_alg: str | type) -> type:
    """Return the estimator class designated by ``reduction_alg``.

    A string is looked up in the plugin registry (kind ``"reducers"``: every scikit-learn
    decomposition / manifold estimator, ``"UMAP"`` and whatever third-party plugins add),
    then among the estimators of ``sklearn.decomposition`` and ``sklearn.manifold``. A class
    is returned as is once it is checked to have ``fit_transform``.

    Args:
        reduction_alg: An algorithm name such as ``"NMF"``, ``"PCA"``, ``"TSNE"``, ``"UMAP"``,
            or an estimator class with the scikit-learn interface.

    Returns:
        The estimator class.

    Raises:
        ValueError: If no algorithm has that name; the message lists the closest names.
        TypeError: If ``reduction_alg`` is neither a name nor a class with ``fit_transform``.

    Example:
        >>> resolve_reduction_algorithm("TSNE").__module__
        'sklearn.manifold._t_sne'
    """
    if isinstance(reduction_alg, str):
        if reduction_alg in plugins.names(REGISTRY_KIND):
            return plugins.get(REGISTRY_KIND, reduction_alg)
        found = _sklearn_estimator(reduction_alg)
        if found is not None:
            return found
        valid = available_reduction_algorithms()
        close = difflib.get_close_matches(reduction_alg, valid, n=3, cutoff=0.4)
        close += [n for n in valid if n.lower() == reduction_alg.lower() and n not in close]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown reduction algorithm {reduction_alg!r}.{hint} Valid names: "
            f"{', '.join(valid)}. You can also pass an estimator class with fit_transform."
        )
    if isinstance(reduction_alg, type):
        if not callable(getattr(reduction_alg, "fit_transform", None)):
            raise TypeError(
                f"{reduction_alg.__name__} has no fit_transform method; pass a scikit-learn "
                "style estimator class (e.g. sklearn.decomposition.PCA or umap.UMAP)."
            )
        return reduction_alg
    hint = (
        " Pass the class itself, not an instance: ChannelReducer(n_components, MyEstimator, "
        "**kwargs)."
        if callable(getattr(reduction_alg, "fit_transform", None))
        else ""
    )
    raise TypeError(
        "reduction_alg must be an algorithm name (str) or an estimator class, got "
        f"{type(reduction_alg).__name__}.{hint}"
    )


def to_tensor_if_array(value: Any) -> Any:
    """Convert numpy arrays to tensors; leave every other value untouched."""
    import numpy as np
    import torch

    if isinstance(value, np.ndarray) and value.dtype != object:
        return torch.from_numpy(np.ascontiguousarray(value))
    return value
