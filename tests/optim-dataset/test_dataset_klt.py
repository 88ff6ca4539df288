"""cov_matrix_to_klt / dataset_klt_matrix: factorisation, normalisation, ToRGB round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optim as opt
from optim.dataset import array_image_loader, cov_matrix_to_klt, dataset_klt_matrix

CAPTUM_COV = torch.tensor(
    [[0.0477, 0.0415, 0.0280], [0.0415, 0.0425, 0.0333], [0.0280, 0.0333, 0.0419]]
)
# SPEC 2.9 reference output (columns carry arbitrary SVD signs there).
CAPTUM_KLT = torch.tensor(
    [[-0.2036, 0.0750, 0.0249], [-0.2024, 0.0158, -0.0358], [-0.1749, -0.1056, 0.0124]]
)


def test_klt_matches_captum_reference_up_to_column_signs():
    klt = cov_matrix_to_klt(CAPTUM_COV)
    signs = torch.sign((klt * CAPTUM_KLT).sum(dim=0))
    assert torch.allclose(klt * signs, CAPTUM_KLT, atol=1e-4)


def test_klt_factorises_the_covariance_with_numpy_eigenvalues():
    klt = cov_matrix_to_klt(CAPTUM_COV.double(), epsilon=0.0)
    assert torch.allclose(klt @ klt.T, CAPTUM_COV.double(), atol=1e-12)
    column_norms = torch.linalg.vector_norm(klt, dim=0).numpy()
    expected = np.sqrt(np.sort(np.linalg.eigvalsh(CAPTUM_COV.double().numpy()))[::-1])
    np.testing.assert_allclose(column_norms, expected, rtol=1e-10)


def test_klt_sign_convention_makes_the_first_row_non_negative():
    for seed in range(5):
        a = torch.randn(3, 3, generator=torch.Generator().manual_seed(seed))
        assert bool((cov_matrix_to_klt(a @ a.T)[0] >= 0).all())


def test_normalize_really_normalises():
    # captum computes the normalised matrix and throws it away (SPEC 6).
    raw = cov_matrix_to_klt(CAPTUM_COV)
    normalised = cov_matrix_to_klt(CAPTUM_COV, normalize=True)
    norms = torch.linalg.vector_norm(normalised, dim=0)
    assert norms.max().item() == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(normalised * torch.linalg.vector_norm(raw, dim=0).max(), raw, atol=1e-7)


def test_klt_rejects_non_square_and_asymmetric_input():
    with pytest.raises(ValueError, match="square"):
        cov_matrix_to_klt(torch.ones(2, 3))
    with pytest.raises(ValueError, match="symmetric"):
        cov_matrix_to_klt(torch.tensor([[1.0, 0.5], [0.0, 1.0]]))


def test_dataset_klt_plugs_into_to_rgb_and_round_trips(real_photos):
    loader = array_image_loader(real_photos, size=48, batch_size=6)
    klt = dataset_klt_matrix(loader, normalize=True)
    to_rgb = opt.transforms.ToRGB(transform=klt)
    decorrelated = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(to_rgb(to_rgb(decorrelated), inverse=True), decorrelated, atol=1e-4)


def test_real_photo_klt_decorrelates_their_colours(real_photos):
    loader = array_image_loader(real_photos, size=48, batch_size=6)
    klt = dataset_klt_matrix(loader)
    images = torch.cat(list(loader))
    decorrelated = opt.transforms.ToRGB(transform=klt)(images, inverse=True)
    # The oracle in float64: a float32 covariance of 2304 pixels per image could be off by
    # 2304 u (1.4e-4) in the worst summation order; what remains is the float32 rounding of
    # the decorrelated pixels (a few u times the KLT's condition number), far below 1e-3.
    pixels = decorrelated.double().permute(0, 2, 3, 1).reshape(len(images), -1, 3)
    centred = pixels - pixels.mean(dim=1, keepdim=True)
    cov = (centred.transpose(1, 2) @ centred).sum(0) / (len(images) * (pixels.shape[1] - 1))
    # In the KLT basis the covariance is the identity (unit variance, no correlation).
    assert torch.allclose(cov, torch.eye(3, dtype=torch.float64), atol=1e-3)


def test_real_photo_klt_first_component_is_luminance_like(real_photos):
    # The distance to the standard ImageNet matrix is reported in the README, not asserted;
    # this checks the shape every natural-image KLT has: an all-positive brightness axis.
    klt = dataset_klt_matrix(array_image_loader(real_photos, size=48, batch_size=6), True)
    standard = opt.transforms.ToRGB.klt_transform()
    assert bool((klt[:, 0] > 0).all())
    cosine = torch.nn.functional.cosine_similarity(klt[:, 0], standard[:, 0], dim=0)
    assert cosine > 0.95
