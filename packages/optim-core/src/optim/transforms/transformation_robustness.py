"""Lucid-style transformation robustness stack."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from optim.transforms.center_crop import crop_to_size
from optim.transforms.random_rotation import RandomRotation
from optim.transforms.random_scale import RandomScale
from optim.transforms.random_spatial_jitter import RandomSpatialJitter

DEFAULT_TRANSLATE: tuple[int, ...] = (4,) * 10
DEFAULT_SCALE: tuple[float, ...] = tuple(
    [0.995**n for n in range(-5, 80)] + [0.998**n for n in 2 * list(range(20, 40))]
)
DEFAULT_DEGREES: tuple[int, ...] = tuple(
    list(range(-20, 20)) + list(range(-10, 10)) + list(range(-5, 5)) + 5 * [0]
)


class _DefaultPadding:
    """Marker for "build the default ``nn.ConstantPad2d(2, value=0.5)``"."""

    def __repr__(self) -> str:
        return "ConstantPad2d(2, value=0.5)"


DEFAULT_PADDING = _DefaultPadding()


class TransformationRobustness(nn.Module):
    """Pad, jitter, scale, rotate and jitter again, as in Lucid's feature visualisations.

    Order: ``padding_transform`` -> RandomSpatialJitter(t) for each t in ``translate`` ->
    RandomScale(``scale``) -> RandomRotation(``degrees``) -> RandomSpatialJitter(
    ``final_translate``) -> optional centre crop/pad back to the input size. Pass ``None`` to
    skip a stage.

    Args:
        padding_transform: module applied first (default: a fresh ``ConstantPad2d(2, 0.5)``).
        translate: jitter sizes applied one after another, or a single int.
        scale: RandomScale factors (125 Lucid values by default).
        degrees: RandomRotation angles (75 values by default).
        final_translate: size of the last jitter.
        crop_or_pad_output: centre crop/pad the output back to the input height and width.
        generator: optional CPU ``torch.Generator`` shared by every random stage.

    Example:
        >>> robustness = TransformationRobustness(generator=torch.Generator().manual_seed(0))
        >>> robustness(torch.rand(1, 3, 64, 64)).dim()
        4
    """

    __constants__ = ["crop_or_pad_output"]
    graph_safe = False  # see FusedTransformationRobustness for the CUDA-graph version

    def __init__(
        self,
        padding_transform: nn.Module | _DefaultPadding | None = DEFAULT_PADDING,
        translate: int | Sequence[int] | None = DEFAULT_TRANSLATE,
        scale: Sequence[float] | torch.Tensor | torch.distributions.Distribution | None = (
            DEFAULT_SCALE
        ),
        degrees: Sequence[float] | torch.Tensor | torch.distributions.Distribution | None = (
            DEFAULT_DEGREES
        ),
        final_translate: int | None = 2,
        crop_or_pad_output: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(padding_transform, _DefaultPadding):
            padding_transform = nn.ConstantPad2d(2, value=0.5)
        if padding_transform is not None and not callable(padding_transform):
            raise TypeError(
                f"padding_transform must be an nn.Module (or None), got {padding_transform!r}."
            )
        self.padding_transform = padding_transform
        if translate is None:
            self.jitter_transforms: nn.Module | None = None
        elif isinstance(translate, int):
            self.jitter_transforms = RandomSpatialJitter(translate, generator=generator)
        else:
            self.jitter_transforms = nn.Sequential(
                *[RandomSpatialJitter(t, generator=generator) for t in translate]
            )
        self.random_scale = None if scale is None else RandomScale(scale, generator=generator)
        self.random_rotation = (
            None if degrees is None else RandomRotation(degrees, generator=generator)
        )
        self.final_jitter = (
            None
            if final_translate is None
            else RandomSpatialJitter(final_translate, generator=generator)
        )
        self.crop_or_pad_output = crop_or_pad_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the stack to a 4-D NCHW tensor."""
        if x.dim() != 4:
            raise ValueError(
                f"TransformationRobustness expects a 4-D NCHW tensor, got shape {list(x.shape)}."
            )
        size = [x.shape[2], x.shape[3]]
        if self.padding_transform is not None:
            x = self.padding_transform(x)
        if self.jitter_transforms is not None:
            x = self.jitter_transforms(x)
        if self.random_scale is not None:
            x = self.random_scale(x)
        if self.random_rotation is not None:
            x = self.random_rotation(x)
        if self.final_jitter is not None:
            x = self.final_jitter(x)
        if self.crop_or_pad_output:
            x = crop_to_size(x, size)
        return x
