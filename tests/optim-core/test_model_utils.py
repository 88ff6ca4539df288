"""optim.model_utils against independent oracles (numpy convolutions, hand-computed numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optim.model_utils import (
    Conv2dSame,
    MaxPool2dRelaxed,
    RedirectedReLU,
    RedirectedReluLayer,
    SkipLayer,
    get_model_layer_shapes,
    get_model_layers,
    replace_layers,
    same_padding,
    skip_layers,
)


# ---- Conv2dSame ------------------------------------------------------------------------
def _numpy_conv_same(x, w, b, stride, dilation):
    """Direct TF-SAME cross-correlation in numpy: the padding follows TF's documented rule."""
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    out_h, out_w = -(-h // stride), -(-wd // stride)
    pad_h = max((out_h - 1) * stride + (kh - 1) * dilation + 1 - h, 0)
    pad_w = max((out_w - 1) * stride + (kw - 1) * dilation + 1 - wd, 0)
    xp = np.pad(
        x, ((0, 0), (0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
    )
    out = np.zeros((n, o, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            patch = xp[
                :,
                :,
                i * stride : i * stride + (kh - 1) * dilation + 1 : dilation,
                j * stride : j * stride + (kw - 1) * dilation + 1 : dilation,
            ]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out + b[None, :, None, None]


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation"),
    [
        (7, 3, 1, 1),
        (8, 3, 2, 1),
        (9, 3, 2, 1),
        (10, 7, 2, 1),
        (9, 5, 3, 1),
        (9, 3, 1, 2),
        (6, 4, 1, 1),
    ],
)
def test_conv2d_same_matches_numpy_tf_same(size, kernel, stride, dilation):
    torch.manual_seed(0)
    conv = Conv2dSame(2, 3, kernel, stride=stride, dilation=dilation).double()
    x = torch.randn(2, 2, size, size + 1, dtype=torch.float64)
    expected = _numpy_conv_same(
        x.numpy(), conv.weight.detach().numpy(), conv.bias.detach().numpy(), stride, dilation
    )
    out = conv(x).detach().numpy()
    assert out.shape == expected.shape
    assert out.shape[-2:] == (-(-size // stride), -(-(size + 1) // stride))
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_same_padding_hand_computed():
    # InceptionV1's conv1 at 224: total (112-1)*2 + 7 - 224 = 5 -> 2 before, 3 after.
    assert same_padding(224, 7, 2, 1) == (2, 3)
    assert same_padding(5, 3, 2, 1) == (1, 1)
    assert same_padding(4, 3, 2, 1) == (0, 1)
    assert same_padding(4, 1, 2, 1) == (0, 0)  # never negative


def test_conv2d_same_warns_on_ignored_padding_and_rejects_bad_input():
    with pytest.warns(UserWarning, match="ignores padding"):
        Conv2dSame(1, 1, 3, padding=1)
    with pytest.raises(ValueError, match="CHW or NCHW"):
        Conv2dSame(1, 1, 3)(torch.zeros(4, 4))


# ---- MaxPool2dRelaxed ------------------------------------------------------------------
def test_maxpool_relaxed_forward_is_max_and_gradient_is_average_pool():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    pool = MaxPool2dRelaxed(kernel_size=3, stride=3)
    out = pool(x)
    torch.testing.assert_close(out, F.max_pool2d(x.detach(), 3, 3))
    out.sum().backward()
    # Non-overlapping 3x3 windows: every input pixel receives exactly 1/9.
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 2, 6, 6), 1 / 9))


def test_maxpool_relaxed_overlapping_windows_gradient_counts_windows():
    x = torch.zeros(1, 1, 3, 3, requires_grad=True)
    MaxPool2dRelaxed(kernel_size=2, stride=1)(x).sum().backward()
    # each pixel is in (number of 2x2 windows containing it) windows, each giving 1/4
    counts = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4
    np.testing.assert_allclose(x.grad[0, 0].numpy(), counts)


def test_maxpool_relaxed_transfers_from_maxpool():
    model = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True))
    replace_layers(model, nn.MaxPool2d, MaxPool2dRelaxed, transfer_vars=True)
    layer = model[0]
    assert isinstance(layer, MaxPool2dRelaxed)
    assert (layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode) == (3, 2, 1, True)
    x = torch.randn(1, 1, 9, 9)
    torch.testing.assert_close(layer(x), F.max_pool2d(x, 3, 2, 1, ceil_mode=True))


# ---- RedirectedReLU --------------------------------------------------------------------
def test_redirected_relu_uses_relu_gradient_when_some_input_is_positive():
    x = torch.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    grad_out = torch.tensor([1.0, 2.0, 3.0, 4.0])
    y = RedirectedReLU.apply(x)
    assert y.tolist() == [0.0, 2.0, 0.0, 4.0]
    y.backward(grad_out)
    assert x.grad.tolist() == [0.0, 2.0, 0.0, 4.0]


def test_redirected_relu_passes_gradient_through_when_relu_gradient_is_all_zero():
    x = torch.tensor([[-1.0, -2.0], [-0.5, -4.0]], requires_grad=True)
    grad_out = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    RedirectedReluLayer()(x).backward(grad_out)
    assert x.grad.tolist() == grad_out.tolist()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_redirected_relu_masks_exactly_the_negative_inputs(dtype):
    """Zeros (also -0.0) keep their gradient, every negative number down to the smallest
    subnormal loses it: the oracle is Lucid's ``where(x < 0, 0, grad)``."""
    finfo = torch.finfo(dtype)
    subnormal = finfo.tiny * finfo.eps
    edges = [0.0, -0.0, subnormal, -subnormal, finfo.tiny, -finfo.tiny, -1.0, 2.0, -math.inf]
    x = torch.tensor(edges, dtype=torch.float64).to(dtype).requires_grad_()
    grad_out = torch.arange(1.0, len(edges) + 1).to(dtype)
    RedirectedReLU.apply(x).backward(grad_out)
    expected = torch.where(x.detach() < 0, 0, grad_out)
    assert torch.equal(x.grad, expected)
    assert x.grad[:4].tolist() == [1.0, 2.0, 3.0, 0.0]


def test_redirected_relu_backward_never_syncs_with_the_host(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("RedirectedReLU's backward read a tensor on the host")

    x_alive = torch.tensor([-1.0, 2.0], requires_grad=True)
    x_dead = torch.tensor([-1.0, -2.0], requires_grad=True)
    # Positive input but zero gradient there: the ReLU gradient is all zero, so it redirects.
    x_zero = torch.tensor([-1.0, 2.0], requires_grad=True)
    outputs = [RedirectedReLU.apply(x) for x in (x_alive, x_dead, x_zero)]
    grads = [torch.tensor([3.0, 5.0]), torch.tensor([3.0, 5.0]), torch.tensor([3.0, 0.0])]
    for name in ("__bool__", "item", "tolist", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    torch.autograd.backward(outputs, grads)
    monkeypatch.undo()
    assert x_alive.grad.tolist() == [0.0, 5.0]
    assert x_dead.grad.tolist() == [3.0, 5.0]
    assert x_zero.grad.tolist() == [3.0, 0.0]


def test_redirected_relu_layer_replaces_inplace_relu_with_transfer_vars():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True))
    replace_layers(model, nn.ReLU, RedirectedReluLayer, transfer_vars=True)
    assert isinstance(model[1], RedirectedReluLayer)


# ---- replace_layers / skip_layers ------------------------------------------------------
class _Nested(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.ModuleDict({"act": nn.ReLU(), "pool": nn.MaxPool2d(4, stride=1)})


def test_replace_layers_recurses_and_transfers_vars_with_kwargs_winning():
    model = _Nested()
    replace_layers(model, nn.MaxPool2d, nn.AvgPool2d, transfer_vars=True, ceil_mode=True)
    assert isinstance(model.block[2], nn.AvgPool2d)
    assert (model.block[2].kernel_size, model.block[2].stride) == (2, 2)
    assert (model.head["pool"].kernel_size, model.head["pool"].stride) == (4, 1)
    assert model.head["pool"].ceil_mode is True


def test_replace_layers_without_transfer_uses_kwargs_only():
    model = _Nested()
    replace_layers(model, nn.ReLU, nn.LeakyReLU, negative_slope=0.5)
    assert [m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)] == [0.5, 0.5]
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())


def test_skip_layers_accepts_a_list_and_keeps_values():
    model = _Nested()
    skip_layers(model, [nn.ReLU, nn.MaxPool2d])
    kinds = [type(m).__name__ for m in model.modules()]
    assert kinds.count("SkipLayer") == 4 and "ReLU" not in kinds and "MaxPool2d" not in kinds
    assert SkipLayer(1, foo=2)(torch.tensor([-3.0]), "x", y=1).item() == -3.0


def test_replace_layers_rejects_bad_arguments():
    with pytest.raises(TypeError, match="layer class"):
        replace_layers(_Nested(), nn.ReLU(), SkipLayer)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        replace_layers("model", nn.ReLU, SkipLayer)
    with pytest.raises(ValueError, match="wrap it"):
        replace_layers(nn.ReLU(), nn.ReLU, SkipLayer)


# ---- get_model_layers ------------------------------------------------------------------
def test_get_model_layers_names_are_named_modules_dotted_names():
    model = _Nested()
    assert get_model_layers(model) == [
        "block",
        "block.0",
        "block.1",
        "block.2",
        "head",
        "head.act",
        "head.pool",
    ]


def test_get_model_layers_shapes_hand_computed_and_hooks_removed_and_mode_restored():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.BatchNorm2d(4), nn.Flatten())
    model.train()
    running_mean = model[1].running_mean.clone()
    shapes = get_model_layer_shapes(model, input_size=(2, 3, 9, 9))
    assert shapes == {"0": (2, 4, 4, 4), "1": (2, 4, 4, 4), "2": (2, 64)}
    assert get_model_layer_shapes(model, input_size=9)["0"] == (1, 4, 4, 4)
    # The older spelling, get_model_layers with input_size, delegates to get_model_layer_shapes.
    assert get_model_layers(model, input_size=(2, 3, 9, 9)) == shapes
    assert all(m.training for m in model.modules())
    assert torch.equal(model[1].running_mean, running_mean)  # ran in eval mode
    assert all(not m._forward_hooks for m in model.modules())


def test_get_model_layers_uncalled_layers_are_none_and_hooks_removed_on_error():
    class Partial(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Identity()
            self.unused = nn.Identity()

        def forward(self, x):
            return self.used(x)

    assert get_model_layer_shapes(Partial(), (4, 4)) == {"used": (1, 3, 4, 4), "unused": None}

    broken = nn.Sequential(nn.Linear(5, 5))  # a 4-D image input makes Linear fail
    with pytest.raises(RuntimeError):
        get_model_layer_shapes(broken, input_size=(3, 4, 4))
    assert not broken[0]._forward_hooks


def test_get_model_layers_validates_input_size():
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        get_model_layer_shapes(nn.Identity(), input_size=(1, 2, 3, 4, 5))
    with pytest.raises(TypeError, match=r"nn\.Module"):
        get_model_layers(object())
