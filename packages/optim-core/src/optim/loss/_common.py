"""Helpers shared by the objectives: neuron positions and the dot/cosine products."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from optim.checks import check_int


def check_position_arg(value: int | None, name: str, objective: str) -> None:
    if value is not None:
        check_int(value, f"{objective}: {name}", minimum=0, hint="Or None for the centre.")


def neuron_position(
    activation: torch.Tensor, x: int | None, y: int | None, objective: str
) -> tuple[int, int]:
    """Return ``(row, column)`` of the unit at horizontal ``x`` / vertical ``y``.

    ``x`` indexes the width (dim 3) and ``y`` the height (dim 2); ``None`` means the centre
    (one unit left/up of it for even sizes).
    """
    # Imported here: optim.image_utils pulls in plotting, which objectives never need.
    from optim.image_utils import get_neuron_pos

    height, width = activation.shape[2], activation.shape[3]
    if x is not None and x >= width:
        raise IndexError(
            f"{objective}: x={x} is outside the target's width {width}; use 0..{width - 1}."
        )
    if y is not None and y >= height:
        raise IndexError(
            f"{objective}: y={y} is outside the target's height {height}; use 0..{height - 1}."
        )
    column, row = get_neuron_pos(height, width, x, y)
    return row, column


def dot_cossim(
    x: torch.Tensor,
    y: torch.Tensor,
    cossim_pow: float = 0.0,
    dim: int = 1,
    eps: float = 1e-8,
) -> torch.Tensor:
    """``sum(x * y, dim)`` scaled by ``clamp(cos(x, y), min=0.1) ** cossim_pow``.

    With ``cossim_pow=0`` this is the plain dot product.

    Example:
        >>> import torch
        >>> dot_cossim(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]]))
        tensor([11.])
    """
    dot = torch.sum(x * y, dim)
    if cossim_pow == 0:
        return dot
    cossim = torch.clamp(F.cosine_similarity(x, y, dim=dim, eps=eps), min=0.1)
    return dot * cossim**cossim_pow


def create_new_vector(
    x: torch.Tensor,
    vec: torch.Tensor,
    activation_fn: Callable[[torch.Tensor], torch.Tensor] | None = F.relu,
    move_channel_dim_to_final_dim: bool = True,
) -> torch.Tensor:
    """Project activations on ``vec``: ``activation_fn(x)`` with channels last, ``@ vec``,
    averaged over the spatial positions.

    Returns ``[B]`` for a 3D/4D ``x`` and ``[B, 1]`` for a 2D ``x``.

    Example:
        >>> import torch
        >>> create_new_vector(torch.ones(2, 3, 4, 4), torch.tensor([1.0, 0.0, 2.0]))
        tensor([3., 3.])
    """
    if vec.dim() != 1:
        raise ValueError(f"vec must be 1D (one weight per channel), got shape {tuple(vec.shape)}.")
    if x.dim() < 2:
        raise ValueError(
            f"x must have a batch and a channel dimension ([B, C, ...]), got shape "
            f"{tuple(x.shape)}; add a batch dimension with x.unsqueeze(0)."
        )
    if activation_fn is not None:
        x = activation_fn(x)
    if x.dim() > 2 and move_channel_dim_to_final_dim:
        x = x.movedim(1, -1)
    if x.shape[-1] != vec.shape[0]:
        raise ValueError(
            f"vec has {vec.shape[0]} entries but the activations have {x.shape[-1]} channels "
            "on the contracted dimension; give one entry per channel."
        )
    projected = x @ vec
    if projected.dim() == 1:
        return projected[:, None]
    return projected.mean(dim=tuple(range(1, projected.dim())))
