"""Activation layouts: token layers ``[B, tokens, F]`` and channels-last maps ``[B, H, W, C]``
seen as the ``[B, C, H, W]`` maps every objective reads.

A vision transformer's block outputs one feature vector per token: class and register tokens
first, then one token per image patch, row by row. :class:`LayoutView` gives any objective
that view of its target: ``"patches"`` turns the patch tokens into a ``[B, F, rows, cols]``
grid (a channel is then a feature averaged over the patches, a neuron one patch token),
``"class"`` gives the class token as ``[B, F, 1, 1]``. Swin-style ``[B, H, W, C]`` maps are
permuted to ``[B, C, H, W]``. Both are views, not copies.

Example:
    >>> import torch, torch.nn as nn
    >>> from optim.loss import ChannelActivation
    >>> block = nn.Identity()
    >>> tokens = torch.zeros(1, 1 + 4, 3)           # a class token, then a 2x2 patch grid
    >>> tokens[0, 1:, 2] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    >>> LayoutView(ChannelActivation(block, 2), "tokens")({block: tokens})
    tensor([[[1., 2.],
             [3., 4.]]])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from optim.hooks.targets import Target, flatten_targets
from optim.loss.base import Loss, TargetsToValues

__all__ = ["LAYOUTS", "TOKENS", "ActivationLayout", "LayoutView", "patch_grid"]

LAYOUTS = ("channels_first", "channels_last", "tokens")
TOKENS = ("patches", "class")
"""What a token layer's channel means: the patch tokens' grid, or the class token."""


def patch_grid(patches: int, size: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """The ``(rows, cols)`` grid of ``patches`` tokens for an image of ``size`` (height, width)
    with square patches; ``None`` if none fits. Without ``size`` the grid must be square.

    Example:
        >>> patch_grid(196), patch_grid(8, (64, 128)), patch_grid(7)
        ((14, 14), (2, 4), None)
    """
    if patches <= 0:
        return None
    if size is None or size[0] == size[1]:
        side = math.isqrt(patches)
        return (side, side) if side * side == patches else None
    height, width = size
    for rows in range(1, patches + 1):
        if patches % rows == 0 and rows * width == (patches // rows) * height:
            return rows, patches // rows
    return None


@dataclass(frozen=True)
class ActivationLayout:
    """How a layer's output is laid out, and how to see it as ``[B, C, H, W]``.

    Attributes:
        kind: ``"channels_first"`` (``[B, C, ...]``, nothing to do), ``"channels_last"``
            (``[B, H, W, C]``) or ``"tokens"`` (``[B, tokens, features]``).
        prefix_tokens: tokens before the patch tokens (class and register tokens); ``None``:
            as many as are left over after the largest square grid (``T - isqrt(T)**2``).
        grid: the patch grid ``(rows, cols)``; ``None``: square.
        token: ``"patches"`` (the patch tokens as a grid) or ``"class"`` (the first token,
            as a ``1x1`` map).

    Example:
        >>> layout = ActivationLayout("tokens")
        >>> layout.channels_first(torch.zeros(2, 197, 768)).shape
        torch.Size([2, 768, 14, 14])
        >>> layout.channels_first_shape((2, 197, 768))
        (2, 768, 14, 14)
    """

    kind: str = "channels_first"
    prefix_tokens: int | None = None
    grid: tuple[int, int] | None = None
    token: str = "patches"

    def __post_init__(self) -> None:
        if self.kind not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.kind!r}.")
        if self.token not in TOKENS:
            raise ValueError(f"token must be one of {', '.join(TOKENS)}, got {self.token!r}.")
        if self.token == "class" and self.kind != "tokens":
            raise ValueError(
                f"token='class' needs a token layer [B, tokens, features]; this layout is "
                f"{self.kind}. Use token='patches'."
            )
        if self.prefix_tokens is not None and self.prefix_tokens < 0:
            raise ValueError(f"prefix_tokens must be >= 0, got {self.prefix_tokens}.")
        if self.token == "class" and self.prefix_tokens == 0:
            raise ValueError("token='class' needs a class token, but prefix_tokens is 0.")

    @property
    def is_identity(self) -> bool:
        """Whether the output is ``[B, C, ...]`` already."""
        return self.kind == "channels_first"

    def _grid(self, tokens: int) -> tuple[int, int, int]:
        """``(prefix, rows, cols)`` of a sequence of ``tokens`` tokens."""
        prefix = self.prefix_tokens
        if prefix is None:
            prefix = tokens - math.isqrt(tokens) ** 2
        grid = self.grid or patch_grid(tokens - prefix)
        if grid is None or prefix + grid[0] * grid[1] != tokens:
            shown = f"a {grid[0]}x{grid[1]}" if grid else "a square"
            raise ValueError(
                f"A token layer with {tokens} tokens does not hold {prefix} prefix tokens and "
                f"{shown} patch grid; give ActivationLayout(prefix_tokens=..., grid=...)."
            )
        return prefix, grid[0], grid[1]

    def channels_first(self, activation: torch.Tensor) -> torch.Tensor:
        """``activation`` seen as ``[B, C, H, W]`` (a view)."""
        if self.kind == "channels_first":
            return activation
        if self.kind == "channels_last":
            _expect_dims(activation, 4, "a channels-last [B, H, W, C]")
            return activation.permute(0, 3, 1, 2)
        _expect_dims(activation, 3, "a token [B, tokens, features]")
        if self.token == "class":  # the first token; no patch grid needed
            tokens = activation.shape[1]
            prefix = self.prefix_tokens
            if prefix is None:
                prefix = tokens - math.isqrt(tokens) ** 2
            if prefix == 0:
                raise ValueError(
                    f"The token layer's {activation.shape[1]} tokens are all patches: there "
                    "is no class token. Use token='patches'."
                )
            return activation[:, 0, :, None, None]
        prefix, rows, cols = self._grid(activation.shape[1])
        return activation[:, prefix:, :].unflatten(1, (rows, cols)).permute(0, 3, 1, 2)

    def channels_first_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape :meth:`channels_first` gives an output of ``shape``."""
        return tuple(self.channels_first(torch.empty(shape, device="meta")).shape)

    def describe(self, shape: tuple[int, ...]) -> str:
        """A short description of an output of ``shape`` in this layout (``optim layers``).

        Example:
            >>> ActivationLayout("tokens", prefix_tokens=1).describe((1, 197, 768))
            'tokens: 1 prefix + 14x14 patches, 768 features'
        """
        if self.kind == "channels_last":
            return f"channels-last: {shape[1]}x{shape[2]}, {shape[3]} channels"
        if self.kind == "tokens":
            prefix, rows, cols = self._grid(shape[1])
            return f"tokens: {prefix} prefix + {rows}x{cols} patches, {shape[2]} features"
        return ""


def _expect_dims(activation: torch.Tensor, dims: int, what: str) -> None:
    if activation.dim() != dims:
        raise ValueError(
            f"The layout expects {what} output, got shape {tuple(activation.shape)}; "
            "check the target layer (`optim layers MODEL` shows each layer's layout)."
        )


class LayoutView(Loss):
    """``loss`` evaluated on its targets' outputs seen as ``[B, C, H, W]``.

    Args:
        loss: any objective (built on the layer as if it were channels-first).
        layout: an :class:`ActivationLayout`, or its ``kind`` (``"tokens"``,
            ``"channels_last"``) with the other fields as keywords.
        token: for token layers, ``"patches"`` (default) or ``"class"``.
        prefix_tokens: class and register tokens before the patches (``None``: inferred).
        grid: the patch grid ``(rows, cols)`` (``None``: square).

    Example:
        >>> import torch, torch.nn as nn
        >>> from optim.loss import ChannelActivation
        >>> block = nn.Identity()
        >>> loss = LayoutView(ChannelActivation(block, 0), "tokens", token="class")
        >>> loss({block: torch.arange(10.0).view(1, 5, 2)})
        tensor([[[0.]]])
    """

    def __init__(
        self,
        loss: Loss,
        layout: ActivationLayout | str,
        *,
        token: str = "patches",
        prefix_tokens: int | None = None,
        grid: tuple[int, int] | None = None,
    ) -> None:
        if not isinstance(loss, Loss):
            raise TypeError(f"LayoutView wraps an optim.loss.Loss, got {type(loss).__name__}.")
        if isinstance(layout, str):
            layout = ActivationLayout(layout, prefix_tokens, grid, token)
        elif not isinstance(layout, ActivationLayout):
            raise TypeError(
                f"layout must be an ActivationLayout or one of {', '.join(LAYOUTS)}, got "
                f"{type(layout).__name__}."
            )
        super().__init__()
        self.loss = loss
        self.layout = layout
        self.__name__ = loss.__name__

    @property
    def target(self) -> Target | list[Target]:
        return self.loss.target

    def __call__(self, targets_to_values: TargetsToValues) -> torch.Tensor:
        values = dict(targets_to_values)
        for target in flatten_targets(self.loss.target):
            value = values.get(target)
            if value is not None:
                values[target] = self.layout.channels_first(value)
        return self.loss(values)
