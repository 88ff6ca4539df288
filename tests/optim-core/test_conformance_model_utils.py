"""SPEC §2.8 (model utilities), row by row.

captum kept these in ``opt.models``; optim has one home for them, ``optim.model_utils``
(optim-core), and ``collect_activations`` lives with the hooks in ``optim.hooks``. The zoo's
part of the ``collect_activations`` row (googlenet mixed4d at 224) is checked in
tests/optim-models/test_conformance_models.py.

Oracles: numpy (float64) convolutions, poolings and ReLU gradients; hand-computed paddings and
layer names.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from optim.hooks import collect_activations
from optim.model_utils import (
    Conv2dSame,
    MaxPool2dRelaxed,
    RedirectedReLU,
    RedirectedReluLayer,
    SkipLayer,
    get_model_layers,
    replace_layers,
    skip_layers,
)

SPEC_ROWS: list[str] = [
    "optim.model_utils.get_model_layers",
    "optim.model_utils.RedirectedReLU",
    "optim.model_utils.RedirectedReluLayer",
    "optim.model_utils.replace_layers",
    "optim.model_utils.Conv2dSame",
    "optim.hooks.collect_activations",
    "optim.model_utils.SkipLayer",
    "optim.model_utils.skip_layers",
    "optim.model_utils.MaxPool2dRelaxed",
]

REQUIRED = inspect.Parameter.empty


# ---- signatures ----------------------------------------------------------------------------
# (row, callable to inspect, SPEC's parameters in order -> default; REQUIRED = no default)
SIGNATURES = [
    ("optim.model_utils.get_model_layers", None, {"model": REQUIRED}),
    (
        "optim.model_utils.replace_layers",
        None,
        {"model": REQUIRED, "layer1": REQUIRED, "layer2": REQUIRED, "transfer_vars": False},
    ),
    (
        "optim.model_utils.Conv2dSame",
        None,
        {
            "in_channels": REQUIRED,
            "out_channels": REQUIRED,
            "kernel_size": REQUIRED,
            "stride": 1,
            "padding": 0,
            "dilation": 1,
            "groups": 1,
            "bias": True,
        },
    ),
    # deliberate: model_input=None stands for torch.zeros(1, 3, 224, 224) (no tensor default
    # shared between calls); the behaviour is the SPEC's (test below).
    (
        "optim.hooks.collect_activations",
        None,
        {"model": REQUIRED, "targets": REQUIRED, "model_input": None},
    ),
    ("optim.model_utils.skip_layers", None, {"model": REQUIRED, "layers": REQUIRED}),
    ("optim.model_utils.SkipLayer", "forward", {"x": REQUIRED}),
    (
        "optim.model_utils.MaxPool2dRelaxed",
        None,
        {"kernel_size": REQUIRED, "stride": None, "padding": 0, "ceil_mode": False},
    ),
]


@pytest.mark.spec_row(*[row for row, _, _ in SIGNATURES])
@pytest.mark.parametrize(("row", "method", "expected"), SIGNATURES, ids=lambda v: str(v)[:40])
def test_signature_defaults(row, method, expected, spec_row_object):
    obj = spec_row_object(row)
    params = inspect.signature(getattr(obj, method) if method else obj).parameters
    params = {k: v for k, v in params.items() if k != "self"}
    assert list(params)[: len(expected)] == list(expected), "SPEC's positional order"
    assert {k: params[k].default for k in expected} == expected


@pytest.mark.spec_row(
    "optim.model_utils.SkipLayer",
    "optim.model_utils.RedirectedReluLayer",
    "optim.model_utils.replace_layers",
)
def test_constructors_that_take_any_arguments():
    # SkipLayer row: (*args, **kwargs); forward(x, *args, **kwargs).
    kinds = {p.kind for p in inspect.signature(SkipLayer).parameters.values()}
    assert kinds == {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}
    forward = list(inspect.signature(SkipLayer.forward).parameters.values())
    assert [p.kind for p in forward[2:]] == [
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    ]
    # RedirectedReluLayer row: () — deliberate: it also accepts and ignores arguments, so
    # replace_layers(model, nn.ReLU, RedirectedReluLayer, transfer_vars=True) works from
    # nn.ReLU(inplace=True).
    assert isinstance(RedirectedReluLayer(), nn.Module)
    assert isinstance(RedirectedReluLayer(inplace=True), nn.Module)
    # replace_layers row: **kwargs for layer2
    last = list(inspect.signature(replace_layers).parameters.values())[-1]
    assert last.kind is inspect.Parameter.VAR_KEYWORD


# ---- get_model_layers ----------------------------------------------------------------------
class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 1))
        )
        self.mixed3a = nn.Module()
        self.mixed3a.conv_1x1 = nn.Conv2d(4, 2, 1)
        self.fc = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.mixed3a.conv_1x1(self.features(x)).mean((2, 3)))


# captum's names for _Toy(), written by hand from the row: digits -> prefix[i], others prefix.name
CAPTUM_TOY_NAMES = [
    "features",
    "features[0]",
    "features[1]",
    "features[1][0]",
    "features[1][1]",
    "mixed3a",
    "mixed3a.conv_1x1",
    "fc",
]


@pytest.mark.spec_row("optim.model_utils.get_model_layers", "optim.hooks.collect_activations")
def test_get_model_layers_names_every_layer_recursively():
    model = _Toy()
    names = get_model_layers(model)
    # deliberate (README "Model utilities"): named_modules() names, "features.1.0" rather than
    # captum's "features[1][0]"; the same layers in the same order.
    assert names == [re.sub(r"\[(\d+)\]", r".\1", n) for n in CAPTUM_TOY_NAMES]
    # captum's bracket spelling still designates the same layer wherever a target is taken
    x = torch.rand(1, 3, 5, 5)
    acts = collect_activations(model, ["features[1][1]", "features.1.1"], x)
    assert acts["features[1][1]"] is acts["features.1.1"]  # one layer, collected once


# ---- RedirectedReLU ------------------------------------------------------------------------
REDIRECTED_CASES = {
    "some positive": [[-1.0, 2.0, 0.0], [3.0, -0.5, -2.0]],
    "all negative": [[-1.0, -2.0, -3.0], [-0.5, -0.25, -4.0]],
    "zero and negative": [[0.0, -2.0, -3.0], [-0.5, -0.25, -4.0]],
}


def _redirected_grad(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The row's rule: ReLU's gradient (zero where x < 0), or g itself if that is all zero."""
    relu_grad = np.where(x < 0, 0.0, g)
    return g if not relu_grad.any() else relu_grad


@pytest.mark.spec_row("optim.model_utils.RedirectedReLU", "optim.model_utils.RedirectedReluLayer")
@pytest.mark.parametrize("apply", ["function", "layer"])
@pytest.mark.parametrize("case", list(REDIRECTED_CASES))
def test_redirected_relu_forward_clamps_backward_redirects(case, apply):
    x_np = np.array(REDIRECTED_CASES[case])
    g_np = np.arange(1.0, 7.0).reshape(2, 3)  # every entry non-zero
    x = torch.tensor(x_np, requires_grad=True)
    y = RedirectedReLU.apply(x) if apply == "function" else RedirectedReluLayer()(x)
    np.testing.assert_array_equal(y.detach().numpy(), np.maximum(x_np, 0))
    y.backward(torch.tensor(g_np))
    np.testing.assert_array_equal(x.grad.numpy(), _redirected_grad(x_np, g_np))
    assert issubclass(RedirectedReLU, torch.autograd.Function)


@pytest.mark.spec_row("optim.model_utils.RedirectedReluLayer")
def test_redirected_relu_layer_scripted_is_relu():
    # Row: "forward is jit.ignore". deliberate (README "Model utilities"): scripted, the layer is
    # a plain ReLU (the same forward values), so a scripted model can be saved; captum's
    # jit.ignore kept a Python call in the scripted graph.
    x = torch.tensor([[-1.0, 0.5], [2.0, -3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated in 2.x
        scripted = torch.jit.script(RedirectedReluLayer())
    np.testing.assert_array_equal(scripted(x).numpy(), np.maximum(x.numpy(), 0))


# ---- replace_layers / SkipLayer / skip_layers -------------------------------------------------
def _pools() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 1, 1), nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1), nn.ReLU())
    )


@pytest.mark.spec_row("optim.model_utils.replace_layers")
def test_replace_layers_in_place_recursive_with_and_without_transfer_vars():
    model = _pools()
    assert replace_layers(model, nn.MaxPool2d, nn.AvgPool2d, transfer_vars=True) is None
    pool = model[1][0]
    # the old instance's public attributes that are AvgPool2d.__init__ parameters
    assert type(pool) is nn.AvgPool2d
    assert (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode) == (3, 2, 1, False)

    model = _pools()
    replace_layers(model, nn.MaxPool2d, nn.AvgPool2d, transfer_vars=True, count_include_pad=False)
    assert model[1][0].stride == 2 and model[1][0].count_include_pad is False  # plus kwargs

    model = _pools()
    replace_layers(model, nn.MaxPool2d, nn.AvgPool2d, kernel_size=5)  # no transfer: kwargs only
    assert (model[1][0].kernel_size, model[1][0].stride, model[1][0].padding) == (5, 5, 0)


@pytest.mark.spec_row("optim.model_utils.SkipLayer", "optim.model_utils.skip_layers")
def test_skip_layer_is_an_identity_and_skip_layers_replaces_by_type():
    x = torch.rand(2, 3)
    assert SkipLayer(4, inplace=True)(x, torch.zeros(1), scale=3.0) is x
    for layers in (nn.ReLU, [nn.ReLU, nn.MaxPool2d]):
        model = _pools()
        skip_layers(model, layers)
        assert type(model[1][1]) is SkipLayer
        expected = SkipLayer if isinstance(layers, list) else nn.MaxPool2d
        assert type(model[1][0]) is expected


# ---- Conv2dSame --------------------------------------------------------------------------------
# (size, kernel, stride, dilation) -> (before, after), by hand from
# pad = max((ceil(i/s) - 1)·s + (k - 1)·d + 1 - i, 0), split floor / ceil:
SAME_PADDING = {
    (224, 7, 2, 1): (2, 3),  # (112-1)·2 + 7 - 224 = 5
    (16, 3, 2, 1): (0, 1),  # 7·2 + 3 - 16 = 1: the extra pixel goes right / bottom
    (15, 3, 2, 1): (1, 1),  # 7·2 + 3 - 15 = 2
    (7, 4, 1, 1): (1, 2),  # 6 + 4 - 7 = 3
    (10, 3, 1, 2): (2, 2),  # 9 + 2·2 + 1 - 10 = 4
    (5, 1, 3, 1): (0, 0),  # 1·3 + 1 - 5 = -1 -> 0
}


def _numpy_conv(x: np.ndarray, w: np.ndarray, stride: int, dilation: int) -> np.ndarray:
    """Unpadded cross-correlation: out[o, i, j] = Σ w[o, c, u, v] x[c, i·s + u·d, j·s + v·d]."""
    _, h, wd = x.shape
    k = w.shape[-1]
    span = (k - 1) * dilation + 1
    rows, cols = (h - span) // stride + 1, (wd - span) // stride + 1
    out = np.zeros((w.shape[0], rows, cols))
    for i in range(rows):
        for j in range(cols):
            patch = x[
                :,
                i * stride : i * stride + span : dilation,
                j * stride : j * stride + span : dilation,
            ]
            out[:, i, j] = np.einsum("chw,ochw->o", patch, w)
    return out


@pytest.mark.spec_row("optim.model_utils.Conv2dSame")
@pytest.mark.parametrize(("case", "pads"), list(SAME_PADDING.items()), ids=str)
def test_conv2d_same_pads_like_tensorflow(case, pads):
    size, kernel, stride, dilation = case
    torch.manual_seed(0)
    conv = Conv2dSame(2, 3, kernel, stride=stride, dilation=dilation, bias=False).double()
    x = torch.rand(2, size, size, dtype=torch.float64)  # CHW
    before, after = pads
    padded = np.pad(x.numpy(), ((0, 0), (before, after), (before, after)))
    expected = _numpy_conv(padded, conv.weight.detach().numpy(), stride, dilation)
    got = conv(x).detach().numpy()
    assert got.shape[-2:] == (-(-size // stride),) * 2  # ceil(i / s)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.spec_row("optim.model_utils.Conv2dSame")
def test_conv2d_same_ignores_padding():
    # Row: "padding is ignored (always 0)". deliberate (README "Model utilities"): a non-zero
    # padding also warns, since TF "SAME" ignores it.
    torch.manual_seed(0)
    plain = Conv2dSame(1, 1, 3, stride=2)
    with pytest.warns(UserWarning, match="ignores padding=2"):
        padded = Conv2dSame(1, 1, 3, stride=2, padding=2)
    assert plain.padding == padded.padding == (0, 0)
    padded.load_state_dict(plain.state_dict())
    x = torch.rand(1, 1, 9, 9)
    torch.testing.assert_close(padded(x), plain(x), rtol=0, atol=0)
    assert isinstance(plain, nn.Conv2d)


# ---- MaxPool2dRelaxed --------------------------------------------------------------------------
def _windows(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> list[range]:
    """The input index ranges of each output position along one axis, clipped to the padded
    input (torch's rule: with ceil_mode, a last window must start inside the input or its
    left padding)."""
    span = size + 2 * padding - kernel
    count = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (count - 1) * stride >= size + padding:
        count -= 1
    return [
        range(o * stride - padding, min(o * stride - padding + kernel, size + padding))
        for o in range(count)
    ]


# (kernel, stride, padding, ceil_mode) on a 5x5 input
RELAXED_CASES = [(2, None, 0, False), (3, 1, 0, False), (3, 2, 1, False), (2, 2, 0, True)]


@pytest.mark.spec_row("optim.model_utils.MaxPool2dRelaxed")
@pytest.mark.parametrize(("kernel", "stride", "padding", "ceil_mode"), RELAXED_CASES)
def test_maxpool_relaxed_forward_is_max_gradient_is_average(kernel, stride, padding, ceil_mode):
    x_np = np.random.default_rng(0).permutation(25).reshape(5, 5).astype(np.float64)
    x = torch.tensor(x_np).view(1, 1, 5, 5).requires_grad_()
    out = MaxPool2dRelaxed(kernel, stride, padding, ceil_mode)(x)
    wins = _windows(5, kernel, stride or kernel, padding, ceil_mode)
    inside = [[i for i in w if 0 <= i < 5] for w in wins]
    expected = [[x_np[np.ix_(r, c)].max() for c in inside] for r in inside]
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], expected)
    # d(sum of outputs)/dx: each window adds 1 / (its size within the padded input) to every
    # pixel it covers, as average pooling's gradient does (1 / k² for whole windows)
    out.sum().backward()
    expected_grad = np.zeros((5, 5))
    for r, r_in in zip(wins, inside, strict=True):
        for c, c_in in zip(wins, inside, strict=True):
            expected_grad[np.ix_(r_in, c_in)] += 1 / (len(r) * len(c))
    np.testing.assert_allclose(x.grad.numpy()[0, 0], expected_grad, rtol=1e-15)


# ---- collect_activations -----------------------------------------------------------------------
@pytest.mark.spec_row("optim.hooks.collect_activations")
def test_collect_activations_deduplicates_targets_and_defaults_to_a_224_zero_image():
    conv = nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]]).view(2, 3, 1, 1))
    seen: list[torch.Tensor] = []
    conv.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model = nn.Sequential(conv, nn.ReLU())
    x = torch.rand(1, 3, 4, 4, dtype=torch.float32)
    acts = collect_activations(model, [conv, model[1], conv], x)
    assert list(acts) == [conv, model[1]] and len(seen) == 1  # one pass, one entry per target
    w = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]])
    expected = np.einsum("oc,nchw->nohw", w, x.numpy().astype(np.float64))
    # float32: three products of |w| <= 3 with x in [0, 1], partial sums <= 6, each op rounding
    # by at most eps/2 of its result: 3 roundings x 6 x eps bounds the error
    tol = 3 * 6 * np.finfo(np.float32).eps
    np.testing.assert_allclose(acts[conv].detach().numpy(), expected, rtol=0, atol=tol)
    np.testing.assert_allclose(acts[model[1]].detach().numpy(), np.maximum(expected, 0), atol=tol)

    seen.clear()
    collect_activations(model, conv)  # a single module; model_input defaults to zeros(1,3,224,224)
    assert seen[0].shape == (1, 3, 224, 224) and not seen[0].any()


def test_every_spec_row_has_a_conformance_test(spec_row_report):
    untested, unresolvable = spec_row_report
    assert untested == [], f"SPEC rows without a conformance test: {untested}"
    assert unresolvable == [], f"SPEC rows that do not import: {unresolvable}"
