"""Listing the layers of a model: the names that objectives and the CLI accept as targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from optim.checks import is_int

__all__ = ["get_model_layers"]

Shape = tuple[int, ...]


def _input_shape(input_size: int | Sequence[int]) -> Shape:
    if is_int(input_size):
        sizes: tuple[int, ...] = (input_size, input_size)
    elif isinstance(input_size, Sequence) and not isinstance(input_size, str):
        sizes = tuple(input_size)
    else:
        sizes = ()
    if not 2 <= len(sizes) <= 4 or not all(is_int(s) and s > 0 for s in sizes):
        raise ValueError(
            "input_size must be a positive int (square RGB image) or a sequence of 2 to 4 "
            f"positive ints: (H, W), (C, H, W) or (N, C, H, W); got {input_size!r}"
        )
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) == 2:
        return (1, 3, *sizes)
    if len(sizes) == 3:
        return (1, *sizes)
    return sizes


def _output_shape(output: Any) -> Shape | tuple[Shape, ...] | None:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        shapes = tuple(tuple(o.shape) for o in output if isinstance(o, torch.Tensor))
        return shapes or None
    return None


def get_model_layers(
    model: nn.Module, input_size: int | Sequence[int] | None = None
) -> list[str] | dict[str, Shape | tuple[Shape, ...] | None]:
    """The dotted names of every layer of ``model``, as ``model.named_modules()`` gives them.

    These are the names accepted wherever a target layer is expected (``"features.10"``,
    ``"mixed4a.conv_1x1"``).

    Args:
        model: any ``nn.Module``.
        input_size: if given, the model is run once (no grad, eval mode, restored after) on
            zeros of this size — an int for a square RGB image, ``(H, W)``, ``(C, H, W)`` or
            ``(N, C, H, W)`` — and a dict ``name -> output shape`` is returned instead of a
            list. Layers not called in the forward pass map to ``None``; layers returning
            several tensors map to a tuple of shapes.

    Returns:
        The list of names, or the name -> shape dict when ``input_size`` is given.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        >>> get_model_layers(model)
        ['0', '1']
        >>> get_model_layers(model, input_size=(10, 10))
        {'0': (1, 8, 8, 8), '1': (1, 8, 8, 8)}
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    names = [name for name, _ in model.named_modules() if name]
    if input_size is None:
        return names

    shape = _input_shape(input_size)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    shapes: dict[str, Shape | tuple[Shape, ...] | None] = dict.fromkeys(names)
    modes = {module: module.training for module in model.modules()}
    handles = []
    try:
        for name, module in model.named_modules():
            if not name:
                continue

            def record(_module: nn.Module, _input: Any, output: Any, name: str = name) -> None:
                if shapes[name] is None:
                    shapes[name] = _output_shape(output)

            handles.append(module.register_forward_hook(record))
        model.eval()
        with torch.no_grad():
            model(torch.zeros(shape, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return shapes
