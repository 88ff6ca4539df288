"""Spectral (Fourier) image parameterization."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from optim.images._init_checks import image_geometry
from optim.images.parameterization import ImageParameterization


def rfft2d_freqs(height: int, width: int) -> torch.Tensor:
    """Frequency magnitude ``sqrt(fx² + fy²)`` of each ``rfft2`` coefficient, shape (H, W//2+1).

    Example:
        >>> rfft2d_freqs(4, 4).shape
        torch.Size([4, 3])
    """
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(width, dtype=torch.float64)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class FFTImage(ImageParameterization):
    """Parameterise the image by its real 2-D Fourier coefficients (Lucid's spectral init).

    The image is ``irfft2((coeffs · spectrum_scale), s=size)`` with ``spectrum_scale`` =
    ``sqrt(H·W) / max(freq, 1/max(H, W))``, which whitens the natural 1/f spectrum.

    Args:
        size: (height, width); ignored when ``init`` is given.
        channels: number of channels.
        batch: number of images.
        init: optional CHW or NCHW image to start from (its spectrum becomes the coefficients).
        generator: optional ``torch.Generator`` for the random init.

    Example:
        >>> FFTImage((8, 8))().shape
        torch.Size([1, 3, 8, 8])
    """

    __constants__ = ["size"]

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        channels: int = 3,
        batch: int = 1,
        init: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        init, batch, channels, height, width = image_geometry(
            size, channels, batch, init, "FFTImage"
        )
        self.size = (height, width)
        freqs = rfft2d_freqs(height, width)
        scale = (height * width) ** 0.5 / torch.clamp(freqs, min=1.0 / max(height, width))
        dtype = init.dtype if init is not None else torch.get_default_dtype()
        self.spectrum_scale: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer("spectrum_scale", scale[None, :, :, None].to(dtype))
        if init is None:
            shape = (batch, channels, *freqs.shape, 2)
            coeffs = torch.randn(shape, generator=generator) / 50
        else:
            spectrum = torch.fft.rfft2(init.to(torch.float64), s=self.size)
            coeffs = torch.view_as_real(spectrum) / scale[None, None, :, :, None]
            coeffs = coeffs.to(init.dtype)
        self.fourier_coeffs = nn.Parameter(coeffs)

    def _check_dtype(self, dtype: torch.dtype, device: torch.device) -> None:
        if dtype == torch.bfloat16:
            raise TypeError(
                "FFTImage does not support bfloat16: torch.fft has no bfloat16 kernels."
            )
        if dtype == torch.float16:
            height, width = self.size
            power_of_two = height & (height - 1) == 0 and width & (width - 1) == 0
            if device.type != "cuda" or not power_of_two:
                raise TypeError(
                    "FFTImage supports float16 only on CUDA with power-of-2 sizes "
                    f"(got {device.type} and size {self.size}); use float32/float64."
                )

    def forward(self) -> torch.Tensor:
        coeffs = self.fourier_coeffs
        self._check_dtype(coeffs.dtype, coeffs.device)
        scaled = coeffs * self.spectrum_scale.to(coeffs.dtype)
        return torch.fft.irfft2(torch.view_as_complex(scaled), s=self.size)
