"""The receptive field of a layer's units, measured from the model (input gradients).

A unit's receptive field is the input region its value depends on. It is measured, not
looked up: the summed output of all channels at one position is differentiated with respect
to random inputs, and the box of pixels with a non-zero gradient is the field. The position is
the middle of the layer's map (away from padding), and a few random inputs are combined so
that units which happen to be inactive do not shrink it.

Example:
    >>> import torch.nn as nn
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, stride=2))
    >>> field = measure_receptive_field(model, "1", 32)
    >>> field.size, field.stride
    ((5, 5), (2.0, 2.0))
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from optim.checks import check_size

__all__ = ["ReceptiveField", "measure_receptive_field"]

_PROBES = 2  # random inputs whose gradient boxes are combined


@dataclass(frozen=True)
class ReceptiveField:
    """Where a layer's units look, in input pixels.

    Attributes:
        size: ``(height, width)`` of one unit's field (the whole input for a layer without
            spatial dimensions).
        stride: input pixels between neighbouring units, ``(rows, columns)``.
        center: the input pixel at the centre of the field of unit ``(0, 0)``.
        input_size: the ``(height, width)`` it was measured at.
        spatial: whether the layer has a spatial map (``[B, C, H, W]``, a channels-last map or
            a transformer's patch tokens).
    """

    size: tuple[int, int]
    stride: tuple[float, float]
    center: tuple[float, float]
    input_size: tuple[int, int]
    spatial: bool = True

    def box(self, position: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of the field of the unit at ``position`` (row,
        column), clipped to the input; the whole input for a non-spatial layer.

        Example:
            >>> ReceptiveField((5, 5), (2.0, 2.0), (2.0, 2.0), (32, 32)).box((3, 0))
            (6, 0, 11, 5)
        """
        height, width = self.input_size
        if not self.spatial:
            return 0, 0, height, width
        boxes = []
        for axis, extent, limit in ((0, self.size[0], height), (1, self.size[1], width)):
            middle = self.center[axis] + position[axis] * self.stride[axis]
            start = round(middle - (extent - 1) / 2)
            start = min(max(start, 0), max(limit - extent, 0))
            boxes.append((start, min(start + extent, limit)))
        (top, bottom), (left, right) = boxes
        return top, left, bottom, right


def _layer_output(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """``layer``'s output for ``x`` as ``[B, C, H, W]`` or ``[B, C]``: a vision transformer's
    ``[B, tokens, features]`` becomes its patch grid (class and register tokens dropped) and a
    Swin-style ``[B, H, W, C]`` map is permuted, as renders read them
    (:func:`optim.rendering.layer_layout.as_channels_first`)."""
    from optim.hooks import collect_activations
    from optim.rendering.layer_layout import as_channels_first

    output = collect_activations(model, [layer], x)[layer]
    if isinstance(output, torch.Tensor):
        with contextlib.suppress(ValueError):  # tokens without a patch grid: refused below
            output = as_channels_first(model, layer, output, (x.shape[-2], x.shape[-1]))
    if not isinstance(output, torch.Tensor) or output.dim() not in (2, 4):
        shape = list(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(
            f"Layer {layer!r} outputs {shape}; exemplars need [batch, channels, height, width], "
            "[batch, height, width, channels], [batch, tokens, features] (a patch grid after "
            "class/register tokens) or [batch, channels] outputs."
        )
    return output


def measure_receptive_field(
    model: nn.Module, layer: str, size: int | tuple[int, int] = 224, seed: int = 0
) -> ReceptiveField:
    """Measure the receptive field of ``layer``'s units at an input of ``size`` px.

    Args:
        model: the network (eval mode; not changed).
        layer: a dotted layer name.
        size: the input size the field is measured at (the one exemplars use).
        seed: the seed of the random probe inputs.

    Raises:
        ValueError: an unknown layer (closest names listed), or an output that is not
            ``[B, C, H, W]``, ``[B, H, W, C]``, patch tokens ``[B, T, F]`` or ``[B, C]``.
    """
    height, width = check_size(size, "size", minimum=1)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    generator = torch.Generator().manual_seed(seed)
    probes = torch.rand(_PROBES, 3, height, width, generator=generator).to(device)
    probes.requires_grad_(True)
    with torch.enable_grad():
        output = _layer_output(model, layer, probes)
        if output.dim() == 2:
            return ReceptiveField((height, width), (0.0, 0.0), (0.0, 0.0), (height, width), False)
        rows, cols = output.shape[-2:]
        middle = (rows // 2, cols // 2)
        after = (min(middle[0] + 1, rows - 1), min(middle[1] + 1, cols - 1))
        boxes = [
            _gradient_box(output, probes, position, layer, (height, width))
            for position in (middle, after)
        ]
    top, left, bottom, right = boxes[0]
    centers = [((b[0] + b[2] - 1) / 2, (b[1] + b[3] - 1) / 2) for b in boxes]
    steps = (after[0] - middle[0], after[1] - middle[1])

    # A field clipped by the input on both sides does not move: then the map's own spacing.
    def axis_stride(axis: int, extent: int, count: int) -> float:
        moved = centers[1][axis] - centers[0][axis]
        return moved / steps[axis] if steps[axis] and moved != 0 else extent / count

    stride = (axis_stride(0, height, rows), axis_stride(1, width, cols))
    center = (centers[0][0] - middle[0] * stride[0], centers[0][1] - middle[1] * stride[1])
    return ReceptiveField((bottom - top, right - left), stride, center, (height, width))


def _gradient_box(
    output: torch.Tensor,
    probes: torch.Tensor,
    position: tuple[int, int],
    layer: str,
    size: tuple[int, int],
) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` of the input pixels the units at ``position`` (every
    channel, every probe) have a non-zero gradient for."""
    (grad,) = torch.autograd.grad(
        output[:, :, position[0], position[1]].sum(), probes, retain_graph=True
    )
    touched = grad.abs().sum(dim=(0, 1)) > 0  # [H, W]
    if not touched.any():
        raise ValueError(
            f"Layer {layer!r}'s units do not depend on the input at {size[0]}x{size[1]} px; "
            "the receptive field cannot be measured."
        )
    ys, xs = touched.any(dim=1).nonzero().flatten(), touched.any(dim=0).nonzero().flatten()
    return int(ys[0]), int(xs[0]), int(ys[-1]) + 1, int(xs[-1]) + 1
