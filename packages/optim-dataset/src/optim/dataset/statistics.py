"""Dataset statistics by name, through optim's plugin registry (kind ``"dataset_statistics"``).

optim-dataset registers its own (``colour_covariance``, ``klt_matrix``, ``magnitude_spectrum``,
``activation_samples``); a third-party plugin adds more with the ``register_dataset_statistics``
hook, and they work here by name like the built-in ones. A statistic is a function
``statistic(loader, **options)``.

Example:
    >>> import torch
    >>> from optim.dataset import compute_statistic
    >>> compute_statistic("klt_matrix", [torch.rand(4, 3, 16, 16)], normalize=True).shape
    torch.Size([3, 3])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from optim import plugins

__all__ = ["REGISTRY_KIND", "available_statistics", "compute_statistic"]

REGISTRY_KIND = "dataset_statistics"


def available_statistics() -> list[str]:
    """The statistic names :func:`compute_statistic` accepts (built-in and from plugins).

    Example:
        >>> "klt_matrix" in available_statistics()
        True
    """
    return plugins.names(REGISTRY_KIND)


def compute_statistic(name: str, loader: Iterable[object], /, **options: Any) -> Any:
    """Compute the registered dataset statistic ``name`` over ``loader``.

    Args:
        name: a name from :func:`available_statistics` (``optim plugins --kind
            dataset_statistics`` lists them with their distribution).
        loader: what the statistic reads: image batches ``[N, C, H, W]`` in [0, 1] (or
            ``(images, labels)`` pairs) for the built-in ones.
        **options: the statistic's own options (``normalize=True`` for ``klt_matrix``,
            ``size=`` for ``magnitude_spectrum``, ``model=`` and ``targets=`` for
            ``activation_samples``, ...).

    Returns:
        What the statistic returns (a tensor for the colour statistics).

    Raises:
        KeyError: unknown name; the message lists the closest and the valid names.
        TypeError: the registered object is not callable.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"A statistic name must be a non-empty string, got {name!r}.")
    entry = plugins.info(REGISTRY_KIND, name)
    statistic = entry.load()
    if not callable(statistic):
        raise TypeError(
            f"The dataset statistic {name!r} from {entry.distribution} {entry.version} is "
            f"{type(statistic).__name__}, not a function statistic(loader, **options)."
        )
    return statistic(loader, **options)
