"""Tile a batch of images into one grid image."""

from __future__ import annotations

import torch


def make_grid_image(
    tiles: torch.Tensor | list[torch.Tensor],
    images_per_row: int = 4,
    padding: int = 2,
    pad_value: float = 0.0,
) -> torch.Tensor:
    """Lay out NCHW tiles on a grid, keeping the channel count (unlike torchvision's).

    The result is ``[1, C, (H + p)·rows + p, (W + p)·min(images_per_row, N) + p]``.
    Scriptable with ``torch.jit.script``.

    Args:
        tiles: an NCHW tensor, or a list of NCHW / CHW tensors of equal C, H, W.
        images_per_row: tiles per row.
        padding: pixels between tiles and around the border.
        pad_value: fill value for the padding.

    Example:
        >>> make_grid_image(torch.ones(3, 3, 4, 4), images_per_row=2, padding=1).shape
        torch.Size([1, 3, 11, 11])
    """
    if isinstance(tiles, torch.Tensor):
        batch = tiles
    else:
        if len(tiles) == 0:
            raise ValueError("make_grid_image needs at least one tile.")
        batch = torch.cat([t.unsqueeze(0) if t.dim() == 3 else t for t in tiles])
    if batch.dim() != 4:
        raise ValueError(f"make_grid_image expects NCHW tiles, got shape {list(batch.shape)}.")
    if images_per_row < 1 or padding < 0:
        raise ValueError(
            f"images_per_row must be >= 1 and padding >= 0, got {images_per_row} and {padding}."
        )
    count, channels, height, width = batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3]
    columns = min(images_per_row, count)
    rows = (count + columns - 1) // columns
    canvas = batch.new_full(
        [1, channels, (height + padding) * rows + padding, (width + padding) * columns + padding],
        pad_value,
    )
    for index in range(count):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        canvas[0, :, top : top + height, left : left + width] = batch[index]
    return canvas
