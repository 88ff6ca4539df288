"""Batched affine warps through ``affine_grid`` / ``grid_sample`` (private)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_SAMPLE_MODES = ("bilinear", "nearest", "bicubic")
_PADDING_MODES = ("zeros", "border", "reflection")


def check_sample_modes(mode: str, padding_mode: str, name: str) -> None:
    """Validate ``grid_sample`` modes with a message naming the transform."""
    if mode not in _SAMPLE_MODES:
        raise ValueError(f"{name} mode must be one of {_SAMPLE_MODES}, got {mode!r}.")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(
            f"{name} padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}."
        )


def warp(
    x: torch.Tensor, matrix: list[list[float]], mode: str, padding_mode: str, align_corners: bool
) -> torch.Tensor:
    """Apply one 2x3 affine ``matrix`` (normalised coordinates) to every image of ``x``."""
    theta = torch.tensor(matrix, dtype=x.dtype, device=x.device).expand(x.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=align_corners)
    return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
