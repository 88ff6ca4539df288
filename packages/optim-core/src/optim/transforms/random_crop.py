"""Random wrap-around crop."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from optim.transforms._validation import check_4d, check_generator, random_int
from optim.transforms.center_crop import as_crop_size, crop_to_size


class RandomCrop(nn.Module):
    """Roll the batch by a random shift, then centre-crop to ``crop_size``.

    The shift along each axis lies in ``[-s, s]`` with ``s = ceil((size - crop) / 2)``, so any
    window of the input can come out; content that rolls past an edge wraps around.

    Args:
        crop_size: output (height, width) or a single int.
        generator: optional CPU ``torch.Generator``.

    Example:
        >>> RandomCrop(4)(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 4, 4])
    """

    graph_safe = False  # shifts drawn on the CPU (see optim.optimization.FastPath)

    def __init__(
        self, crop_size: int | Sequence[int], generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        check_generator(generator, "RandomCrop")
        self.crop_size = as_crop_size(crop_size, "crop_size")
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_4d(x, "RandomCrop")
        height, width = x.shape[2], x.shape[3]
        if self.crop_size[0] > height or self.crop_size[1] > width:
            raise ValueError(
                f"RandomCrop size {self.crop_size} is larger than the input {height}x{width}."
            )
        max_h = (height - self.crop_size[0] + 1) // 2  # ceil of half the margin
        max_w = (width - self.crop_size[1] + 1) // 2
        shift_h = random_int(-max_h, max_h + 1, self.generator)
        shift_w = random_int(-max_w, max_w + 1, self.generator)
        return crop_to_size(torch.roll(x, [shift_h, shift_w], [2, 3]), self.crop_size)
