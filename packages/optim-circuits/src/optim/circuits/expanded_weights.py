"""Expanded weights: the effective linear weights between two non-adjacent layers.

"Visualizing Weights" (Voss et al., Distill 2021): when the path between two layers is
linear, ``d activ2[:, i, centre] / d activ1`` is the kernel through which every channel of
the earlier layer feeds channel ``i`` of the later one, however many layers lie between.

Example:
    >>> import torch, torch.nn as nn
    >>> import optim as opt
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 3))
    >>> weights = opt.circuits.extract_expanded_weights(
    ...     model, "0", "1", model_input=torch.zeros(1, 3, 9, 9))
    >>> weights.shape
    torch.Size([5, 4, 7, 7])
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn

from optim.checks import check_size, is_int
from optim.circuits._forward import describe_module, forward_between
from optim.circuits.linearity import NonlinearPathWarning, centre_of, probe_linearity
from optim.hooks import Target, model_device, resolve_target

__all__ = ["extract_expanded_weights"]

logger = logging.getLogger(__name__)

_BATCHED_GRAD_ELEMENTS = 1 << 24
"""Gradient elements computed per batched backward pass (bounds the extra memory)."""


def _crop_size(crop_shape: int | Sequence[int]) -> int | tuple[int, int]:
    """``crop_shape`` checked by :func:`optim.checks.check_size`; an int stays an int (it is
    handed to ``crop_func`` as given)."""
    height, width = check_size(crop_shape, "crop_shape")
    return height if is_int(crop_shape) else (height, width)


def _chunk_size(channels: int, row: torch.Tensor) -> int:
    return max(1, min(channels, _BATCHED_GRAD_ELEMENTS // max(1, row.numel())))


def _rows_by_batched_forward(
    model: nn.Module,
    module1: nn.Module,
    module2: nn.Module,
    model_input: torch.Tensor,
    first_row: torch.Tensor,
    channels: int,
) -> torch.Tensor | None:
    """Jacobian rows from real batches, the fast path.

    ``k`` copies of target1's output go through the layers between the targets at once and
    item ``b`` is differentiated for channel ``start + b``, so every layer runs its batched
    kernels (vmap over convolution backward runs one kernel per item). Returns ``None`` when
    the path cannot take a batch (e.g. it concatenates tensors from before target1) or when
    items influence each other (checked against ``first_row``, computed at batch size 1).
    """
    chunk = _chunk_size(channels, first_row)
    scale = first_row.abs().max().item()
    rows: list[torch.Tensor] = []
    for start in range(0, channels, chunk):
        size = min(chunk, channels - start)
        try:
            linked = forward_between(model, module1, module2, model_input, copies=size)
        except RuntimeError as exc:
            logger.debug("The path between the targets does not take a batch: %s", exc)
            return None
        centre = centre_of(linked.activ2)
        if centre.shape[0] != size:
            return None
        items = torch.arange(size, device=centre.device)
        (grads,) = torch.autograd.grad(
            centre[items, start + items].sum(), linked.activ1, allow_unused=True
        )
        if grads is None:
            return None
        if start == 0 and not torch.allclose(grads[:1], first_row, rtol=1e-4, atol=1e-5 * scale):
            logger.debug("Batch items interact on the path; using batch-1 gradients.")
            return None
        rows.append(grads.detach())
        del linked, centre, grads
    return torch.cat(rows)


def _jacobian_rows(centre: torch.Tensor, activ1: torch.Tensor) -> torch.Tensor:
    """``d centre[0, i] / d activ1[0]`` for every channel ``i`` from the batch-1 graph:
    ``[C2, *activ1.shape[1:]]``.

    Channels are differentiated in batches (``is_grads_batched``), falling back to one
    backward pass per channel for operations without batched-gradient support.
    """
    channels = centre.shape[1]
    chunk = _chunk_size(channels, activ1)
    basis = torch.eye(channels, dtype=centre.dtype, device=centre.device)
    rows: list[torch.Tensor] = []
    try:
        for start in range(0, channels, chunk):
            selectors = basis[start : start + chunk].unsqueeze(1)  # [k, 1, C2]
            (grads,) = torch.autograd.grad(
                centre, activ1, selectors, retain_graph=True, is_grads_batched=True
            )
            rows.append(grads[:, 0])
    except RuntimeError as exc:  # an operation on the path lacks a batching rule
        logger.debug("Batched gradients failed (%s); using one pass per channel.", exc)
        rows = []
        for i in range(channels):
            (grad,) = torch.autograd.grad(
                centre[:, i], activ1, torch.ones_like(centre[:, i]), retain_graph=True
            )
            rows.append(grad)
    return torch.cat(rows).detach()


def extract_expanded_weights(
    model: nn.Module,
    target1: Target,
    target2: Target,
    crop_shape: int | Sequence[int] | None = None,
    model_input: torch.Tensor | None = None,
    crop_func: Callable[[torch.Tensor, int | tuple[int, int]], torch.Tensor] | None = None,
    check_linearity: bool = True,
    batched_forward: bool = True,
) -> torch.Tensor:
    """Extract the expanded weights from ``target1`` to ``target2``.

    Runs ``model`` once, takes ``target2``'s output at its centre position
    ``((H - 1) // 2, (W - 1) // 2)`` (or its whole ``[B, C]`` output) and differentiates each
    channel with respect to ``target1``'s output. Only meaningful when every module between
    the targets is linear (convolutions, average pooling, padding, concatenation, eval-mode
    batch norm): load models with ``use_linear_modules_only=True`` or replace the
    non-linear modules with ``optim.model_utils.skip_layers``. With ``check_linearity`` a
    gradient probe (see :mod:`optim.circuits.linearity`) verifies that and emits a
    :class:`NonlinearPathWarning` naming the likely culprits otherwise.

    Args:
        model: The model, ideally with linear modules only between the targets.
        target1: The earlier layer (module or dotted name), e.g. ``"mixed4a_relu"``.
        target2: The later layer (module or dotted name), e.g. ``"mixed4b_relu"``.
        crop_shape: Crop the spatial dims of the result to this size (int or
            ``(height, width)``) around the centre; ``None`` keeps target1's full size.
        model_input: The input batch of size 1 (default ``torch.zeros(1, 3, 224, 224)``);
            it fixes the spatial sizes. It is moved to the model's device.
        crop_func: ``crop_func(weights, crop_shape)`` (default
            ``optim.transforms.center_crop``).
        check_linearity: Run the linearity probe (one more forward and two backward
            passes).
        batched_forward: Differentiate many channels per backward pass by running copies
            of target1's output through the path as one batch (falls back to batch-1
            gradients by itself when the path cannot take a batch).

    Returns:
        The expanded weights, ``[C2, C1, H1, W1]`` (``[C2, C1]`` when target1's output is
        2D), on the model's device.

    Raises:
        ValueError: Unknown target names (with the closest valid names), targets in the
            wrong order, a target2 that does not depend on target1, or a bad input.

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.AvgPool2d(2), nn.Conv2d(3, 4, 3))
        >>> weights = extract_expanded_weights(model, model[0], model[2], crop_shape=6,
        ...                                    model_input=torch.zeros(1, 2, 16, 16))
        >>> weights.shape
        torch.Size([4, 3, 6, 6])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    module1 = resolve_target(model, target1)
    module2 = resolve_target(model, target2)
    if module1 is module2:
        raise ValueError(
            f"target1 and target2 are the same module ({describe_module(model, module1)}); "
            "expanded weights connect two different layers."
        )
    if model_input is None:
        model_input = torch.zeros(1, 3, 224, 224)
    if not isinstance(model_input, torch.Tensor):
        raise TypeError(f"model_input must be a tensor, got {type(model_input).__name__}.")
    if model_input.dim() == 3:
        model_input = model_input.unsqueeze(0)
    if model_input.shape[0] != 1:
        raise ValueError(
            f"model_input must hold one item (batch size 1), got a batch of "
            f"{model_input.shape[0]}: the expanded weights of a linear path do not depend "
            "on the input, so one item is enough."
        )
    size = None if crop_shape is None else _crop_size(crop_shape)
    model_input = model_input.to(model_device(model) or torch.device("cpu"))

    linked = forward_between(model, module1, module2, model_input)
    centre = centre_of(linked.activ2)
    if not centre.requires_grad or centre.grad_fn is None:
        raise ValueError(
            f"target2 {describe_module(model, module2)} does not depend on target1 "
            f"{describe_module(model, module1)}; pick a target2 downstream of target1."
        )
    (probe,) = torch.autograd.grad(
        centre.sum(), linked.activ1, retain_graph=True, allow_unused=True
    )
    if probe is None:
        raise ValueError(
            f"target2 {describe_module(model, module2)} does not depend on target1 "
            f"{describe_module(model, module1)}; pick a target2 downstream of target1."
        )
    (first_row,) = torch.autograd.grad(
        centre[:, 0].sum(), linked.activ1, retain_graph=True, allow_unused=True
    )
    if first_row is None:
        first_row = torch.zeros_like(linked.activ1)
    weights = None
    if batched_forward:
        weights = _rows_by_batched_forward(
            model, module1, module2, model_input, first_row.detach(), centre.shape[1]
        )
    if weights is None:
        weights = _jacobian_rows(centre, linked.activ1)
    del linked, centre, probe, first_row

    if check_linearity:
        report = probe_linearity(model, module1, module2, model_input)
        if not report.is_linear:
            culprits = (
                f" Non-linear modules that ran between the targets: {', '.join(report.suspects)}."
                if report.suspects
                else " No non-linear module ran between them, so look for functional calls "
                "(torch.relu, F.max_pool2d, ...) in the forward code."
            )
            warnings.warn(
                f"The path from {describe_module(model, module1)} to "
                f"{describe_module(model, module2)} is not linear: its gradient changes by "
                f"{report.relative_change:.1%} with the input, so these expanded weights "
                "only describe the model around model_input." + culprits + " Load the model "
                "with use_linear_modules_only=True (optim.models), or call "
                "optim.model_utils.skip_layers(model, nn.ReLU) and replace_layers(model, "
                "nn.MaxPool2d, nn.AvgPool2d, transfer_vars=True) first. Pass "
                "check_linearity=False to skip this check.",
                NonlinearPathWarning,
                stacklevel=2,
            )

    if size is not None:
        if weights.dim() != 4:
            raise ValueError(
                f"crop_shape needs spatial weights [C2, C1, H, W], got {tuple(weights.shape)}."
            )
        if crop_func is None:
            from optim.transforms import center_crop

            crop_func = center_crop
        weights = crop_func(weights, size)
    return weights
