"""Low-resolution tensors shared across a batch (Distill's differentiable parameterizations)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from optim.checks import is_int
from optim.images.parameterization import ImageParameterization
from optim.images.simple_tensor import SimpleTensorParameterization
from optim.transforms.symmetric_padding import SymmetricPadding


def _as_offsets(
    offset: int | Sequence[int] | Sequence[Sequence[int]] | None, count: int
) -> list[list[int]] | None:
    if offset is None:
        return None
    if is_int(offset):
        return [[int(offset)] * 4] * count
    if not isinstance(offset, Iterable):
        raise TypeError(
            f"offset must be an int, 1 to 4 ints, or one such sequence per shared shape, got "
            f"{offset!r}."
        )
    items: list[int | Sequence[int]] = list(offset)
    per_shape = [o for o in items if isinstance(o, Sequence)]
    if items and len(per_shape) == len(items):
        if len(items) != count:
            raise ValueError(f"Need one offset per shared shape ({count}), got {len(items)}.")
        return [_pad_offset(o) for o in per_shape]
    flat = [o for o in items if not isinstance(o, Sequence)]
    if len(flat) != len(items):
        raise TypeError(
            f"offset mixes ints and sequences: {offset!r}. Give 1 to 4 ints, or one sequence "
            "per shared shape."
        )
    return [_pad_offset(flat)] * count


def _pad_offset(offset: Sequence[int]) -> list[int]:
    values = [int(o) for o in offset]
    if not 1 <= len(values) <= 4:
        raise ValueError(f"An offset needs 1 to 4 ints (B, C, H, W order), got {list(offset)}.")
    return [0] * (4 - len(values)) + values


def _resize(x: torch.Tensor, batch: int, channels: int, height: int, width: int) -> torch.Tensor:
    """Resize a (B', C', H', W') tensor to (B, C, H, W) with bi/trilinear interpolation."""
    if x.shape[1] == channels:
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    else:
        x = F.interpolate(
            x.unsqueeze(0), size=(channels, height, width), mode="trilinear", align_corners=False
        ).squeeze(0)
    if x.shape[0] != batch:
        x = F.interpolate(
            x.permute(1, 0, 2, 3).unsqueeze(0),
            size=(batch, height, width),
            mode="trilinear",
            align_corners=False,
        )
        x = x.squeeze(0).permute(1, 0, 2, 3)
    return x


class SharedImage(ImageParameterization):
    """Add low-resolution shared tensors to an inner image parameterization.

    Each shape (2 to 4 dims, left-padded with 1s to B, C, H, W) becomes a randn parameter,
    resized to the image's shape; their sum is added to the image, so low frequencies are
    shared by every image of a batch whose shapes have batch size 1.

    Args:
        shapes: shared tensor shapes, e.g. ``[(1, 3, 8, 8)]``.
        parameterization: the inner image parameterization.
        offset: per-dimension shifts of the shared tensors: an int for every dim, 1-4 ints
            (left-padded), or one such sequence per shape.
        generator: optional ``torch.Generator`` for the random init.

    Example:
        >>> from optim.images import PixelImage
        >>> SharedImage([(1, 3, 4, 4)], PixelImage((16, 16), batch=2))().shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        shapes: Sequence[Sequence[int]] | None = None,
        parameterization: ImageParameterization | None = None,
        offset: int | Sequence[int] | Sequence[Sequence[int]] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(parameterization, nn.Module):
            raise TypeError("SharedImage needs an image parameterization instance to wrap.")
        if not shapes:
            raise ValueError("SharedImage needs at least one shared shape, e.g. [(1, 3, 8, 8)].")
        tensors = []
        for shape in shapes:
            dims = [int(s) for s in shape]
            if not 2 <= len(dims) <= 4 or min(dims) < 1:
                raise ValueError(f"Shared shapes need 2 to 4 positive dims, got {tuple(shape)}.")
            dims = [1] * (4 - len(dims)) + dims
            tensors.append(torch.randn(dims, generator=generator).requires_grad_())
        # Each shared tensor is an optimised SimpleTensorParameterization, in a ModuleList (the
        # TorchScript-friendly container the spec names) rather than a ParameterList.
        self.shared_init = nn.ModuleList(SimpleTensorParameterization(t) for t in tensors)
        self.parameterization = parameterization
        self.offset = _as_offsets(offset, len(tensors))
        self.has_offset = self.offset is not None

    # A type comment: TorchScript cannot read the postponed annotations of an ignored method.
    @torch.jit.ignore
    def _apply_offset(self, tensors):
        # type: (list[torch.Tensor]) -> list[torch.Tensor]
        """Shift the shared tensors in Python (SymmetricPadding is an autograd.Function)."""
        assert self.offset is not None
        shifted = []
        for x, offset in zip(tensors, self.offset):
            size = x.shape
            padded = SymmetricPadding.apply(x, [[abs(o), abs(o)] for o in offset])
            rolled = torch.roll(padded, shifts=offset, dims=(0, 1, 2, 3))
            shifted.append(rolled[: size[0], : size[1], : size[2], : size[3]])
        return shifted

    def forward(self) -> torch.Tensor:
        image = self.parameterization()
        if image.dim() != 4:
            raise ValueError(f"SharedImage needs a 4-D inner image, got {list(image.shape)}.")
        batch, channels, height, width = (
            image.shape[0],
            image.shape[1],
            image.shape[2],
            image.shape[3],
        )
        shared: list[torch.Tensor] = []
        for tensor in self.shared_init:
            shared.append(_resize(tensor(), batch, channels, height, width))
        if self.has_offset:
            shared = self._apply_offset(shared)
        return image + torch.stack(shared).sum(0)
