"""RGBA -> RGB: blend over a background, or drop the alpha channel."""

from __future__ import annotations

import torch
from torch import nn

from optim.transforms._validation import check_4d


def _check_rgba(x: torch.Tensor, name: str) -> None:
    check_4d(x, name)
    if x.shape[1] != 4:
        raise ValueError(
            f"{name} expects an RGBA image with 4 channels, got {x.shape[1]} channels; "
            "create the image with channels=4."
        )


class BlendAlpha(nn.Module):
    """Composite an RGBA batch over a background: ``alpha * rgb + (1 - alpha) * background``.

    Args:
        background: tensor broadcastable to the RGB part (e.g. ``[1, 3, H, W]``); when None a
            fresh uniform-noise background is drawn on every call.
        generator: optional CPU ``torch.Generator`` for the random background.

    Example:
        >>> rgba = torch.ones(1, 4, 2, 2)
        >>> BlendAlpha(torch.zeros(1, 3, 2, 2))(rgba).shape
        torch.Size([1, 3, 2, 2])
    """

    def __init__(
        self, background: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        if background is not None and not isinstance(background, torch.Tensor):
            raise TypeError(
                f"background must be a tensor or None, got {type(background).__name__}."
            )
        self.background = background
        self.generator = generator
        # A CPU generator's noise would be frozen in a replayed CUDA graph; rand_like is not.
        self.graph_safe = generator is None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_rgba(x, "BlendAlpha")
        rgb, alpha = x[:, :3], x[:, 3:4]
        background = self.background
        if background is None:
            if self.generator is None:
                background = torch.rand_like(rgb)
            else:  # the generator lives on the CPU
                background = torch.rand(rgb.shape, generator=self.generator)
        background = background.to(device=x.device, dtype=x.dtype)
        return alpha * rgb + (1 - alpha) * background


class IgnoreAlpha(nn.Module):
    """Drop the alpha channel of an RGBA batch.

    Example:
        >>> IgnoreAlpha()(torch.ones(1, 4, 2, 2)).shape
        torch.Size([1, 3, 2, 2])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_rgba(x, "IgnoreAlpha")
        return x[:, :3]
