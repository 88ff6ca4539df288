"""Look up dimensionality-reduction algorithms by name, through the plugin registry only.

Example:
    >>> from optim.reducer.algorithms import resolve_reduction_algorithm
    >>> resolve_reduction_algorithm("PCA").__name__
    'PCA'
"""

from __future__ import annotations

import difflib
from typing import Any

from optim import plugins

REGISTRY_KIND = "reducers"


def available_reduction_algorithms() -> list[str]:
    """Names accepted by ``ChannelReducer(reduction_alg=...)`` through the registry.

    Example:
        >>> "NMF" in available_reduction_algorithms()
        True
    """
    return plugins.names(REGISTRY_KIND)


def resolve_reduction_algorithm(reduction_alg: str | type) -> type:
    """Return the estimator class designated by ``reduction_alg``.

    A string is looked up in the plugin registry only (kind ``"reducers"``: every scikit-learn
    decomposition / manifold estimator that optim-reducer registers, ``"UMAP"`` and whatever
    third-party plugins add). A class is returned as is once it is checked to have
    ``fit_transform``.

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
        try:  # registered names, and namespaced ones ("<namespace>/<name>") via their resolver
            return plugins.get(REGISTRY_KIND, reduction_alg)
        except KeyError:
            pass
        valid = available_reduction_algorithms()
        close = difflib.get_close_matches(reduction_alg, valid, n=3, cutoff=0.4)
        close += [n for n in valid if n.lower() == reduction_alg.lower() and n not in close]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown reduction algorithm {reduction_alg!r}.{hint} Valid names: "
            f"{', '.join(valid)}. Plugins add names with the register_reducers hook "
            "(`optim plugins --kind reducers` lists them); you can also pass an estimator "
            "class with fit_transform."
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
