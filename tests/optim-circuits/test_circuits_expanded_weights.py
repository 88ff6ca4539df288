"""extract_expanded_weights against kernels composed independently in numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import optim as opt
from optim.circuits import NonlinearPathWarning, extract_expanded_weights
from optim.circuits import expanded_weights as expanded_weights_module


def _seeded(module: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return module.eval()


def _compose(
    outer: np.ndarray, kernel: np.ndarray, pad: int, in_size: tuple[int, int]
) -> np.ndarray:
    """Pull expanded weights ``outer[i, k, Y, X]`` (w.r.t. a conv's output) back through the
    conv ``b[k, Y, X] = sum_j,u,v kernel[k, j, u, v] * a[j, Y + u - pad, X + v - pad]``.

    Returns ``[i, j, y, x]`` over the conv's input of size ``in_size``, by explicit loops.
    """
    out_ch, _, out_h, out_w = outer.shape
    _, in_ch, kh, kw = kernel.shape
    result = np.zeros((out_ch, in_ch, *in_size))
    for big_y in range(out_h):
        for big_x in range(out_w):
            for u in range(kh):
                for v in range(kw):
                    y, x = big_y + u - pad, big_x + v - pad
                    if 0 <= y < in_size[0] and 0 <= x < in_size[1]:
                        # sum over k of outer[i, k, Y, X] * kernel[k, j, u, v]
                        result[:, :, y, x] += outer[:, :, big_y, big_x] @ kernel[:, :, u, v]
    return result


def _centre_selector(channels: int, height: int, width: int) -> np.ndarray:
    """Expanded weights of a layer w.r.t. itself at its centre position: one-hot maps."""
    selector = np.zeros((channels, channels, height, width))
    for i in range(channels):
        selector[i, i, (height - 1) // 2, (width - 1) // 2] = 1.0
    return selector


def _avg_pool_2x2_back(outer: np.ndarray, in_size: tuple[int, int]) -> np.ndarray:
    """Pull expanded weights back through AvgPool2d(2): each pooled weight spreads / 4."""
    return np.kron(outer, np.ones((2, 2)))[..., : in_size[0], : in_size[1]] / 4.0


def _assert_within_float32_rounding(
    weights: torch.Tensor, expected: np.ndarray, magnitude: np.ndarray, terms: int, eps=None
) -> None:
    """``weights`` (float32) equals the float64 oracle ``expected`` up to float32 rounding.

    Each expanded weight is a sum of products of float32 kernel entries; pulling back through
    a conv with ``k`` output channels and a ``kh x kw`` kernel sums ``k * kh * kw`` terms, and
    each sum is off by at most (its number of terms) * u * (the sum of the terms' absolute
    values), u = eps / 2, in any summation order (any CPU kernel, any thread count). Over the
    stages the errors add up: ``terms`` is the total count, and ``magnitude`` is the oracle run
    on the absolute values of the kernels. ``terms * eps`` leaves a factor 2 over the bound.
    """
    eps = torch.finfo(torch.float32).eps if eps is None else eps
    bound = terms * eps * magnitude
    error = np.abs(weights.double().cpu().numpy() - expected)
    assert (error <= bound).all(), f"off by {error.max():.3g}, allowed {bound.max():.3g}"


def _conv_terms(*convs: nn.Conv2d) -> int:
    """Terms summed per expanded weight when pulling back through ``convs``."""
    return sum(c.out_channels * c.kernel_size[0] * c.kernel_size[1] for c in convs)


def _conv_chain() -> nn.Sequential:
    return _seeded(
        nn.Sequential(
            nn.Conv2d(2, 3, 3),  # "0": target1, 14 -> 12
            nn.Conv2d(3, 4, 3),  # "1": 12 -> 10
            nn.Conv2d(4, 5, 2),  # "2": target2, 10 -> 9
        ),
        seed=0,
    )


def test_conv_conv_matches_numpy_composition() -> None:
    model = _conv_chain()
    weights = extract_expanded_weights(model, "0", "2", model_input=torch.zeros(1, 2, 14, 14))
    assert weights.shape == (5, 3, 12, 12)
    w1 = model[1].weight.detach().double().numpy()
    w2 = model[2].weight.detach().double().numpy()

    def oracle(w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
        through_w2 = _compose(_centre_selector(5, 9, 9), w2, pad=0, in_size=(10, 10))
        return _compose(through_w2, w1, pad=0, in_size=(12, 12))

    expected = oracle(w1, w2)
    magnitude = oracle(np.abs(w1), np.abs(w2))
    _assert_within_float32_rounding(weights, expected, magnitude, _conv_terms(model[2], model[1]))
    assert np.abs(expected).max() > 0.1  # the oracle is not trivially zero


def test_conv_avgpool_conv_matches_numpy_composition() -> None:
    model = _seeded(
        nn.Sequential(
            nn.Conv2d(3, 4, 3),  # "0": target1, 18 -> 16
            nn.Conv2d(4, 3, 3, padding=1),  # "1": 16 -> 16
            nn.AvgPool2d(2),  # "2": 16 -> 8
            nn.Conv2d(3, 6, 3),  # "3": target2, 8 -> 6
        ),
        seed=1,
    )
    weights = extract_expanded_weights(
        model, model[0], model[3], model_input=torch.rand(1, 3, 18, 18)
    )
    assert weights.shape == (6, 4, 16, 16)
    w3 = model[3].weight.detach().double().numpy()
    w1 = model[1].weight.detach().double().numpy()

    def oracle(w1: np.ndarray, w3: np.ndarray) -> np.ndarray:
        through_conv = _compose(_centre_selector(6, 6, 6), w3, pad=0, in_size=(8, 8))
        through_pool = _avg_pool_2x2_back(through_conv, (16, 16))
        return _compose(through_pool, w1, pad=1, in_size=(16, 16))

    expected = oracle(w1, w3)
    terms = _conv_terms(model[3], model[1]) + 1  # + the pool's exact division by 4
    _assert_within_float32_rounding(weights, expected, oracle(np.abs(w1), np.abs(w3)), terms)


def test_names_and_modules_agree_and_input_does_not_matter_on_a_linear_path() -> None:
    model = _conv_chain()
    by_name = extract_expanded_weights(model, "0", "2", model_input=torch.zeros(1, 2, 14, 14))
    by_module = extract_expanded_weights(
        model, model[0], model[2], model_input=torch.rand(2, 14, 14)
    )
    torch.testing.assert_close(by_name, by_module, atol=1e-6, rtol=0)


def test_frozen_parameters_are_fine() -> None:
    model = _conv_chain().requires_grad_(False)
    weights = extract_expanded_weights(model, "0", "2", model_input=torch.zeros(1, 2, 14, 14))
    assert weights.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_crop_is_centred_on_the_support() -> None:
    model = _conv_chain()
    full = extract_expanded_weights(model, "0", "2", model_input=torch.zeros(1, 2, 14, 14))
    cropped = extract_expanded_weights(
        model, "0", "2", crop_shape=4, model_input=torch.zeros(1, 2, 14, 14)
    )
    assert cropped.shape == (5, 3, 4, 4)
    # The centre of the 9x9 output is (4, 4); its receptive field in the 12x12 map is
    # rows/cols 4..7 (kernel 2 then 3), exactly the centred 4x4 crop, so nothing is lost.
    torch.testing.assert_close(cropped, full[..., 4:8, 4:8])
    # Summed in float64: 240 (or 2160) float32 terms in float32 would differ by up to
    # n * u of the total, depending on the summation order, far above rel=1e-6.
    assert cropped.double().abs().sum().item() == pytest.approx(
        full.double().abs().sum().item(), rel=1e-6
    )
    custom = extract_expanded_weights(
        model,
        "0",
        "2",
        crop_shape=(2, 3),
        model_input=torch.zeros(1, 2, 14, 14),
        crop_func=lambda w, size: w[..., : size[0], : size[1]],
    )
    assert custom.shape == (5, 3, 2, 3)


def test_linear_target2_uses_the_whole_output() -> None:
    model = _seeded(
        nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(3 * 4 * 4, 5)), seed=2
    )
    weights = extract_expanded_weights(model, "0", "2", model_input=torch.zeros(1, 2, 6, 6))
    assert weights.shape == (5, 3, 4, 4)
    torch.testing.assert_close(weights.reshape(5, -1), model[2].weight.detach())


def test_all_gradient_strategies_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _conv_chain()
    zeros = torch.zeros(1, 2, 14, 14)
    reference = extract_expanded_weights(model, "0", "2", model_input=zeros)  # batched forward
    vmap = extract_expanded_weights(model, "0", "2", model_input=zeros, batched_forward=False)
    torch.testing.assert_close(vmap, reference)
    # Several chunks (2 channels per pass) instead of one.
    monkeypatch.setattr(expanded_weights_module, "_BATCHED_GRAD_ELEMENTS", 3 * 12 * 12 * 2)
    torch.testing.assert_close(
        extract_expanded_weights(model, "0", "2", model_input=zeros), reference
    )
    real_grad = torch.autograd.grad

    def no_batching(*args, **kwargs):
        if kwargs.get("is_grads_batched"):
            raise RuntimeError("Batching rule not implemented")
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", no_batching)
    one_by_one = extract_expanded_weights(model, "0", "2", model_input=zeros, batched_forward=False)
    torch.testing.assert_close(one_by_one, reference)


class _SkipConcat(nn.Module):
    """conv0 -> conv1 (target1) -> cat with conv0's output -> conv2 (target2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv0, self.conv1, self.conv2 = (
            nn.Conv2d(2, 3, 1),
            nn.Conv2d(3, 3, 3, padding=1),
            nn.Conv2d(6, 4, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        early = self.conv0(x)
        return self.conv2(torch.cat([self.conv1(early), early], dim=1))


class _BatchCentred(nn.Module):
    """conv (target1) -> subtract the batch mean -> conv (target2): items interact."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(2, 3, 3), nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv1(x)
        return self.conv2(a - a.mean(dim=0, keepdim=True) + a)


def test_paths_that_cannot_take_a_batch_fall_back_to_batch_one_gradients() -> None:
    skip = _seeded(_SkipConcat(), seed=6)
    zeros = torch.zeros(1, 2, 8, 8)
    weights = extract_expanded_weights(skip, "conv1", "conv2", model_input=zeros)
    w2 = skip.conv2.weight.detach().double().numpy()[:, :3]
    expected = _compose(_centre_selector(4, 6, 6), w2, 0, (8, 8))
    magnitude = _compose(_centre_selector(4, 6, 6), np.abs(w2), 0, (8, 8))
    _assert_within_float32_rounding(weights, expected, magnitude, _conv_terms(skip.conv2))
    centred = _seeded(_BatchCentred(), seed=7)
    weights = extract_expanded_weights(centred, "conv1", "conv2", model_input=zeros)
    # At batch size 1, a - mean(a) is 0, so the path is just conv2: the batch-1 answer.
    w2 = centred.conv2.weight.detach().double().numpy()
    expected = _compose(_centre_selector(4, 4, 4), w2, 0, (6, 6))
    magnitude = _compose(_centre_selector(4, 4, 4), np.abs(w2), 0, (6, 6))
    # a - mean(a) + a: the identity path is summed with two more terms.
    terms = _conv_terms(centred.conv2) + 2
    _assert_within_float32_rounding(weights, expected, magnitude, terms)


class _ReluNet(nn.Module):
    def __init__(self, linear: bool = False, functional: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.act = nn.Identity() if linear or functional else nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.functional = functional
        self.conv3 = nn.Conv2d(4, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv1(x))
        x = self.conv2(x)
        return self.conv3(F.relu(x) if self.functional else x)


def _no_warnings(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


def test_nonlinearity_warning_fires_on_relu_net_and_not_on_linear_variant() -> None:
    relu_net = _seeded(_ReluNet(), seed=3)
    with pytest.warns(NonlinearPathWarning, match=r"act \(ReLU\).*use_linear_modules_only=True"):
        extract_expanded_weights(relu_net, "conv1", "conv3", model_input=torch.zeros(1, 3, 11, 11))
    linear_net = _seeded(_ReluNet(linear=True), seed=3)
    _no_warnings(
        lambda: extract_expanded_weights(
            linear_net, "conv1", "conv3", model_input=torch.zeros(1, 3, 11, 11)
        )
    )
    # The ReLU before target1 is not on the path: conv2 -> conv3 is linear.
    _no_warnings(
        lambda: extract_expanded_weights(
            relu_net, "conv2", "conv3", model_input=torch.zeros(1, 3, 11, 11)
        )
    )


def test_skip_layers_makes_the_relu_net_linear() -> None:
    relu_net = _seeded(_ReluNet(), seed=3)
    opt.model_utils.skip_layers(relu_net, nn.ReLU)
    skipped = _no_warnings(
        lambda: extract_expanded_weights(
            relu_net, "conv1", "conv3", model_input=torch.zeros(1, 3, 11, 11)
        )
    )
    linear = extract_expanded_weights(
        _seeded(_ReluNet(linear=True), seed=3),
        "conv1",
        "conv3",
        model_input=torch.zeros(1, 3, 11, 11),
    )
    torch.testing.assert_close(skipped, linear)


def test_functional_and_maxpool_nonlinearities_are_detected() -> None:
    functional = _seeded(_ReluNet(functional=True), seed=4)
    with pytest.warns(NonlinearPathWarning, match="functional calls"):
        extract_expanded_weights(
            functional, "conv1", "conv3", model_input=torch.zeros(1, 3, 11, 11)
        )
    pooled = _seeded(nn.Sequential(nn.Conv2d(2, 3, 3), nn.MaxPool2d(2), nn.Conv2d(3, 2, 3)), seed=5)
    with pytest.warns(NonlinearPathWarning, match=r"1 \(MaxPool2d\)"):
        extract_expanded_weights(pooled, "0", "2", model_input=torch.zeros(1, 2, 14, 14))
    _no_warnings(
        lambda: extract_expanded_weights(
            pooled, "0", "2", model_input=torch.zeros(1, 2, 14, 14), check_linearity=False
        )
    )


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_errors_and_hooks_never_leak() -> None:
    model = _conv_chain()
    zeros = torch.zeros(1, 2, 14, 14)
    with pytest.raises(ValueError, match="swap the two targets"):
        extract_expanded_weights(model, "2", "0", model_input=zeros)
    with pytest.raises(ValueError, match="same module"):
        extract_expanded_weights(model, "1", model[1], model_input=zeros)
    with pytest.raises(ValueError, match="Closest valid names: 'conv2'"):
        extract_expanded_weights(_ReluNet(), "conv1", "conv_2", model_input=zeros)
    with pytest.raises(ValueError, match="batch size 1"):
        extract_expanded_weights(model, "0", "2", model_input=torch.zeros(2, 2, 14, 14))
    with pytest.raises(ValueError, match="crop_shape"):
        extract_expanded_weights(model, "0", "2", crop_shape=0, model_input=zeros)
    assert _hook_count(model) == 0

    class TwoBranches(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.left, self.right = nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.left(x) + self.right(x)

    branches = TwoBranches()
    with pytest.raises(ValueError, match="does not depend on target1"):
        extract_expanded_weights(branches, "left", "right", model_input=torch.zeros(1, 2, 4, 4))
    assert _hook_count(branches) == 0
    extract_expanded_weights(model, "0", "2", model_input=zeros)
    assert _hook_count(model) == 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_model_matches_cpu() -> None:
    model = _conv_chain()
    w1 = model[1].weight.detach().double().numpy()
    w2 = model[2].weight.detach().double().numpy()
    through_w2 = _compose(_centre_selector(5, 9, 9), np.abs(w2), pad=0, in_size=(10, 10))
    magnitude = _compose(through_w2, np.abs(w1), pad=0, in_size=(12, 12))
    terms = _conv_terms(model[2], model[1])
    cpu = extract_expanded_weights(model, "0", "2", model_input=torch.zeros(1, 2, 14, 14))
    cuda = extract_expanded_weights(model.cuda(), "0", "2", model_input=torch.zeros(1, 2, 14, 14))
    assert cuda.device.type == "cuda"
    # cuDNN convolutions may run in TF32 (torch.backends.cudnn.allow_tf32, on by default):
    # both factors of every product are rounded to 10 mantissa bits, a relative error of
    # 2 * 2**-11 per product on top of the float32 sums. Each side is within its own bound of
    # the exact value, so the two are within the sum of the bounds.
    tf32 = 2 * 2.0**-11 if torch.backends.cudnn.allow_tf32 else 0.0
    eps = torch.finfo(torch.float32).eps
    _assert_within_float32_rounding(
        cuda, cpu.double().numpy(), magnitude, terms, eps=2 * eps + tf32 / terms
    )
