"""posneg: split a signed tensor into non-negative positive and negative parts.

Example:
    >>> import torch
    >>> posneg(torch.tensor([1.0, -2.0]))
    tensor([1., 0., 0., 2.])
"""

from __future__ import annotations

import torch


def posneg(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Concatenate ``relu(x)`` and ``relu(-x)`` along ``dim``.

    This is the one-sided trick of "Visualizing Weights" (Distill, 2020): NMF needs
    non-negative input, so a signed tensor with ``C`` entries along ``dim`` becomes a
    non-negative one with ``2 * C``, the first half holding the positive part and the second
    half the magnitude of the negative part.

    Args:
        x: Any real tensor.
        dim: The dim to double (the channel dim for activations, e.g. 1 for NCHW).

    Returns:
        A non-negative tensor, twice as long as ``x`` along ``dim``.

    Example:
        >>> import torch
        >>> posneg(torch.tensor([[1.0, -3.0]]), dim=1)
        tensor([[1., 0., 0., 3.]])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.dim() == 0:
        raise ValueError("x must have at least one dim to split along; got a scalar tensor.")
    if not -x.dim() <= dim < x.dim():
        raise ValueError(
            f"dim={dim} is out of range for a {x.dim()}D tensor; valid dims are "
            f"{-x.dim()} to {x.dim() - 1}."
        )
    return torch.cat([torch.relu(x), torch.relu(-x)], dim=dim)
