"""CPPN parameterization: a small network from pixel coordinates to colour (Lucid's CPPN)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from optim.checks import check_bool, check_int, check_size
from optim.images._init_checks import as_size, check_counts
from optim.images.parameterization import ImageParameterization

__all__ = ["CPPNImage"]

_RANGE = math.sqrt(3.0)  # coordinates uniform on [-sqrt(3), sqrt(3)] have unit variance


def _composite(x: torch.Tensor) -> torch.Tensor:
    """Lucid's composite activation: ``atan`` and its square, scaled to unit variance."""
    x = torch.atan(x)
    return torch.cat([x / 0.67, (x * x) / 0.6], dim=1)


class CPPNImage(ImageParameterization):
    """A compositional pattern-producing network: the image is a function of the pixel
    coordinates, so it can be redrawn at any resolution (:meth:`at_size`).

    As in Lucid: ``layers`` 1x1 layers of ``hidden`` units on the ``(x, y)`` coordinates, each
    followed by the composite activation (``atan(x)/0.67`` and ``atan(x)²/0.6``, doubling the
    width), Glorot-uniform weights, zero biases, and a last layer initialised to zero (a flat
    grey image once squashed). Each image of the batch has its own network. The output is the
    pre-squash image: :class:`NaturalImage` recorrelates and squashes it as it does every
    parameterization (Lucid applies a sigmoid directly).

    Args:
        size: ``(height, width)`` it draws by default.
        channels: output channels.
        batch: images (each its own network).
        init: not supported (a CPPN has no pixels to start from); must be ``None``.
        hidden: units per layer (Lucid: 24).
        layers: hidden layers (Lucid: 8).
        normalize: instance-normalise each layer's pre-activations over the pixels.
        generator: optional ``torch.Generator`` for the weights.

    Example:
        >>> cppn = CPPNImage((16, 16), generator=torch.Generator().manual_seed(0))
        >>> cppn().shape, cppn.at_size((40, 40)).shape
        (torch.Size([1, 3, 16, 16]), torch.Size([1, 3, 40, 40]))
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        channels: int = 3,
        batch: int = 1,
        init: torch.Tensor | None = None,
        hidden: int = 24,
        layers: int = 8,
        normalize: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if init is not None:
            raise ValueError(
                "CPPNImage draws from coordinates and has no pixels to start from: pass "
                "init=None (use PixelImage or FFTImage to start from an image)."
            )
        self.size = as_size(size, "CPPNImage")
        check_counts(channels, batch, "CPPNImage")
        check_int(hidden, "CPPNImage hidden", minimum=1)
        check_int(layers, "CPPNImage layers", minimum=1)
        self.normalize = check_bool(normalize, "CPPNImage normalize")
        widths = [2] + [2 * hidden] * layers
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in in widths[:-1]:
            bound = math.sqrt(6.0 / (fan_in + hidden))  # Glorot uniform (slim's default)
            weight = (torch.rand(batch, hidden, fan_in, generator=generator) * 2 - 1) * bound
            self.weights.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(torch.zeros(batch, hidden, 1)))
        self.weights.append(nn.Parameter(torch.zeros(batch, channels, widths[-1])))
        self.biases.append(nn.Parameter(torch.zeros(batch, channels, 1)))

    def at_size(self, size: int | Sequence[int]) -> torch.Tensor:
        """The image drawn at ``size`` ``(height, width)``: the same function of the
        coordinates, sampled on another grid.

        Example:
            >>> CPPNImage((8, 8)).at_size(32).shape
            torch.Size([1, 3, 32, 32])
        """
        height, width = check_size(size, "CPPNImage.at_size size")
        device = self.weights[0].device
        ys = torch.linspace(-_RANGE, _RANGE, height, device=device)
        xs = torch.linspace(-_RANGE, _RANGE, width, device=device)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        batch = self.weights[0].shape[0]
        net = torch.stack([grid_x, grid_y]).reshape(1, 2, height * width).expand(batch, -1, -1)
        for weight, bias in zip(self.weights[:-1], self.biases[:-1]):
            x = torch.baddbmm(bias, weight, net)
            if self.normalize:
                x = (x - x.mean(dim=2, keepdim=True)) / (x.std(dim=2, keepdim=True) + 1e-8)
            net = _composite(x)
        out = torch.baddbmm(self.biases[-1], self.weights[-1], net)
        return out.reshape(batch, -1, height, width)

    def forward(self) -> torch.Tensor:
        return self.at_size(self.size)
