"""LocalResponseNorm: the same outputs and gradients as torch's, in InceptionV1 too."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optim.models import InceptionV1, InceptionV1Places365
from optim.models.local_response_norm import LocalResponseNorm, lrn_band

INCEPTION5H_LRN = (11, 0.0011, 0.5, 2.0)
PLACES365_LRN = (5, 9.999999747378752e-05, 0.75, 1.0)
PARAMS = [
    INCEPTION5H_LRN,
    PLACES365_LRN,
    (1, 0.3, 0.75, 1.5),
    (2, 0.3, 0.5, 1.0),
    (4, 1.0, 1.2, 0.5),
]


def _output_and_input_grad(
    lrn: nn.Module, x: torch.Tensor, grad: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    out = lrn(x)
    (grad_x,) = torch.autograd.grad(out, x, grad)
    return out, grad_x


def _gradient_error_bound(x: torch.Tensor, grad: torch.Tensor, params: tuple) -> float:
    """How far two correct implementations of LRN's input gradient can be apart.

    grad_x = g d^-beta - (2 alpha beta / n) x sum_window(g x d^(-beta-1)), d = k + alpha / n *
    sum_window(x^2). Both implementations sum a window of n terms and do about 6 elementwise
    operations, so each is off by at most (n + 6) u times the magnitude of the two terms
    (u = eps / 2), whatever the summation order: the two differ by at most (n + 6) eps times
    it. The terms can cancel (the gradient is then much smaller than they are), so the
    magnitude of the terms, computed here in float64, sets the tolerance, not the gradient.
    """
    size, alpha, beta, k = params
    eps = torch.finfo(x.dtype).eps
    x, grad = x.double(), grad.double()
    band = lrn_band(x.shape[1], size, dtype=torch.float64)
    both_ways = ((band + band.T) > 0).double()  # the backward's window is the transposed one
    d = k + alpha / size * torch.einsum("cj,bjhw->bchw", band, x * x)
    direct = grad.abs() * d**-beta
    through_window = torch.einsum("cj,bjhw->bchw", both_ways, (grad * x).abs() * d ** (-beta - 1))
    magnitude = direct + 2 * alpha * abs(beta) / size * x.abs() * through_window
    return (size + 6) * eps * magnitude.max().item()


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("channels", [3, 8, 20])  # 3 is smaller than most window sizes
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_output_and_input_gradient_match_torch(params, channels, dtype):
    torch.manual_seed(0)
    x = torch.randn(2, channels, 5, 6, dtype=dtype) * 10
    grad = torch.randn(2, channels, 5, 6, dtype=dtype)
    out, grad_x = _output_and_input_grad(LocalResponseNorm(*params), x, grad)
    ref_out, ref_grad_x = _output_and_input_grad(nn.LocalResponseNorm(*params), x, grad)
    # out = x d^-beta: a window sum of n terms and ~6 elementwise operations, so relative
    # errors of at most (n + 6) u each; rtol = (n + 6) eps covers both sides.
    eps = torch.finfo(dtype).eps
    rtol = (params[0] + 6) * eps
    torch.testing.assert_close(out, ref_out, rtol=rtol, atol=0)
    atol = _gradient_error_bound(x, grad, params)
    torch.testing.assert_close(grad_x, ref_grad_x, rtol=0, atol=atol)


def test_band_is_torchs_window_including_even_sizes():
    # Columns j with c - size // 2 <= j <= c + (size - 1) // 2, clipped to the channels.
    assert lrn_band(5, 4).tolist() == [
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1],
        [0, 0, 1, 1, 1],
    ]
    assert torch.equal(lrn_band(3, 1), torch.eye(3))
    assert lrn_band(2, 11, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match="channels must be a positive int"):
        lrn_band(0, 3)
    with pytest.raises(ValueError, match="size must be a positive int"):
        lrn_band(3, 2.5)


def test_channels_last_keeps_its_layout_and_values():
    torch.manual_seed(0)
    x = torch.rand(2, 16, 7, 9, dtype=torch.float64) * 50
    grad = torch.randn_like(x)
    lrn = LocalResponseNorm(*INCEPTION5H_LRN)
    ref_out, ref_grad = _output_and_input_grad(lrn, x, grad)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    out, grad_x = _output_and_input_grad(
        lrn, x_cl, grad.contiguous(memory_format=torch.channels_last)
    )
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert grad_x.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_x, ref_grad, rtol=1e-12, atol=1e-12)


def test_no_state_and_the_cached_band_follows_dtype():
    lrn = LocalResponseNorm(*INCEPTION5H_LRN)
    x = torch.rand(1, 6, 3, 3)
    lrn(x)
    assert lrn.state_dict() == {} and list(lrn.buffers()) == [] and list(lrn.parameters()) == []
    lrn.double()  # no buffer to convert: a float64 input gets its own float64 band
    out = lrn(x.double())
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, F.local_response_norm(x.double(), *INCEPTION5H_LRN))
    # Hyper-parameters edited after a call are honoured (they are part of the cache key).
    lrn.alpha = 0.5
    torch.testing.assert_close(lrn(x), F.local_response_norm(x, 11, 0.5, 0.5, 2.0))


def test_bfloat16_autocast_is_close_to_float32():
    torch.manual_seed(0)
    x = torch.rand(2, 32, 6, 6) * 100
    lrn = LocalResponseNorm(*INCEPTION5H_LRN)
    reference = F.local_response_norm(x, *INCEPTION5H_LRN)
    for source in (x, x.bfloat16()):  # in a model, the input comes from a bf16 conv
        leaf = source.detach().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = lrn(leaf)
        (grad,) = torch.autograd.grad(out.float().sum(), leaf)
        assert torch.isfinite(grad).all()
        # bf16 (u = 2**-8 = 3.9e-3; sums accumulate in float32): the window sum is off by at
        # most 4 u relative (x, x * x, alpha / size and the sum itself rounded), rsqrt halves
        # that and adds u (3 u), and out = x * scale adds x's rounding and its own: 5 u =
        # 1.95e-2 relative at worst, within rtol 2e-2 on any CPU.
        torch.testing.assert_close(out.float(), reference, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("params", [INCEPTION5H_LRN, PLACES365_LRN])
def test_float32_scale_from_cuda_autocast_policy_with_a_low_precision_band(params, monkeypatch):
    # CUDA autocast runs rsqrt and pow in float32 while the band convolution stays in the
    # input's low precision; the backward then mixes dtypes. Simulated here on the CPU.
    torch.manual_seed(0)
    x = (torch.rand(2, 16, 5, 5) * 100).bfloat16()
    grad = torch.randn(2, 16, 5, 5)
    ref_out, ref_grad = _output_and_input_grad(nn.LocalResponseNorm(*params), x.float(), grad)
    for name in ("rsqrt", "pow"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda t, *a, _f=original: _f(t.float(), *a))
    out, grad_x = _output_and_input_grad(LocalResponseNorm(*params), x, grad)
    assert out.dtype == torch.float32 and grad_x.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref_out, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(grad_x.float(), ref_grad, rtol=3e-2, atol=3e-2)


def test_double_backward_and_batched_gradients_match_torch():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 4, 5, dtype=torch.float64, requires_grad=True)
    params = (4, 0.3, 0.75, 1.5)
    lrn = LocalResponseNorm(*params)
    assert torch.autograd.gradgradcheck(lrn, (x,))
    grad = torch.randn(2, 7, 4, 5, dtype=torch.float64)

    def grad_norm_gradient(fn):
        (gx,) = torch.autograd.grad((fn(x) * grad).sum(), x, create_graph=True)
        return torch.autograd.grad(gx.square().sum(), x)[0]

    torch.testing.assert_close(
        grad_norm_gradient(lrn), grad_norm_gradient(lambda t: F.local_response_norm(t, *params))
    )
    selectors = torch.randn(3, 2, 7, 4, 5, dtype=torch.float64)
    (batched,) = torch.autograd.grad(lrn(x), x, selectors, is_grads_batched=True)
    reference = F.local_response_norm(x, *params)
    expected = [torch.autograd.grad(reference, x, s, retain_graph=True)[0] for s in selectors]
    torch.testing.assert_close(batched, torch.stack(expected))


@pytest.mark.parametrize("shape", [(2, 6, 5), (1, 6, 3, 4, 2)])
def test_other_ranks_use_torchs_implementation(shape):
    x = torch.rand(shape)
    torch.testing.assert_close(LocalResponseNorm(3)(x), F.local_response_norm(x, 3))


def test_forward_and_backward_never_sync(monkeypatch):
    lrn = LocalResponseNorm(*INCEPTION5H_LRN)
    x = torch.rand(1, 12, 4, 4, requires_grad=True)

    def forbidden(*args, **kwargs):
        raise AssertionError("host synchronisation")

    monkeypatch.setattr(torch.Tensor, "item", forbidden)
    monkeypatch.setattr(torch.Tensor, "__bool__", forbidden)
    monkeypatch.setattr(torch.Tensor, "tolist", forbidden)
    lrn(x).sum().backward()  # the first call also builds the band
    assert x.grad is not None


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="size must be a positive int"):
        LocalResponseNorm(0)
    with pytest.raises(TypeError, match="alpha must be a number"):
        LocalResponseNorm(3, alpha="0.1")
    with pytest.raises(TypeError, match="expects a tensor"):
        LocalResponseNorm(3)([1.0, 2.0])


def _with_torch_lrn(model: nn.Module) -> nn.Module:
    reference = copy.deepcopy(model)
    for name in ("local_response_norm1", "local_response_norm2"):
        lrn = getattr(reference, name)
        setattr(reference, name, nn.LocalResponseNorm(lrn.size, lrn.alpha, lrn.beta, lrn.k))
    return reference


def _mixed4a(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    captured: list[torch.Tensor] = []
    handle = model.mixed4a.register_forward_hook(lambda m, i, out: captured.append(out))
    try:
        model(x)
    finally:
        handle.remove()
    return captured[0]


@pytest.mark.parametrize(
    "build",
    [
        lambda: InceptionV1(transform_input=True),
        lambda: InceptionV1(transform_input=True, replace_relus_with_redirectedrelu=True),
        lambda: InceptionV1Places365(aux_logits=False),
    ],
    ids=["inception_v1", "inception_v1_redirected", "places365"],
)
def test_models_match_the_straightforward_implementation_at_mixed4a(build):
    torch.manual_seed(0)
    model = build().double().eval()
    assert isinstance(model.local_response_norm1, LocalResponseNorm)
    assert isinstance(model.local_response_norm2, LocalResponseNorm)
    reference = _with_torch_lrn(model)
    assert model.state_dict().keys() == reference.state_dict().keys()
    x = torch.rand(2, 3, 80, 80, dtype=torch.float64, requires_grad=True)
    out, ref_out = _mixed4a(model, x), _mixed4a(reference, x)
    grad = torch.randn_like(ref_out)
    (grad_x,) = torch.autograd.grad(out, x, grad)
    (ref_grad,) = torch.autograd.grad(ref_out, x, grad)
    assert ref_out.abs().max() > 0 and ref_grad.abs().max() > 0
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-10 * ref_out.abs().max().item())
    torch.testing.assert_close(
        grad_x, ref_grad, rtol=1e-10, atol=1e-10 * ref_grad.abs().max().item()
    )


def test_float16_inputs_are_normalised_in_float32_without_overflow():
    """Squares of activations above 256 overflow float16 (InceptionV1's first activations
    reach that on its [-117, 138] input scale); the result must stay finite and accurate."""
    torch.manual_seed(0)
    x16 = (torch.rand(2, 16, 6, 6) * 400).half().requires_grad_()
    lrn = LocalResponseNorm(9, alpha=9.99e-5, beta=0.5, k=1.0)
    out = lrn(x16)
    out.backward(torch.ones_like(out))
    reference_x = x16.detach().float().requires_grad_()
    reference = F.local_response_norm(reference_x, 9, 9.99e-5, 0.5, 1.0)
    reference.backward(torch.ones_like(reference))
    assert out.dtype == torch.float16 and x16.grad.dtype == torch.float16
    # Normalised in float32 from the same float16 input: only the final rounding to float16
    # (u = 2**-11 = 4.9e-4 relative) separates them, well within rtol 2e-3 (4 u).
    torch.testing.assert_close(out.float(), reference, rtol=2e-3, atol=1e-2)
    torch.testing.assert_close(x16.grad.float(), reference_x.grad, rtol=2e-3, atol=1e-3)


def test_float16_under_autocast_stays_finite():
    x = torch.rand(1, 8, 5, 5) * 400
    lrn = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    with torch.autocast("cpu", dtype=torch.float16):
        out = lrn(x.half())
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    # float16 u = 4.9e-4: the input's rounding (u), its square's effect through pow(-0.75)
    # (1.5 u) and the output's rounding (u): 3.5 u, within rtol 2e-3 (4 u).
    torch.testing.assert_close(out.float(), lrn(x), rtol=2e-3, atol=1e-2)
