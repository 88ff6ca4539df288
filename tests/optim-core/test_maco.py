"""MACOImage: fixed magnitude, optimised phase, transparency accumulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import optim as opt
from optim.images import MACOImage


def _amplitude(image: torch.Tensor) -> np.ndarray:
    """Independent oracle: numpy's orthonormal real FFT amplitude."""
    return np.abs(np.fft.rfft2(image.detach().double().numpy(), norm="ortho"))


def _spectrum(channels: int, height: int, width: int, seed: int) -> torch.Tensor:
    """A random non-negative spectrum that is Hermitian-consistent (that of a real image)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.fft.rfft2(torch.randn(channels, height, width, generator=generator)).abs()


@pytest.mark.parametrize("size", [(16, 16), (15, 18), (12, 9)])
def test_spectrum_magnitude_stays_equal_to_the_given_one_while_optimising(size):
    spectrum = _spectrum(3, size[0], size[1], seed=0)
    image = MACOImage(size, spectrum=spectrum, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(image.parameters(), lr=0.2)
    for _ in range(10):
        optimizer.zero_grad()
        (-image()[:, 0, : size[0] // 2].mean()).backward()
        optimizer.step()
    out = image()
    amplitude = _amplitude(out)[0]
    expected = spectrum.double().numpy().copy()
    expected[:, 0, 0] = 0.0  # the mean is removed, as in MACO
    # A float32 FFT is off by at most about log2(H W) u times the L2 norm of its output
    # (u = eps / 2), and one bin's error by at most the whole error's norm. That bounds the
    # irfft2 of the image (orthonormal: its spectrum's norm is the image's), and the rfft2
    # that made `spectrum`, whose mirrored bins MACO averages (its full spectrum's norm is at
    # most sqrt(2) times the half spectrum's). Doubled (eps, not u) for the margin; a bin can
    # be tiny, so the bound is absolute.
    fft_rounding = math.log2(size[0] * size[1]) * torch.finfo(torch.float32).eps
    image_norm = np.sqrt((out.detach().double().numpy() ** 2).sum(axis=(-2, -1))).max()
    spectrum_norm = math.sqrt(2) * np.sqrt((expected**2).sum(axis=(-2, -1))).max()
    # Equal to the given spectrum up to one constant: the scale giving unit std.
    scale = (amplitude * expected).sum() / (expected**2).sum()
    bound = fft_rounding * (image_norm + scale * spectrum_norm) + 1e-12
    assert (np.abs(amplitude - scale * expected) <= bound).all()
    assert (np.abs(amplitude - image.magnitude.double().numpy()) <= bound).all()
    # Exactly zero mean and unit std before rounding (DC is 0; the magnitude is scaled so that
    # the sum of squares is the pixel count). The irfft2 error moves the mean by at most
    # fft_rounding of the (unit) std, and the std by that plus the float32 rounding of the
    # magnitude. Measured in float64 so that the test's own sums add no error (a float32 mean
    # of 768 values could be off by 768 u, more than the whole bound).
    pixels = out.detach().double()
    assert pixels.mean().abs().item() <= fft_rounding
    magnitude_rounding = 2 * torch.finfo(torch.float32).eps
    assert pixels.std(unbiased=False).item() == pytest.approx(
        1.0, abs=fft_rounding + magnitude_rounding
    )


def test_default_prior_is_one_over_f():
    image = MACOImage((32, 32), decay_power=1.0)
    fy = np.fft.fftfreq(32)[:, None]
    fx = np.fft.rfftfreq(32)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    magnitude = image.magnitude[0].double().numpy()
    products = (magnitude * f)[f > 0]  # magnitude * f is constant for a 1/f prior
    np.testing.assert_allclose(products, products.mean(), rtol=1e-5)


def test_gradients_flow_to_the_phase_only():
    image = opt.images.NaturalImage((16, 16), parameterization=MACOImage)
    image().sum().backward()
    maco = image.parameterization
    assert [name for name, _ in image.named_parameters()] == ["parameterization.phase"]
    assert maco.phase.grad is not None and maco.phase.grad.abs().sum() > 0
    assert maco.magnitude.grad is None and not maco.magnitude.requires_grad


def test_init_keeps_the_phase_of_the_init_image():
    generator = torch.Generator().manual_seed(2)
    init = torch.randn(1, 3, 16, 16, generator=generator)
    image = MACOImage(init=init)
    out_phase = np.angle(np.fft.rfft2(image().detach().numpy()))
    init_phase = np.angle(np.fft.rfft2(init.numpy()))
    magnitude = image.magnitude.numpy()[None]
    difference = np.angle(np.exp(1j * (out_phase - init_phase)))[magnitude > 1e-3]
    # Real-valued bins (DC, Nyquist) have their sign fixed; all others keep the phase.
    assert np.mean(np.abs(difference) < 1e-4) > 0.98


def test_seeded_init_is_reproducible_and_batch_items_differ():
    def make():
        return MACOImage((8, 8), batch=2, generator=torch.Generator().manual_seed(3))()

    first, second = make(), make()
    assert torch.equal(first, second)
    assert not torch.allclose(first[0], first[1])


def test_transparency_accumulates_absolute_gradients():
    image = MACOImage((8, 8), batch=2, accumulate_transparency=True)
    weights = torch.zeros(2, 3, 8, 8)
    weights[0, :, 2, 3] = 1.0
    weights[1, 1, 5, 5] = -2.0
    for _ in range(3):
        (image() * weights).sum().backward()
    expected = weights.abs().sum(dim=1, keepdim=True) * 3
    assert torch.allclose(image.transparency_accumulator, expected)
    assert torch.allclose(
        image.transparency(), expected / expected.flatten(1).amax(1).view(2, 1, 1, 1)
    )
    image.reset_transparency()
    assert image.transparency_accumulator.abs().sum() == 0


def test_spectrum_from_a_file_and_errors(tmp_path):
    spectrum = _spectrum(3, 8, 8, seed=4)
    torch.save(spectrum, tmp_path / "spectrum.pt")
    from_file = MACOImage((8, 8), spectrum=tmp_path / "spectrum.pt")
    assert torch.equal(from_file.magnitude, MACOImage((8, 8), spectrum=spectrum).magnitude)
    assert MACOImage(None, spectrum=spectrum).size == (8, 8)
    with pytest.raises(ValueError, match=r"dataset_magnitude_spectrum\(loader, size=\(16, 16\)\)"):
        MACOImage((16, 16), spectrum=spectrum)
    with pytest.raises(ValueError, match="channels"):
        MACOImage((8, 8), spectrum=spectrum, channels=4)
    with pytest.raises(ValueError, match="non-negative"):
        MACOImage((8, 8), spectrum=-spectrum)
    with pytest.raises(ValueError, match=r"\[C, H, W // 2 \+ 1\]"):
        MACOImage((8, 8), spectrum=spectrum[0])


def test_registered_for_render_specs():
    assert opt.plugins.get("parameterizations", "maco") is MACOImage
    assert opt.plugins.get("parameterizations", "maco_image") is MACOImage


def test_render_by_name_raises_the_objective():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU()).eval()
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[1, 0, 1, 1] = 1.0  # channel 1 = red at each pixel
        model[0].bias.zero_()
    result = opt.render(
        model,
        "0:1",
        size=16,
        steps=16,
        lr=0.1,
        parameterization="maco",
        transforms=None,
        show_progress=False,
        seed=0,
    )
    assert result.settings["parameterization"] == "maco"
    assert result.history[-1] > result.history[0]
    assert result.images[:, 0].mean() > result.images[:, 1:].mean()
