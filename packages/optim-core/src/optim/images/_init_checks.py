"""Shared argument checks for the parameterizations (private)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from optim.checks import check_size


def as_size(size: int | Sequence[int] | None, name: str) -> tuple[int, int]:
    """Validate an image size: an int or a (height, width) pair of positive ints."""
    if size is None:
        raise ValueError(f"{name} needs size=(height, width) when no init tensor is given.")
    return check_size(size, f"{name} size")


def as_nchw_init(init: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``init`` as a detached NCHW float tensor (CHW gets a batch dimension)."""
    if not isinstance(init, torch.Tensor):
        raise TypeError(f"{name} init must be a tensor, got {type(init).__name__}.")
    if init.dim() == 3:
        init = init.unsqueeze(0)
    if init.dim() != 4:
        raise ValueError(f"{name} init must be CHW or NCHW, got shape {tuple(init.shape)}.")
    init = init.detach().as_subclass(torch.Tensor)
    if not init.is_floating_point():
        init = init.to(torch.get_default_dtype())
    return init.clone()


def check_counts(channels: int, batch: int, name: str) -> None:
    """Validate channel and batch counts."""
    if channels < 1 or batch < 1:
        raise ValueError(f"{name} needs channels >= 1 and batch >= 1, got {channels} and {batch}.")


def image_geometry(
    size: int | Sequence[int] | None,
    channels: int,
    batch: int,
    init: torch.Tensor | None,
    name: str,
) -> tuple[torch.Tensor | None, int, int, int, int]:
    """Validated ``(init, batch, channels, height, width)``; an ``init`` tensor sets them all."""
    if init is not None:
        init = as_nchw_init(init, name)
        batch, channels, height, width = init.shape
    else:
        height, width = as_size(size, name)
    check_counts(channels, batch, name)
    return init, batch, channels, height, width
