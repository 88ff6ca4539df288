"""Tensor -> PIL image conversion shared by show, save and ImageTensor (private)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from optim.image_utils.grid import make_grid_image


def to_uint8_hwc(
    x: torch.Tensor,
    scale: float = 255.0,
    images_per_row: int | None = None,
    padding: int = 2,
    pad_value: float = 0.0,
) -> np.ndarray:
    """Lay a CHW/NCHW tensor out as one HWC (or HW for one channel) uint8 array.

    A batch goes in a single row unless ``images_per_row`` is given.
    """
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"Expected a CHW or NCHW image tensor, got {shape}.")
    x = x.detach().as_subclass(torch.Tensor).to("cpu", torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.shape[0] > 1:
        per_row = images_per_row if images_per_row is not None else x.shape[0]
        x = make_grid_image(x, images_per_row=per_row, padding=padding, pad_value=pad_value)
    if x.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"Images need 1, 3 or 4 channels to display, got {x.shape[1]}; convert with "
            "opt.nchannels_to_rgb first."
        )
    array = (x[0] * scale).clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


def to_pil(
    x: torch.Tensor,
    scale: float = 255.0,
    mode: str | None = None,
    images_per_row: int | None = None,
    padding: int = 2,
    pad_value: float = 0.0,
) -> Image.Image:
    """Convert a CHW/NCHW tensor to a PIL image (``mode`` defaults from the channel count; a
    batch is laid out as :func:`to_uint8_hwc` does)."""
    array = to_uint8_hwc(x, scale, images_per_row, padding, pad_value)
    image = Image.fromarray(array)
    return image.convert(mode) if mode is not None and mode != image.mode else image
