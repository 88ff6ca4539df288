"""Random translation by reflection padding and cropping."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from optim.checks import is_int
from optim.transforms._validation import check_4d, check_generator, random_int


class RandomSpatialJitter(nn.Module):
    """Shift the whole batch by a random offset in ``[-translate, translate]`` pixels.

    The image is reflection-padded by ``translate`` and a window of the original size is
    cropped at a random inset, so the output shape equals the input shape.

    Args:
        translate: the largest shift in pixels (>= 0).
        generator: optional CPU ``torch.Generator``; torch's global RNG otherwise.

    Example:
        >>> jitter = RandomSpatialJitter(4, generator=torch.Generator().manual_seed(0))
        >>> jitter(torch.rand(2, 3, 16, 16)).shape
        torch.Size([2, 3, 16, 16])
    """

    graph_safe = False  # offsets drawn on the CPU (see optim.optimization.FastPath)

    def __init__(self, translate: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not is_int(translate) or translate < 0:
            raise ValueError(f"translate must be a non-negative int, got {translate!r}.")
        check_generator(generator, "RandomSpatialJitter")
        self.translate = translate
        self.pad_range = 2 * translate
        self.generator = generator

    def translate_tensor(self, x: torch.Tensor, insets: list[int]) -> torch.Tensor:
        """Crop the reflection-padded ``x`` at ``insets`` = (left, top) in ``[0, 2·translate]``.

        An inset of ``translate`` is the identity; smaller insets move the content right/down.

        Example:
            >>> jitter = RandomSpatialJitter(1)
            >>> x = torch.arange(9.0).view(1, 1, 3, 3)
            >>> torch.equal(jitter.translate_tensor(x, [1, 1]), x)
            True
        """
        check_4d(x, "RandomSpatialJitter")
        left, top = int(insets[0]), int(insets[1])
        if left < 0 or top < 0 or left > self.pad_range or top > self.pad_range:
            raise ValueError(f"insets must lie in [0, {self.pad_range}], got ({left}, {top}).")
        if self.translate == 0:
            return x
        if self.translate >= min(x.shape[-2], x.shape[-1]):
            raise ValueError(
                f"RandomSpatialJitter({self.translate}) needs an input larger than "
                f"{self.translate} pixels per side for reflection padding, got "
                f"{list(x.shape[-2:])}; lower translate."
            )
        padded = F.pad(
            x, [self.translate, self.translate, self.translate, self.translate], "reflect"
        )
        return padded[..., top : top + x.shape[-2], left : left + x.shape[-1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = random_int(0, self.pad_range + 1, self.generator)
        top = random_int(0, self.pad_range + 1, self.generator)
        return self.translate_tensor(x, [left, top])

    def extra_repr(self) -> str:
        return f"translate={self.translate}"
