"""Colour-wheel helpers: hue angles and many-channel images as RGB."""

from __future__ import annotations

import math

import torch

from optim.checks import check_real


def hue_to_rgb(angle: float, device: torch.device | str = "cpu", warp: bool = True) -> torch.Tensor:
    """Unit RGB vector for a hue ``angle`` in degrees, interpolated on a 6-colour wheel.

    The wheel is Lucid's red, yellow, green, cyan, blue, magenta (as unit vectors).

    With ``warp`` the interpolation is eased so that primaries and secondaries get a fairer
    share of the wheel (Lucid PR 193).

    Args:
        angle: hue angle in degrees (any real number; taken modulo 360).
        device: device of the result.
        warp: ease the interpolation between wheel colours.

    Returns:
        A float32 tensor of shape ``[3]`` with unit L2 norm.

    Example:
        >>> [round(v, 4) for v in hue_to_rgb(90.0).tolist()]
        [0.5334, 0.8459, 0.0]
    """
    angle = check_real(angle, "angle", hint="Give the hue in degrees.")
    return torch.tensor(_hue_vector(angle, warp), device=device)


def _hue_vector(angle: float, warp: bool) -> list[float]:
    """Scriptable core of :func:`hue_to_rgb`, returning the unit vector as 3 floats."""
    angle = angle % 360.0
    index = min(int(angle // 60), 5)
    fraction = (angle - index * 60) / 60
    if warp:
        if index % 2 == 0:
            fraction = math.sin(fraction * math.pi / 2)
        else:
            fraction = 1 - math.sin((1 - fraction) * math.pi / 2)
    wheel = [
        [1.0, 0.0, 0.0],
        [0.7071, 0.7071, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.7071, 0.7071],
        [0.0, 0.0, 1.0],
        [0.7071, 0.0, 0.7071],
    ]
    start, end = wheel[index], wheel[(index + 1) % 6]
    vec = [(1 - fraction) * start[i] + fraction * end[i] for i in range(3)]
    norm = math.sqrt(vec[0] ** 2 + vec[1] ** 2 + vec[2] ** 2)
    return [v / norm for v in vec]


def nchannels_to_rgb(x: torch.Tensor, warp: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """Render an image with any number of channels as RGB (channel i gets hue 360·i/C).

    Negative inputs are first split into positive and negative parts (doubling the
    channels). Grey is added where several channels are active; the result keeps each
    pixel's L2 norm over channels.

    Args:
        x: CHW or NCHW tensor.
        warp: passed to :func:`hue_to_rgb`.
        eps: guards the normalisation against division by zero.

    Returns:
        A ``[B, 3, H, W]`` tensor.

    Example:
        >>> nchannels_to_rgb(torch.rand(1, 6, 4, 4)).shape
        torch.Size([1, 3, 4, 4])
    """
    if x.dim() != 3 and x.dim() != 4:
        raise ValueError(f"nchannels_to_rgb expects a CHW or NCHW tensor, got {list(x.shape)}.")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if bool((x < 0).any()):
        x = torch.cat([torch.relu(x), torch.relu(-x)], dim=1)
    num_channels = x.shape[1]
    hues = [_hue_vector(360.0 * i / num_channels, warp) for i in range(num_channels)]
    palette = torch.tensor(hues, dtype=x.dtype, device=x.device)
    rgb = torch.einsum("bchw,cr->brhw", x, palette)
    grey = x.sum(1, keepdim=True) - x.max(1, keepdim=True).values
    rgb = rgb + grey
    rgb = rgb / (eps + torch.linalg.vector_norm(rgb, dim=1, keepdim=True))
    return rgb * torch.linalg.vector_norm(x, dim=1, keepdim=True)
