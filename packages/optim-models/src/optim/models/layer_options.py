"""The zoo's activation/pooling options and image-input checks."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from optim.model_utils import RedirectedReluLayer, SkipLayer

__all__ = ["activation_and_pool", "check_image_input"]


_RANGE_TOLERANCE = 1e-3


def activation_and_pool(
    replace_relus_with_redirectedrelu: bool, use_linear_modules_only: bool
) -> tuple[type[nn.Module], type[nn.Module]]:
    """The activation and max-pool classes a zoo model is built with.

    ``use_linear_modules_only`` (for circuits) turns ReLUs into :class:`SkipLayer` and max
    pools into average pools; otherwise ReLUs are ``nn.ReLU`` or, with
    ``replace_relus_with_redirectedrelu``, :class:`RedirectedReluLayer`.

    Example:
        >>> [c.__name__ for c in activation_and_pool(False, True)]
        ['SkipLayer', 'AvgPool2d']
    """
    if use_linear_modules_only:
        return SkipLayer, nn.AvgPool2d
    if replace_relus_with_redirectedrelu:
        return RedirectedReluLayer, nn.MaxPool2d
    return nn.ReLU, nn.MaxPool2d


def check_image_input(x: torch.Tensor, model_name: str, warn_range: bool = True) -> torch.Tensor:
    """Validate an image input (CHW is unsqueezed to 1CHW) and warn when it leaves [0, 1].

    Example:
        >>> check_image_input(torch.zeros(3, 4, 4), "Model").shape
        torch.Size([1, 3, 4, 4])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model_name} expects an image tensor, got {type(x).__name__}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(
            f"{model_name} expects RGB images shaped (N, 3, H, W) or (3, H, W), got "
            f"{tuple(x.shape)}"
        )
    if not warn_range or x.device.type == "meta" or torch.jit.is_scripting():
        return x
    low, high = (v.item() for v in torch.aminmax(x.detach()))
    # A little float overshoot (e.g. after antialiased resizing) is not worth a warning.
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        warnings.warn(
            f"{model_name} with transform_input=True expects RGB values in [0, 1]; got values "
            f"in [{low:.6g}, {high:.6g}].",
            UserWarning,
            stacklevel=3,
        )
    return x
