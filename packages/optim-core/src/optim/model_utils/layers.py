"""Listing the layers of a model: the names that objectives and the CLI accept as targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import torch
from torch import nn

from optim.checks import is_int

__all__ = ["get_model_layer_shapes", "get_model_layers"]

Shape = tuple[int, ...]
# Layer name -> output shape (a tuple of shapes for several outputs; None when not called).
LayerShapes = dict[str, Shape | tuple[Shape, ...] | None]


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


def _check_model(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")


@overload
def get_model_layers(model: nn.Module, input_size: None = None) -> list[str]: ...


@overload
def get_model_layers(model: nn.Module, input_size: int | Sequence[int]) -> LayerShapes: ...


def get_model_layers(
    model: nn.Module, input_size: int | Sequence[int] | None = None
) -> list[str] | LayerShapes:
    """The dotted names of every layer of ``model``, as ``model.named_modules()`` gives them.

    These are the names accepted wherever a target layer is expected (``"features.10"``,
    ``"mixed4a.conv_1x1"``). With ``input_size`` this is :func:`get_model_layer_shapes`
    (kept for compatibility; call that function when you want the shapes).

    Args:
        model: any ``nn.Module``.
        input_size: if given, the ``name -> output shape`` dict of
            :func:`get_model_layer_shapes` is returned instead of the list.

    Returns:
        The list of names, or the name -> shape dict when ``input_size`` is given.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        >>> get_model_layers(model)
        ['0', '1']
    """
    if input_size is not None:
        return get_model_layer_shapes(model, input_size)
    _check_model(model)
    return [name for name, _ in model.named_modules() if name]


def get_model_layer_shapes(model: nn.Module, input_size: int | Sequence[int]) -> LayerShapes:
    """The output shape of every layer of ``model`` (named as in :func:`get_model_layers`).

    The model is run once (no grad, eval mode, restored after) on zeros of ``input_size``.

    Args:
        model: any ``nn.Module``.
        input_size: an int for a square RGB image, ``(H, W)``, ``(C, H, W)`` or
            ``(N, C, H, W)``.

    Returns:
        A dict ``name -> output shape``. Layers not called in the forward pass map to ``None``;
        layers returning several tensors map to a tuple of shapes.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        >>> get_model_layer_shapes(model, input_size=(10, 10))
        {'0': (1, 8, 8, 8), '1': (1, 8, 8, 8)}
    """
    _check_model(model)
    names = [name for name, _ in model.named_modules() if name]
    shape = _input_shape(input_size)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    shapes: LayerShapes = dict.fromkeys(names)
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
