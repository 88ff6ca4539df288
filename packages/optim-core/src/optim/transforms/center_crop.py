"""Centre cropping (with torchvision-style padding when the crop is larger)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from optim.checks import check_size
from optim.transforms._validation import check_3d_or_4d


def as_crop_size(size: int | Sequence[int], name: str = "size") -> list[int]:
    """Validate a crop size as ``[height, width]``: :func:`optim.checks.check_size` with
    ``minimum=0``, plus torchvision's one-element form ``[s]`` for ``s`` x ``s``.

    Example:
        >>> as_crop_size(3), as_crop_size((2, 4)), as_crop_size([5])
        ([3, 3], [2, 4], [5, 5])
    """
    if isinstance(size, Sequence) and not isinstance(size, str) and len(size) == 1:
        size = (size[0], size[0])
    return list(check_size(size, name, minimum=0))


def crop_to_size(
    input: torch.Tensor,
    size: list[int],
    pixels_from_edges: bool = False,
    offset_left: bool = False,
    padding_mode: str = "constant",
    padding_value: float = 0.0,
) -> torch.Tensor:
    """Scriptable core of :func:`center_crop`; ``size`` is a validated ``[height, width]``."""
    check_3d_or_4d(input, "center_crop")
    height, width = input.shape[-2], input.shape[-1]
    crop_h, crop_w = size[0], size[1]
    if pixels_from_edges:
        if crop_h >= height or crop_w >= width:
            raise ValueError(
                f"Cannot remove {crop_h}x{crop_w} pixels from a {height}x{width} input; "
                "remove fewer pixels than the input size."
            )
        crop_h, crop_w = height - crop_h, width - crop_w
    if crop_h > height or crop_w > width:
        pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
        padding = [pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2]
        if padding_mode == "constant":
            input = F.pad(input, padding, mode="constant", value=padding_value)
        else:
            input = F.pad(input, padding, mode=padding_mode)
        height, width = input.shape[-2], input.shape[-1]
    extra = 1 if offset_left else 0
    top = (height - crop_h + extra) // 2
    left = (width - crop_w + extra) // 2
    return input[..., top : top + crop_h, left : left + crop_w]


def center_crop(
    input: torch.Tensor,
    size: int | Sequence[int],
    pixels_from_edges: bool = False,
    offset_left: bool = False,
    padding_mode: str = "constant",
    padding_value: float = 0.0,
) -> torch.Tensor:
    """Crop the centre of a CHW or NCHW tensor to ``size`` (height, width).

    When the crop is larger than the input, the input is padded first (torchvision style:
    the extra pixel of an odd padding goes right/bottom). When the remaining margin is odd the
    crop sits one pixel up/left of centre, or down/right with ``offset_left=True``.

    Args:
        input: CHW or NCHW tensor.
        size: output (height, width), or a single int for both.
        pixels_from_edges: treat ``size`` as the number of pixels to remove instead.
        offset_left: put the odd leftover pixel on the top/left side.
        padding_mode: ``F.pad`` mode used when padding is needed.
        padding_value: fill value for ``padding_mode="constant"``.

    Returns:
        The cropped tensor, with the same leading dimensions.

    Example:
        >>> center_crop(torch.arange(25.0).view(1, 1, 5, 5), 3)[0, 0, 0].tolist()
        [6.0, 7.0, 8.0]
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"center_crop expects a tensor, got {type(input).__name__}.")
    return crop_to_size(
        input, as_crop_size(size), pixels_from_edges, offset_left, padding_mode, padding_value
    )


class CenterCrop(nn.Module):
    """Module version of :func:`center_crop`.

    Example:
        >>> CenterCrop(4)(torch.zeros(1, 3, 8, 8)).shape
        torch.Size([1, 3, 4, 4])
    """

    def __init__(
        self,
        size: int | Sequence[int] = 0,
        pixels_from_edges: bool = False,
        offset_left: bool = False,
        padding_mode: str = "constant",
        padding_value: float = 0.0,
    ) -> None:
        super().__init__()
        self.size = as_crop_size(size)
        self.pixels_from_edges = pixels_from_edges
        self.offset_left = offset_left
        self.padding_mode = padding_mode
        self.padding_value = float(padding_value)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return crop_to_size(
            input,
            self.size,
            self.pixels_from_edges,
            self.offset_left,
            self.padding_mode,
            self.padding_value,
        )
