"""image_cov / dataset_cov_matrix against numpy references and known covariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optim.dataset import array_image_loader, dataset_cov_matrix, image_cov

KNOWN_COV = torch.tensor(
    [[0.040, 0.030, 0.010], [0.030, 0.050, 0.020], [0.010, 0.020, 0.030]], dtype=torch.float64
)


def _images_with_cov(cov: torch.Tensor, n: int, size: int, seed: int) -> torch.Tensor:
    """Images whose pixels are i.i.d. colours with covariance ``cov`` around per-image means."""
    generator = torch.Generator().manual_seed(seed)
    chol = torch.linalg.cholesky(cov)
    z = torch.randn(n, size * size, 3, generator=generator, dtype=torch.float64)
    means = torch.rand(n, 1, 3, generator=generator, dtype=torch.float64)
    pixels = z @ chol.T + means
    return pixels.reshape(n, size, size, 3).permute(0, 3, 1, 2).contiguous()


def _numpy_image_cov(x: np.ndarray) -> np.ndarray:
    return sum(np.cov(img.reshape(img.shape[0], -1)) for img in x)


def test_image_cov_matches_numpy_per_image_covariance_sum():
    x = torch.rand(3, 3, 5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_allclose(image_cov(x).numpy(), _numpy_image_cov(x.numpy()), rtol=1e-12)


def test_image_cov_of_constant_channels_is_zero():
    # captum's reshape without a permute reports ~0.007 here (SPEC 2.9); colours that never
    # vary have no covariance.
    x = torch.ones(1, 3, 4, 4) * torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)
    assert torch.count_nonzero(image_cov(x).abs() > 1e-12) == 0


def test_image_cov_accepts_chw_and_rejects_bad_shapes():
    x = torch.rand(3, 6, 6)
    assert torch.equal(image_cov(x), image_cov(x[None]))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        image_cov(torch.rand(6, 6))
    with pytest.raises(ValueError, match="at least 2 pixels"):
        image_cov(torch.rand(1, 3, 1, 1))


def test_dataset_cov_matrix_recovers_a_known_colour_covariance():
    images = _images_with_cov(KNOWN_COV, n=8, size=64, seed=1)  # 32768 pixel samples
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=3)
    estimate = dataset_cov_matrix(loader)
    # Stated tolerance: every entry within 0.002 (5% of the largest entry); the sampling
    # standard error of an entry is about 0.0003 here.
    assert torch.allclose(estimate, KNOWN_COV, atol=0.002, rtol=0)


def test_dataset_cov_matrix_is_the_mean_of_per_image_covariances():
    images = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    loader = [images[:2], (images[2:], torch.zeros(3))]  # bare tensors and (images, labels)
    expected = _numpy_image_cov(images.double().numpy()) / 5
    np.testing.assert_allclose(dataset_cov_matrix(loader).numpy(), expected, rtol=1e-10)


def test_dataset_cov_matrix_rejects_empty_and_integer_input():
    with pytest.raises(ValueError, match="no images"):
        dataset_cov_matrix([])
    with pytest.raises(TypeError, match="floating-point"):
        dataset_cov_matrix([torch.zeros(1, 3, 4, 4, dtype=torch.uint8)])


def test_real_photo_covariance_is_positive_and_luminance_dominated(real_photos):
    cov = dataset_cov_matrix(array_image_loader(real_photos, size=64, batch_size=6))
    eigenvalues = torch.linalg.eigvalsh(cov)
    assert bool((cov > 0).all())  # RGB channels of photos are positively correlated
    assert eigenvalues[-1] > 5 * eigenvalues[-2]  # one dominant (brightness) component
