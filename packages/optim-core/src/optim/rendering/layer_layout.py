"""Which :class:`~optim.loss.ActivationLayout` a layer's output has, from its shape at a
known input size (and the model's own count of class/register tokens when it has one).

- ``[B, T, F]``: tokens. The prefix (class + register tokens) is timm's
  ``model.num_prefix_tokens``, 1 for a torchvision ``VisionTransformer``, or (when that
  leaves no grid, or the model does not say) the fewest leading tokens that leave a patch grid
  with the image's aspect ratio.
- ``[B, H, W, C]`` (Swin): channels-last when dims 1-2, and not dims 2-3, have the image's
  aspect ratio.
- anything else: channels-first.

Example:
    >>> import torch.nn as nn
    >>> layer_layout(nn.Identity(), "blocks.11", (1, 197, 768), (224, 224))
    ActivationLayout(kind='tokens', prefix_tokens=1, grid=(14, 14), token='patches')
    >>> layer_layout(nn.Identity(), "features.1", (1, 56, 56, 96), (224, 224)).kind
    'channels_last'
"""

from __future__ import annotations

import torch
from torch import nn

from optim.loss.layout import ActivationLayout, patch_grid
from optim.rendering.input_size import is_torchvision_vit

__all__ = ["MAX_PREFIX_TOKENS", "as_channels_first", "layer_layout"]

MAX_PREFIX_TOKENS = 16
"""The most class + register tokens looked for when the model does not say how many it has."""

Shape = tuple[int, ...]


def _declared_prefix(model: nn.Module) -> int | None:
    count = getattr(model, "num_prefix_tokens", None)  # timm
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    if is_torchvision_vit(model):  # one class token
        return 1
    return None


def _token_layout(
    model: nn.Module, layer: str, tokens: int, size: tuple[int, int], token: str
) -> ActivationLayout:
    declared = _declared_prefix(model)
    # The model's own count first; layers before the class token is added (a ViT's patch
    # embedding) have fewer prefix tokens, so the inferred counts follow.
    inferred = range(min(tokens, MAX_PREFIX_TOKENS + 1))
    candidates = ([declared] if declared is not None else []) + list(inferred)
    for prefix in candidates:
        grid = patch_grid(tokens - prefix, size)
        if grid is not None:
            return ActivationLayout("tokens", prefix, grid, token)
    raise ValueError(
        f"Layer {layer!r} outputs {tokens} tokens, which are not class/register tokens followed "
        f"by a patch grid of a {size[0]}x{size[1]} px image; render it from Python with "
        "optim.loss.LayoutView(objective, 'tokens', prefix_tokens=..., grid=(rows, cols))."
    )


def _is_channels_last(shape: Shape, size: tuple[int, int]) -> bool:
    height, width = size
    _, a, b, c = shape
    channels_first = b * width == c * height
    channels_last = a * width == b * height
    return channels_last and not channels_first


def layer_layout(
    model: nn.Module, layer: str, shape: Shape, size: tuple[int, int], token: str = "patches"
) -> ActivationLayout:
    """The layout of ``layer``'s output ``shape`` at a ``size`` input.

    Raises:
        ValueError: ``token="class"`` on a layer that is not a token layer with a class token,
            or a token layer whose tokens do not form a patch grid.
    """
    if len(shape) == 3:
        layout = _token_layout(model, layer, shape[1], size, token)
        if token == "class" and layout.prefix_tokens == 0:
            raise ValueError(
                f"Layer {layer!r} has no class token ({shape[1]} tokens, all patches); target "
                "its patch tokens (token 'patches')."
            )
        return layout
    kind = "channels_last" if len(shape) == 4 and _is_channels_last(shape, size) else None
    if token == "class":
        raise ValueError(
            f"Layer {layer!r} outputs shape {list(shape)}, not tokens [B, tokens, features]: "
            "only a token layer has a class token; drop the class-token option."
        )
    return ActivationLayout(kind or "channels_first")


def as_channels_first(
    model: nn.Module, layer: str, output: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """``layer``'s ``output`` for a ``size`` input seen as ``[B, C, H, W]``: patch tokens as
    their grid, a channels-last map permuted (a view); other ranks are returned unchanged.

    Raises:
        ValueError: a token output whose tokens do not form a patch grid.

    Example:
        >>> import torch
        >>> as_channels_first(nn.Identity(), "blocks.0", torch.zeros(2, 1 + 16, 8), (32, 32)).shape
        torch.Size([2, 8, 4, 4])
    """
    if output.dim() not in (3, 4):
        return output
    return layer_layout(model, layer, tuple(output.shape), size).channels_first(output)
