"""Collect the activations of a few layers for one input."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from optim.hooks.output_hook import ActivationFetcher
from optim.hooks.targets import Target, resolve_targets


def model_device(model: nn.Module) -> torch.device | None:
    """The device of the model's first parameter or buffer; ``None`` if it has neither.

    Example:
        >>> import torch.nn as nn
        >>> model_device(nn.Linear(2, 2))
        device(type='cpu')
    """
    for tensor in model.parameters():
        return tensor.device
    for buffer in model.buffers():
        return buffer.device
    return None


def collect_activations(
    model: nn.Module,
    targets: Target | Iterable[Target],
    model_input: torch.Tensor | None = None,
) -> dict[Target, torch.Tensor | None]:
    """Run ``model`` once on ``model_input`` and return the targets' outputs.

    A replacement for ``torchvision.models.feature_extraction`` that works on models that
    ``torch.fx`` cannot trace. Gradients are kept, so the activations can be differentiated
    (as circuits do). The input is moved to the model's device; the pass stops after the
    last target.

    Args:
        model: Any ``nn.Module``.
        targets: A module, a dotted name from ``model.named_modules()``, or a list of those.
            Duplicates are collected once.
        model_input: The input batch; default ``torch.zeros(1, 3, 224, 224)``.

    Returns:
        ``{target as given: activation}``, in the order given (``None`` for a target that
        the forward pass did not reach).

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
        >>> acts = collect_activations(model, ["0", model[1]], torch.zeros(1, 3, 8, 8))
        >>> acts["0"].shape
        torch.Size([1, 4, 8, 8])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"collect_activations needs an nn.Module model, got {type(model).__name__}."
        )
    resolved = resolve_targets(model, targets)
    if not resolved:
        raise ValueError("collect_activations needs at least one target, got none.")
    if model_input is None:
        model_input = torch.zeros(1, 3, 224, 224)
    if not isinstance(model_input, torch.Tensor):
        raise TypeError(
            f"model_input must be a torch.Tensor batch, got {type(model_input).__name__}."
        )
    device = model_device(model)
    if device is not None:
        model_input = model_input.to(device)
    outputs = ActivationFetcher(model, resolved.values())(model_input)
    return {target: outputs[module] for target, module in resolved.items()}
