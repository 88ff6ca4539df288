"""ToRGB against numpy matrix references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optim.transforms import ToRGB

SPEC_KLT = np.array([[0.5628, 0.1948, 0.0433], [0.5845, 0.0, -0.1082], [0.5845, -0.1948, 0.0649]])
EPS32 = torch.finfo(torch.float32).eps


def _mix_bound(matrix: np.ndarray, x: np.ndarray, rounded_matrix: bool = False) -> np.ndarray:
    """How far a float32 3x3 colour mix ``matrix @ x`` can be from the exact one.

    Each output is a sum of 3 products: at most 3 u * sum_c |m_rc x_c| (u = eps / 2) for the
    products and the additions in any order (FMA or not, any vector width), plus u per entry
    of the matrix when it was itself rounded to float32. Returned with a factor 2 (eps, not u).
    """
    terms = 4 if rounded_matrix else 3
    return terms * EPS32 * np.einsum("rc,...chw->...rhw", np.abs(matrix), np.abs(x))


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
    x = torch.randn(1, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    module = ToRGB("klt")
    # The inverse of the module's own matrix (test_klt_matrix_matches_spec_values ties that
    # matrix to the spec's 4 decimals), in float64: the float32 result differs from it only by
    # the rounding of the inverted matrix to float32 and of the 3-term products.
    inverse = np.linalg.inv(module.transform.double().numpy())
    expected = np.einsum("rc,bchw->brhw", inverse, x.double().numpy())
    error = np.abs(module(x, inverse=True).double().numpy() - expected)
    assert (error <= _mix_bound(inverse, x.numpy(), rounded_matrix=True)).all()
    # And it is the inverse of the spec's matrix up to the spec's rounding: entries given to 4
    # decimals are off by up to 5e-5 (plus float32 rounding), and inv(M) - inv(S) =
    # inv(M) (S - M) inv(S), so the difference is at most |inv(M)| 6e-5 |inv(S)| |x|.
    spec_inverse = np.linalg.inv(SPEC_KLT)
    spec_error = np.abs(inverse) @ np.full((3, 3), 6e-5) @ np.abs(spec_inverse)
    spec_expected = np.einsum("rc,bchw->brhw", spec_inverse, x.double().numpy())
    allowed = np.einsum("rc,bchw->brhw", spec_error, np.abs(x.double().numpy()))
    assert (np.abs(expected - spec_expected) <= allowed).all()


def test_chw_input_and_alpha_passthrough():
    x = torch.rand(4, 3, 3, generator=torch.Generator().manual_seed(2))
    out = ToRGB()(x)
    assert out.shape == (4, 3, 3)
    assert torch.equal(out[3], x[3])
    matrix = ToRGB.klt_transform().double().numpy()  # the float32 matrix, exactly
    expected = np.einsum("rc,chw->rhw", matrix, x[:3].double().numpy())
    # Rows mix positive and negative entries, so an output can be near 0: the tolerance comes
    # from the terms' magnitudes, not from the output's.
    error = np.abs(out[:3].double().numpy() - expected)
    assert (error <= _mix_bound(matrix, x[:3].numpy())).all()


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
    x = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(3))
    module = ToRGB()
    out = module(module(x.to(dtype)), inverse=True)
    assert out.dtype == dtype
    # Oracle: the same two products of the same operands rounded to ``dtype`` (the input, the
    # matrix, the matrix inverted in float64), summed exactly and rounded to ``dtype`` where
    # the module's result is. torch sums in float32, so the module's two results can only
    # round the other way from the oracle's: at most one ulp (eps |v|) of the colour mix, which
    # the inverse carries over (|inv| eps |mixed|), and one ulp of the output; plus the float32
    # sums (3 eps32 of the terms), negligible. Independent of the CPU and the thread count.
    eps = torch.finfo(dtype).eps

    def mix(matrix: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        rounded = matrix.to(dtype).double()
        return torch.einsum("rc,bchw->brhw", rounded, values.double()).to(dtype).double()

    forward = module.transform.double()
    inverse = torch.linalg.inv(forward).to(dtype).double()
    mixed = mix(forward, x.to(dtype))
    expected = mix(torch.linalg.inv(forward), mixed)
    carried = torch.einsum("rc,bchw->brhw", inverse.abs(), eps * mixed.abs())
    bound = eps * expected.abs() + carried + 6 * EPS32 * (expected.abs() + carried)
    assert ((out.double() - expected).abs() <= bound).all()
    # The round trip itself: the input is back to within the rounding above plus that of the
    # input (|inv| |M| eps |x|) and of the two matrices (2 eps relative per product).
    matrix_rounding = inverse.abs() @ forward.abs() * 3 * eps
    round_trip = torch.einsum("rc,bchw->brhw", matrix_rounding, x.double().abs()) + bound
    assert ((out.double() - x.double()).abs() <= round_trip).all()
