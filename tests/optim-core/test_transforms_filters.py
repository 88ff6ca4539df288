"""GaussianSmoothing and SymmetricPadding against numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optim.transforms import GaussianSmoothing, SymmetricPadding


def _gauss(size: int, sigma: float) -> np.ndarray:
    coords = np.arange(size) - (size - 1) / 2
    return np.exp(-(coords**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


def test_2d_kernel_is_normalised_outer_product():
    blur = GaussianSmoothing(2, kernel_size=(3, 5), sigma=(1.0, 2.0))
    expected = np.outer(_gauss(3, 1.0), _gauss(5, 2.0))
    expected /= expected.sum()
    assert blur.weight.shape == (2, 1, 3, 5)
    np.testing.assert_allclose(blur.weight[1, 0].numpy(), expected, rtol=1e-6)


def test_2d_blur_matches_numpy_correlation():
    x = torch.rand(1, 2, 6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    blur = GaussianSmoothing(2, kernel_size=3, sigma=0.8).to(torch.float64)
    kernel = blur.weight[0, 0].numpy()
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros_like(x.numpy())
    for i in range(6):
        for j in range(7):
            expected[..., i, j] = (padded[..., i : i + 3, j : j + 3] * kernel).sum(axis=(-2, -1))
    np.testing.assert_allclose(blur(x).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize(("dim", "shape"), [(1, (1, 3, 9)), (3, (1, 3, 5, 5, 5))])
def test_1d_and_3d_keep_constant_interior(dim, shape):
    blur = GaussianSmoothing(3, kernel_size=3, sigma=1.0, dim=dim)
    out = blur(torch.ones(shape))
    assert out.shape == shape
    centre = out[(..., *[slice(1, -1)] * dim)]
    torch.testing.assert_close(centre, torch.ones_like(centre))


def test_gaussian_validation():
    with pytest.raises(ValueError, match="dim 1, 2 or 3"):
        GaussianSmoothing(3, 3, 1.0, dim=4)
    with pytest.raises(ValueError, match="kernel_size"):
        GaussianSmoothing(3, (3, 3, 3), 1.0)
    with pytest.raises(ValueError, match="channels"):
        GaussianSmoothing(3, 3, 1.0)(torch.rand(1, 2, 5, 5))


@pytest.mark.parametrize("padding", [[[0, 0], [1, 2]], [[2, 1], [3, 0]]])
def test_symmetric_padding_matches_numpy(padding):
    x = torch.rand(3, 4, dtype=torch.float64)
    expected = np.pad(x.numpy(), padding, mode="symmetric")
    np.testing.assert_array_equal(SymmetricPadding.apply(x, padding).numpy(), expected)


def test_symmetric_padding_4d_and_gradient_is_exact_adjoint():
    x = torch.rand(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    padding = [[0, 0], [1, 1], [2, 1], [1, 2]]
    expected = np.pad(x.detach().numpy(), padding, mode="symmetric")
    np.testing.assert_array_equal(SymmetricPadding.apply(x, padding).detach().numpy(), expected)
    assert torch.autograd.gradcheck(
        lambda t: SymmetricPadding.apply(t, padding), (x,), fast_mode=True
    )


def test_symmetric_padding_validation():
    with pytest.raises(ValueError, match="one \\[before, after\\] pair"):
        SymmetricPadding.apply(torch.rand(2, 2), [[1, 1]])
    with pytest.raises(ValueError, match="non-negative"):
        SymmetricPadding.apply(torch.rand(2, 2), [[0, 0], [-1, 0]])
