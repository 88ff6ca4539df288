"""The zoo's activation/pooling options and image-input checks."""

from __future__ import annotations

import warnings
import weakref

import torch
from torch import nn

from optim.model_utils import RedirectedReluLayer, SkipLayer, replace_layers
from optim.optimization import capturing_step

__all__ = ["activation_and_pool", "check_image_input"]


_RANGE_TOLERANCE = 1e-3
# Models whose input range was checked already (off the CPU the check runs once per model).
_RANGE_CHECKED: weakref.WeakSet[nn.Module] = weakref.WeakSet()


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


def replace_activations(
    model: nn.Module, replace_relus_with_redirectedrelu: bool, use_linear_modules_only: bool
) -> nn.Module:
    """The zoo's layer options on a model built elsewhere (torchvision, timm), in place:
    ``nn.ReLU`` -> :class:`SkipLayer` and ``nn.MaxPool2d`` -> ``nn.AvgPool2d`` (linear only),
    or ``nn.ReLU`` -> :class:`RedirectedReluLayer`.

    Example:
        >>> type(replace_activations(nn.Sequential(nn.ReLU()), True, False)[0]).__name__
        'RedirectedReluLayer'
    """
    if use_linear_modules_only:
        replace_layers(model, nn.ReLU, SkipLayer)
        replace_layers(model, nn.MaxPool2d, nn.AvgPool2d, transfer_vars=True)
    elif replace_relus_with_redirectedrelu:
        replace_layers(model, nn.ReLU, RedirectedReluLayer)
    return model


def as_batch(x: torch.Tensor) -> torch.Tensor:
    """A CHW image as a batch of one (NCHW unchanged): what the models do when scripted, where
    :func:`check_image_input`'s checks (which read values back) are left out.

    Example:
        >>> as_batch(torch.zeros(3, 4, 4)).shape
        torch.Size([1, 3, 4, 4])
    """
    return x.unsqueeze(0) if x.dim() == 3 else x


def check_image_input(
    x: torch.Tensor, model_name: str, warn_range: bool = True, *, model: nn.Module | None = None
) -> torch.Tensor:
    """Validate an image input (CHW is unsqueezed to 1CHW) and warn when it leaves [0, 1].

    The range check reads the input's minimum and maximum back to the host, so it is skipped
    while a render's step is being captured (:func:`optim.optimization.capturing_step`).
    Otherwise, on the CPU it is cheap and happens on every call. On other devices it is a
    host synchronisation: with ``model`` given it runs only on the first call for that model
    instance (a render feeds every step the same kind of image), without it on every call.

    Args:
        x: the image batch.
        model_name: named in the error and warning messages.
        warn_range: check the range at all.
        model: the model the input is for (keys the once-per-model rule off the CPU).

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
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module or None, got {type(model).__name__}")
    if not warn_range or x.device.type == "meta" or torch.jit.is_scripting() or capturing_step():
        return x
    if torch.compiler.is_compiling():  # torch.export / torch.compile: no values to read
        return x
    if _reading_back_syncs(x):
        if model is not None and model in _RANGE_CHECKED:
            return x
        if model is not None:
            _RANGE_CHECKED.add(model)
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


def _reading_back_syncs(x: torch.Tensor) -> bool:
    """Whether reading ``x``'s values on the host waits for an asynchronous device."""
    return x.device.type != "cpu"
