"""dataset_magnitude_spectrum: 1/f^alpha recovery, numpy oracle, colour space, file round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optim as opt
from optim.dataset import (
    dataset_magnitude_spectrum,
    load_magnitude_spectrum,
    save_magnitude_spectrum,
    spectrum_frequencies,
    spectrum_power_law_exponent,
)


def _power_law_noise(alpha: float, n: int, size: int, seed: int) -> torch.Tensor:
    """RGB images whose Fourier amplitude falls as 1/f^alpha (shaped white noise, numpy)."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    f = np.sqrt(fy**2 + fx**2)
    f[0, 0] = 1.0
    noise = rng.standard_normal((n, 3, size, size))
    images = np.fft.ifft2(np.fft.fft2(noise) / f**alpha).real
    return torch.from_numpy(images)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5, 2.0])
def test_spectrum_of_power_law_noise_recovers_alpha(alpha):
    images = _power_law_noise(alpha, n=8, size=64, seed=int(alpha * 10))
    spectrum = dataset_magnitude_spectrum([images[:4], images[4:]], size=64)
    assert spectrum.shape == (3, 64, 33)
    assert spectrum_power_law_exponent(spectrum) == pytest.approx(alpha, abs=0.1)


def test_power_law_fit_is_exact_on_an_analytic_spectrum():
    f = spectrum_frequencies((32, 48)).clamp(min=1 / 48)
    assert spectrum_power_law_exponent(torch.stack([3 * f**-1.25] * 3)) == pytest.approx(1.25)
    with pytest.raises(ValueError, match="width"):
        spectrum_power_law_exponent(f, width=10)


def test_spectrum_frequencies_match_numpy():
    expected = np.sqrt(np.fft.fftfreq(6)[:, None] ** 2 + np.fft.rfftfreq(10)[None, :] ** 2)
    np.testing.assert_allclose(spectrum_frequencies((6, 10)).numpy(), expected, rtol=1e-6)


def test_spectrum_is_mean_amplitude_in_the_decorrelated_space():
    generator = torch.Generator().manual_seed(0)
    decorrelated = torch.randn(4, 3, 16, 16, generator=generator, dtype=torch.float64)
    matrix = opt.transforms.ToRGB.klt_transform().double()
    rgb = torch.einsum("ij,njhw->nihw", matrix, decorrelated)
    expected = np.abs(np.fft.rfft2(decorrelated.numpy(), norm="ortho")).mean(axis=0)
    spectrum = dataset_magnitude_spectrum([rgb], size=16)  # default color_transform="klt"
    np.testing.assert_allclose(spectrum.numpy(), expected, rtol=1e-4, atol=1e-6)
    rgb_spectrum = dataset_magnitude_spectrum([rgb], size=16, color_transform=None)
    expected_rgb = np.abs(np.fft.rfft2(rgb.numpy(), norm="ortho")).mean(axis=0)
    np.testing.assert_allclose(rgb_spectrum.numpy(), expected_rgb, rtol=1e-4, atol=1e-6)


def test_spectrum_resizes_images_of_another_size():
    spectrum = dataset_magnitude_spectrum([torch.rand(2, 3, 40, 50)], size=(16, 24))
    assert spectrum.shape == (3, 16, 13)


def test_spectrum_rejects_bad_colour_transforms_and_channel_counts():
    with pytest.raises(ValueError, match="color_transform"):
        dataset_magnitude_spectrum([torch.rand(1, 3, 8, 8)], 8, color_transform=torch.eye(2))
    with pytest.raises(ValueError, match="3-channel"):
        dataset_magnitude_spectrum([torch.rand(1, 4, 8, 8)], 8)


def test_save_and_load_round_trip(tmp_path):
    spectrum = dataset_magnitude_spectrum([torch.rand(2, 3, 8, 8)], size=8)
    path = tmp_path / "spectrum.pt"
    save_magnitude_spectrum(spectrum, path)
    assert torch.equal(load_magnitude_spectrum(path), spectrum)
    torch.save({"not": "a tensor"}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="no spectrum"):
        load_magnitude_spectrum(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="non-negative"):
        save_magnitude_spectrum(-spectrum, path)


def test_real_photo_spectrum_falls_like_natural_images(real_photos):
    from optim.dataset import array_image_loader

    spectrum = dataset_magnitude_spectrum(array_image_loader(real_photos, 64, 6), size=64)
    # Natural photos: amplitude ~ 1/f^alpha with alpha around 1 to 1.5.
    assert 0.8 < spectrum_power_law_exponent(spectrum) < 1.8
