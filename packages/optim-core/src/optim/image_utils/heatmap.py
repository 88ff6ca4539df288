"""Diverging blue-white-red heatmaps of 2-D weights."""

from __future__ import annotations

from collections.abc import Sequence

import torch

DEFAULT_COLORS = ("0571b0", "92c5de", "f7f7f7", "f4a582", "ca0020")


def _hex_to_rgb(color: str) -> list[float]:
    value = color.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"Colours must be 6-digit hex strings such as 'ca0020', got {color!r}.")
    try:
        return [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    except ValueError as exc:
        raise ValueError(f"Colour {color!r} is not valid hex.") from exc


def weights_to_heatmap_2d(
    weight: torch.Tensor, colors: Sequence[str] = DEFAULT_COLORS
) -> torch.Tensor:
    """Map 2-D weights in [-1, 1] to a piecewise-linear diverging colour map.

    -1 -> ``colors[0]`` (blue), -0.5 -> ``colors[1]``, 0 -> ``colors[2]`` (white),
    0.5 -> ``colors[3]``, 1 -> ``colors[4]`` (red). Values outside [-1, 1] are clamped.

    Args:
        weight: 2-D tensor (H, W), typically normalised by its largest magnitude.
        colors: five hex colours from most negative to most positive.

    Returns:
        A ``[3, H, W]`` tensor with values in [0, 1].

    Example:
        >>> weights_to_heatmap_2d(torch.zeros(1, 1)).flatten().tolist()  # doctest: +ELLIPSIS
        [0.968..., 0.968..., 0.968...]
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weights_to_heatmap_2d expects a 2-D tensor, got {shape}.")
    if len(colors) != 5:
        raise ValueError(f"colors needs 5 hex colours, got {len(colors)}.")
    dtype = weight.dtype if weight.is_floating_point() else torch.get_default_dtype()
    palette = torch.tensor([_hex_to_rgb(c) for c in colors], dtype=dtype, device=weight.device)
    position = (weight.to(dtype).clamp(-1, 1) + 1) * 2  # 0..4 over the five anchors
    lower = position.floor().clamp(max=3).long()
    fraction = (position - lower).unsqueeze(-1)
    rgb = palette[lower] * (1 - fraction) + palette[lower + 1] * fraction
    return rgb.permute(2, 0, 1)
