"""FFTImage against a numpy FFT reference: frequencies, scaling and the inverse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optim.images import FFTImage
from optim.images.fft_image import rfft2d_freqs


def _numpy_freqs(height: int, width: int) -> np.ndarray:
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx**2 + fy**2)


@pytest.mark.parametrize(("height", "width"), [(8, 8), (6, 9), (7, 5)])
def test_frequencies_match_numpy(height, width):
    np.testing.assert_allclose(rfft2d_freqs(height, width).numpy(), _numpy_freqs(height, width))


@pytest.mark.parametrize(("height", "width"), [(8, 8), (6, 9), (7, 5)])
def test_forward_is_scaled_inverse_rfft(height, width):
    image = FFTImage(
        (height, width), channels=3, batch=2, generator=torch.Generator().manual_seed(1)
    )
    coeffs = image.fourier_coeffs.detach().double().numpy()
    assert coeffs.shape == (2, 3, height, width // 2 + 1, 2)
    scale = np.sqrt(height * width) / np.maximum(
        _numpy_freqs(height, width), 1 / max(height, width)
    )
    np.testing.assert_allclose(image.spectrum_scale[0, :, :, 0].numpy(), scale, rtol=1e-6)
    spectrum = (coeffs[..., 0] + 1j * coeffs[..., 1]) * scale
    expected = np.fft.irfft2(spectrum, s=(height, width))
    # float32: the scaled coefficients are off by 2 u (the scale's rounding and the product;
    # u = eps / 2) and irfft2 by about log2(H W) u of its output's L2 norm; a pixel's error is
    # at most the whole error's norm. Doubled (eps, not u) for the margin; absolute, since a
    # pixel can be near 0.
    norms = np.sqrt((expected**2).sum(axis=(-2, -1), keepdims=True))
    bound = (math.log2(height * width) + 2) * torch.finfo(torch.float32).eps * norms
    assert (np.abs(image().detach().double().numpy() - expected) <= bound).all()


def test_random_init_is_randn_over_50():
    generator = torch.Generator().manual_seed(3)
    image = FFTImage((16, 16), generator=generator)
    expected = torch.randn((1, 3, 16, 9, 2), generator=torch.Generator().manual_seed(3)) / 50
    assert torch.equal(image.fourier_coeffs.detach(), expected)


@pytest.mark.parametrize("shape", [(3, 12, 10), (2, 3, 9, 7)])
def test_init_round_trips(shape):
    init = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    image = FFTImage(init=init)
    out = image()
    expected = init if init.dim() == 4 else init.unsqueeze(0)
    assert out.shape == expected.shape
    torch.testing.assert_close(out.detach(), expected, atol=1e-10, rtol=0)


def test_init_coefficients_are_numpy_rfft_over_scale():
    init = torch.rand(1, 3, 6, 6, dtype=torch.float64)
    image = FFTImage(init=init)
    scale = np.sqrt(36) / np.maximum(_numpy_freqs(6, 6), 1 / 6)
    expected = np.fft.rfft2(init.numpy()) / scale
    coeffs = image.fourier_coeffs.detach().numpy()
    np.testing.assert_allclose(coeffs[..., 0] + 1j * coeffs[..., 1], expected, atol=1e-12)


def test_gradient_reaches_coefficients():
    image = FFTImage((8, 8))
    image().sum().backward()
    assert image.fourier_coeffs.grad is not None
    assert image.fourier_coeffs.grad.abs().sum() > 0


def test_float64_module():
    image = FFTImage((8, 8)).to(torch.float64)
    assert image().dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cpu_fails_clearly(dtype):
    image = FFTImage((8, 8)).to(dtype)
    with pytest.raises(TypeError, match="FFTImage"):
        image()


@pytest.mark.parametrize("bad", [None, (0, 4), (4,), "big"])
def test_bad_size_is_rejected(bad):
    with pytest.raises(ValueError, match="size"):
        FFTImage(bad)


def test_bad_init_rank_is_rejected():
    with pytest.raises(ValueError, match="CHW or NCHW"):
        FFTImage(init=torch.zeros(4, 4))
