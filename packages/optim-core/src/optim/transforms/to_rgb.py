"""Colour recorrelation: decorrelated colour space <-> RGB."""

from __future__ import annotations

import torch
from torch import nn

_KLT = [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]]


class ToRGB(nn.Module):
    """Map a decorrelated 3-channel colour space to RGB (or back with ``inverse=True``).

    Channels beyond the third are treated as alpha and passed through unchanged.

    Args:
        transform: ``"klt"`` (Lucid's ImageNet colour KLT), ``"i1i2i3"`` (Ohta 1980) or a
            custom 3x3 tensor.

    Example:
        >>> to_rgb = ToRGB("klt")
        >>> decorrelated = torch.randn(1, 3, 8, 8)
        >>> rgb = to_rgb(decorrelated)
        >>> torch.allclose(to_rgb(rgb, inverse=True), decorrelated, atol=1e-5)
        True
    """

    def __init__(self, transform: str | torch.Tensor = "klt") -> None:
        super().__init__()
        self.transform_name = transform if isinstance(transform, str) else "custom"
        if isinstance(transform, str):
            if transform == "klt":
                matrix = self.klt_transform()
            elif transform == "i1i2i3":
                matrix = self.i1i2i3_transform()
            else:
                raise ValueError(
                    f"Unknown ToRGB transform {transform!r}; use 'klt', 'i1i2i3' or a 3x3 tensor."
                )
        elif isinstance(transform, torch.Tensor):
            if tuple(transform.shape) != (3, 3):
                raise ValueError(
                    f"A custom ToRGB transform must be a 3x3 tensor, got shape "
                    f"{tuple(transform.shape)}."
                )
            matrix = transform.detach().clone()
        else:
            raise ValueError(
                f"ToRGB transform must be 'klt', 'i1i2i3' or a 3x3 tensor, got {transform!r}."
            )
        self.transform: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer("transform", matrix)

    @staticmethod
    def klt_transform() -> torch.Tensor:
        """Lucid's ImageNet colour KLT, scaled so that its largest column has unit L2 norm.

        Example:
            >>> ToRGB.klt_transform()[0, 0].item()  # doctest: +ELLIPSIS
            0.5628...
        """
        klt = torch.tensor(_KLT)
        max_norm = torch.linalg.vector_norm(klt, dim=0).max()
        return klt / max_norm

    @staticmethod
    def i1i2i3_transform() -> torch.Tensor:
        """Ohta's I1I2I3 colour space (1980).

        Example:
            >>> ToRGB.i1i2i3_transform()[1].tolist()
            [0.5, 0.0, -0.5]
        """
        return torch.tensor([[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0.0, -1 / 2], [-1 / 4, 1 / 2, -1 / 4]])

    def forward(self, x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        """Recorrelate ``x`` (CHW or NCHW, >= 3 channels), or decorrelate with ``inverse``."""
        if x.dim() != 3 and x.dim() != 4:
            raise ValueError(f"ToRGB expects a CHW or NCHW tensor, got shape {list(x.shape)}.")
        channel_dim = x.dim() - 3
        if x.shape[channel_dim] < 3:
            raise ValueError(
                f"ToRGB maps 3 colour channels (plus optional alpha), got "
                f"{x.shape[channel_dim]} channels; use a custom decorrelation module for "
                "other colour spaces."
            )
        matrix = self.transform
        if inverse:
            # Inverting in float64 works for every dtype, including float16/bfloat16.
            matrix = torch.linalg.inv(matrix.to(torch.float64))
        matrix = matrix.to(device=x.device, dtype=x.dtype)
        colour = x.narrow(channel_dim, 0, 3)
        flat = colour.flatten(start_dim=channel_dim + 1)
        mixed = torch.matmul(matrix, flat).reshape(colour.shape)
        if x.shape[channel_dim] == 3:  # no alpha: concatenating would only copy
            return mixed
        alpha = x.narrow(channel_dim, 3, x.shape[channel_dim] - 3)
        return torch.cat([mixed, alpha], dim=channel_dim)

    def extra_repr(self) -> str:
        return f"transform={self.transform_name!r}"
