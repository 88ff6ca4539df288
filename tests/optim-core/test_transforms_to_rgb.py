"""ToRGB against numpy matrix references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optim.transforms import ToRGB

SPEC_KLT = np.array([[0.5628, 0.1948, 0.0433], [0.5845, 0.0, -0.1082], [0.5845, -0.1948, 0.0649]])


def test_klt_matrix_matches_spec_values():
    np.testing.assert_allclose(ToRGB.klt_transform().numpy(), SPEC_KLT, atol=1e-4)


def test_klt_is_lucid_matrix_over_largest_column_norm():
    raw = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    expected = raw / np.linalg.norm(raw, axis=0).max()
    np.testing.assert_allclose(ToRGB("klt").transform.numpy(), expected, rtol=1e-6)


def test_i1i2i3_matrix():
    expected = [[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0, -1 / 2], [-1 / 4, 1 / 2, -1 / 4]]
    np.testing.assert_allclose(ToRGB("i1i2i3").transform.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("transform", ["klt", "i1i2i3"])
def test_forward_matches_numpy_matrix_product(transform):
    x = torch.randn(2, 3, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    module = ToRGB(transform)
    matrix = module.transform.double().numpy()
    expected = np.einsum("rc,bchw->brhw", matrix, x.numpy())
    np.testing.assert_allclose(module(x).numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("transform", ["klt", "i1i2i3"])
def test_inverse_round_trip(transform):
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    module = ToRGB(transform)
    torch.testing.assert_close(module(module(x), inverse=True), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(module(module(x, inverse=True)), x, atol=1e-6, rtol=0)


def test_inverse_matches_numpy_inverse():
    x = torch.randn(1, 3, 4, 4)
    module = ToRGB("klt")
    expected = np.einsum("rc,bchw->brhw", np.linalg.inv(SPEC_KLT), x.numpy())
    np.testing.assert_allclose(module(x, inverse=True).numpy(), expected, rtol=2e-3, atol=2e-3)


def test_chw_input_and_alpha_passthrough():
    x = torch.rand(4, 3, 3)
    out = ToRGB()(x)
    assert out.shape == (4, 3, 3)
    assert torch.equal(out[3], x[3])
    expected = np.einsum("rc,chw->rhw", ToRGB.klt_transform().numpy(), x[:3].numpy())
    np.testing.assert_allclose(out[:3].numpy(), expected, rtol=1e-5, atol=1e-7)


def test_custom_matrix():
    matrix = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    x = torch.rand(1, 3, 2, 2)
    out = ToRGB(matrix)(x)
    assert torch.equal(out[:, 0], x[:, 1]) and torch.equal(out[:, 2], 2 * x[:, 2])


def test_instances_do_not_share_buffers():
    a, b = ToRGB(), ToRGB()
    a.transform.mul_(2)
    assert not torch.equal(a.transform, b.transform)


@pytest.mark.parametrize("bad", ["rgb", torch.eye(4), 5])
def test_bad_transform_is_rejected(bad):
    with pytest.raises(ValueError, match=r"ToRGB|3x3"):
        ToRGB(bad)


def test_too_few_channels_is_rejected():
    with pytest.raises(ValueError, match="3 colour channels"):
        ToRGB()(torch.rand(1, 2, 4, 4))


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match="CHW or NCHW"):
        ToRGB()(torch.rand(3, 4))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_inverse_works_in_half_precision(dtype):
    x = torch.rand(1, 3, 4, 4)
    module = ToRGB()
    out = module(module(x.to(dtype)), inverse=True)
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), x, atol=5e-2, rtol=0)
