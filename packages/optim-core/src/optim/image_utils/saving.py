"""Save image tensors to files with Pillow."""

from __future__ import annotations

import os

import torch

from optim.image_utils._to_pil import to_pil
from optim.rendering.files import write_atomic


def save_tensor_as_image(
    x: torch.Tensor,
    filename: str | os.PathLike[str],
    scale: float = 255.0,
    mode: str | None = None,
    images_per_row: int | None = None,
    padding: int = 2,
    pad_value: float = 0.0,
) -> None:
    """Save a CHW or NCHW image tensor (values in [0, 1]) to ``filename``.

    The mode defaults to "RGB" for 3 channels, "RGBA" for 4 and "L" for 1; the format follows
    the file extension. Written atomically (a temp file renamed once complete), so an
    interrupted save never leaves a half-written ``filename``.

    Example:
        >>> save_tensor_as_image(torch.rand(3, 8, 8), "/tmp/optim_example.png")
    """
    image = to_pil(
        x,
        scale=scale,
        mode=mode,
        images_per_row=images_per_row,
        padding=padding,
        pad_value=pad_value,
    )
    write_atomic(filename, image.save)  # the temp file keeps the suffix: the same format
