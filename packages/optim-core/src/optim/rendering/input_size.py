"""Models that take one input size only (vision transformers): what it is, and the early error.

A model says so with a ``required_input_size = (height, width)`` attribute (optim-models sets
it on the ViT and MaxViT classifiers and on timm models with a fixed patch grid). Models built
elsewhere are recognised too: timm's (``patch_embed.strict_img_size``) and torchvision's
``VisionTransformer`` (``image_size``).

Example:
    >>> import torch.nn as nn
    >>> from optim.rendering.input_size import render_size, required_input_size
    >>> vit = nn.Identity()
    >>> vit.required_input_size = (224, 224)
    >>> required_input_size(vit), render_size(vit, None, default=(160, 160))
    ((224, 224), (224, 224))
    >>> render_size(nn.Identity(), None, default=(160, 160))
    (160, 160)
"""

from __future__ import annotations

from torch import nn

from optim.checks import check_size

__all__ = ["check_input_size", "is_torchvision_vit", "render_size", "required_input_size"]

Size = tuple[int, int]


def _pair(value: object) -> Size | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, tuple | list) and len(value) == 2:
        first, second = value
        if isinstance(first, int) and isinstance(second, int):
            return (int(first), int(second))
    return None


def required_input_size(model: nn.Module) -> Size | None:
    """The ``(height, width)`` that ``model`` needs, or ``None`` if it takes any size.

    Example:
        >>> required_input_size(nn.Conv2d(3, 8, 3)) is None
        True
    """
    declared = getattr(model, "required_input_size", None)
    if declared is not None:
        size = _pair(declared)
        if size is None:
            raise ValueError(
                f"{type(model).__name__}.required_input_size must be (height, width), got "
                f"{declared!r}."
            )
        return size
    embed = getattr(model, "patch_embed", None)  # timm
    if embed is not None and getattr(embed, "strict_img_size", False):
        return _pair(getattr(embed, "img_size", None))
    if is_torchvision_vit(model):
        return _pair(getattr(model, "image_size", None))
    return None


def is_torchvision_vit(model: nn.Module) -> bool:
    """Whether ``model`` looks like torchvision's ``VisionTransformer`` (one class token,
    ``image_size``), which declares neither its input size nor its prefix tokens."""
    return hasattr(model, "patch_size") and hasattr(model, "class_token")


def check_input_size(model: nn.Module, size: Size) -> Size | None:
    """Fail unless ``model`` runs at ``size`` (when it takes one size only); returns the size
    it needs (``None``: any).

    Raises:
        ValueError: naming the size the model expects and how to ask for it.

    Example:
        >>> vit = nn.Identity(); vit.required_input_size = (224, 224)
        >>> check_input_size(vit, (160, 160))
        Traceback (most recent call last):
        ...
        ValueError: Identity takes 224x224 px input only, got 160x160: use size 224 (--size 224), or leave the size out to get the model's own.
    """  # noqa: E501
    required = required_input_size(model)
    if required is None or tuple(size) == required:
        return required
    height, width = required
    asked = f"{height}" if height == width else f"({height}, {width})"
    raise ValueError(
        f"{type(model).__name__} takes {height}x{width} px input only, got "
        f"{size[0]}x{size[1]}: use size {asked} (--size {height}), or leave the size out to get "
        "the model's own."
    )


def render_size(model: nn.Module, size: int | Size | None, *, default: Size) -> Size:
    """The size to render at: ``size`` if given (checked against the model), else the model's
    own if it needs one, else ``default``.

    Example:
        >>> render_size(nn.Identity(), 96, default=(160, 160))
        (96, 96)
    """
    if size is None:
        return required_input_size(model) or default
    checked = check_size(size, "size", minimum=1)
    check_input_size(model, checked)
    return checked
