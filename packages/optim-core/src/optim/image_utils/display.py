"""Show image tensors with matplotlib."""

from __future__ import annotations

import torch

from optim.image_utils._to_pil import to_uint8_hwc


def show(
    x: torch.Tensor,
    figsize: tuple[float, float] | None = None,
    scale: float = 255.0,
    images_per_row: int | None = None,
    padding: int = 2,
    pad_value: float = 0.0,
) -> None:
    """Display a CHW or NCHW image tensor (values in [0, 1]) with matplotlib.

    A batch is laid out in one row, or on a grid when ``images_per_row`` is set.

    Args:
        x: image tensor; values are multiplied by ``scale`` and clipped to [0, 255].
        figsize: matplotlib figure size.
        scale: multiplier to the 0-255 range.
        images_per_row: grid width for batches.
        padding: pixels between batch images.
        pad_value: fill value (before scaling) between images.

    Example:
        >>> show(torch.rand(2, 3, 8, 8))  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    array = to_uint8_hwc(x, scale, images_per_row, padding, pad_value)
    if figsize is not None:
        plt.figure(figsize=figsize)
    plt.imshow(array, cmap="gray" if array.ndim == 2 else None)
    plt.axis("off")
    plt.show()
