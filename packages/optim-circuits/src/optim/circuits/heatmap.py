"""Heatmap image of one connection of expanded weights.

Example:
    >>> import torch
    >>> weights = torch.randn(4, 3, 5, 5)
    >>> connection_heatmap(weights, 2, 1, size=(40, 40)).shape
    torch.Size([1, 3, 40, 40])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from optim.checks import check_int, check_size

__all__ = ["connection_heatmap"]


def connection_heatmap(
    weights: torch.Tensor,
    out_channel: int,
    in_channel: int,
    size: int | Sequence[int] | None = None,
    mode: str = "nearest-exact",
) -> torch.Tensor:
    """Render the kernel from ``in_channel`` into ``out_channel`` as a diverging heatmap.

    The kernel ``weights[out_channel, in_channel]`` is divided by the largest weight of
    ``out_channel`` over all its inputs, ``weights[out_channel].max()`` (as in the overview's
    circuits example), so kernels into one output channel share a scale; when that maximum
    is not positive the largest magnitude is used instead. Values are clamped to [-1, 1] and
    coloured with ``optim.weights_to_heatmap_2d`` (red positive, blue negative, white 0).

    Args:
        weights: Expanded weights ``[C2, C1, H, W]``.
        out_channel: Output channel (dim 0).
        in_channel: Input channel (dim 1).
        size: Upscale the heatmap to this size (int or ``(height, width)``), e.g. to sit
            beside rendered images; ``None`` keeps one pixel per weight.
        mode: ``F.interpolate`` mode used by ``size``.

    Returns:
        An RGB image ``[1, 3, H, W]`` in [0, 1], ready for ``torch.cat`` with renders and
        ``opt.show``.

    Example:
        >>> import torch
        >>> w = torch.zeros(1, 2, 1, 2)
        >>> w[0, 0, 0] = torch.tensor([1.0, -1.0])
        >>> connection_heatmap(w, 0, 0)[0, :, 0, 0].tolist()  # doctest: +ELLIPSIS
        [0.792..., 0.0, 0.125...]
    """
    from optim.image_utils import weights_to_heatmap_2d

    if not isinstance(weights, torch.Tensor) or weights.dim() != 4:
        raise ValueError(
            "weights must be expanded weights [C2, C1, H, W], got "
            f"{getattr(weights, 'shape', type(weights).__name__)}."
        )
    for name, index, dim in (("out_channel", out_channel, 0), ("in_channel", in_channel, 1)):
        check_int(index, name)
        if not 0 <= index < weights.shape[dim]:
            raise ValueError(f"{name} {index} is out of range: use 0..{weights.shape[dim] - 1}.")
    scale = weights[out_channel].max()
    if scale <= 0:
        scale = weights[out_channel].abs().max()
    kernel = weights[out_channel, in_channel]
    normalised = kernel / scale if scale > 0 else torch.zeros_like(kernel)
    heatmap = weights_to_heatmap_2d(normalised.clamp(-1, 1).detach())[None]
    if size is not None:
        heatmap = F.interpolate(heatmap, size=check_size(size), mode=mode)
    return heatmap
