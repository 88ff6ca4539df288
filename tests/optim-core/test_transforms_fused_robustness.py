"""FusedTransformationRobustness against independent oracles (numpy, the eager transforms).

Conventions checked here: translations are ``(x, y)`` = (right, down) in pixels; positive
degrees turn the content counter-clockwise on screen (``np.rot90`` with k=1 for 90 degrees,
the same sense as ``RandomRotation``); a scale of 2 shows the content twice as large (like
``RandomScale``, the inverse of ``RandomScaleAffine``'s factor).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optim.transforms import (
    FusedTransformationRobustness,
    RandomRotation,
    RandomScale,
    RandomScaleAffine,
    TransformationRobustness,
)
from optim.transforms.fused_transformation_robustness import AffineParameters
from optim.transforms.transformation_robustness import (
    DEFAULT_DEGREES,
    DEFAULT_SCALE,
    DEFAULT_TRANSLATE,
)


def _params(batch=1, translate=(0, 0), scale=1.0, degrees=0.0, final=(0, 0), dtype=None):
    dtype = dtype or torch.float64
    return AffineParameters(
        torch.tensor([translate] * batch, dtype=dtype),
        torch.full([batch], scale, dtype=dtype),
        torch.full([batch], degrees, dtype=dtype),
        torch.tensor([final] * batch, dtype=dtype),
    )


def _fused(**kwargs) -> FusedTransformationRobustness:
    return FusedTransformationRobustness(**kwargs)


def _reference(x, translate, scale, degrees, final, out_size, fill):
    """numpy: every output pixel samples the input (bilinear, ``fill`` outside) at
    ``R (v - final) / scale - translate`` in pixel coordinates about the centres, with
    ``R = [[cos, -sin], [sin, cos]]`` (x right, y down)."""
    height, width = x.shape
    out_h, out_w = out_size
    rows, cols = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    vx = cols - (out_w - 1) / 2 - final[0]
    vy = rows - (out_h - 1) / 2 - final[1]
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    px = (c * vx - s * vy) / scale - translate[0] + (width - 1) / 2
    py = (s * vx + c * vy) / scale - translate[1] + (height - 1) / 2
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    wx, wy = px - x0, py - y0

    def at(r, q):
        inside = (r >= 0) & (r < height) & (q >= 0) & (q < width)
        return np.where(inside, x[np.clip(r, 0, height - 1), np.clip(q, 0, width - 1)], fill)

    return (
        at(y0, x0) * (1 - wy) * (1 - wx)
        + at(y0, x0 + 1) * (1 - wy) * wx
        + at(y0 + 1, x0) * wy * (1 - wx)
        + at(y0 + 1, x0 + 1) * wy * wx
    )


# --- identity, translation, rotation, scale against oracles ---------------------------------


@pytest.mark.parametrize(("height", "width", "padding"), [(6, 6, 2), (5, 9, 3), (8, 3, 0)])
def test_identity_parameters_are_constant_padding(height, width, padding):
    x = torch.rand(2, 3, height, width, dtype=torch.float64)
    fused = _fused(padding=padding, fill=0.25)
    out = fused.warp(x, _params(2))
    torch.testing.assert_close(out, nn.ConstantPad2d(padding, 0.25)(x), rtol=0, atol=1e-6)
    cropped = _fused(padding=padding, crop_or_pad_output=True).warp(x, _params(2))
    torch.testing.assert_close(cropped, x, rtol=0, atol=1e-6)


def _shifted(x: np.ndarray, dx: int, dy: int, padding: int, fill: float) -> np.ndarray:
    """numpy: ``x`` on a ``fill`` canvas padded by ``padding``, moved right by dx and down by dy."""
    height, width = x.shape
    out = np.full((height + 2 * padding, width + 2 * padding), fill)
    for row in range(height):
        for col in range(width):
            r, c = row + padding + dy, col + padding + dx
            if 0 <= r < out.shape[0] and 0 <= c < out.shape[1]:
                out[r, c] = x[row, col]
    return out


@pytest.mark.parametrize(
    ("translate", "final"),
    [((1, 0), (0, 0)), ((0, -2), (0, 0)), ((3, -1), (-2, 4)), ((0, 0), (5, 1))],
)
def test_integer_translations_shift_the_image(translate, final):
    x = torch.rand(1, 1, 5, 8, dtype=torch.float64)
    fused = _fused(padding=2, fill=0.5)
    out = fused.warp(x, _params(translate=translate, final=final))
    dx, dy = translate[0] + final[0], translate[1] + final[1]
    expected = _shifted(x[0, 0].numpy(), dx, dy, 2, 0.5)
    np.testing.assert_allclose(out[0, 0].numpy(), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("degrees", "k"), [(90, 1), (180, 2), (-90, -1), (270, 3)])
@pytest.mark.parametrize("size", [6, 7])
def test_right_angles_match_rot90_counter_clockwise(degrees, k, size):
    x = torch.rand(1, 2, size, size, dtype=torch.float64)
    fused = _fused(padding=1, fill=0.5)
    out = fused.warp(x, _params(degrees=float(degrees)))
    expected = np.rot90(F.pad(x, [1] * 4, value=0.5).numpy(), k=k, axes=(-2, -1))
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-6)
    # RandomRotation turns the same way (on square images).
    eager = RandomRotation([0]).rotate_tensor(x, float(degrees))
    np.testing.assert_allclose(eager.numpy(), np.rot90(x.numpy(), k=k, axes=(-2, -1)), atol=1e-6)


@pytest.mark.parametrize("width", [12, 20])  # the eager rotation is rigid on any shape
def test_rotation_matches_random_rotation(width):
    x = torch.rand(2, 3, 12, width, dtype=torch.float64)
    eager = RandomRotation([0]).rotate_tensor(x, 30.0)
    # With fill 0 both fill the outside with zeros: equal everywhere.
    zero_fill = _fused(padding=0, fill=0.0).warp(x, _params(2, degrees=30.0))
    torch.testing.assert_close(zero_fill, eager, rtol=0, atol=1e-6)
    # With fill 0.5 the interior (samples whose four neighbours are inside) is unchanged.
    out = _fused(padding=0, fill=0.5).warp(x, _params(2, degrees=30.0))
    rows, columns = slice(4, 8), slice(width // 2 - 2, width // 2 + 2)
    torch.testing.assert_close(
        out[..., rows, columns], eager[..., rows, columns], atol=1e-6, rtol=0
    )
    assert not torch.allclose(out[..., 0, 0], eager[..., 0, 0])  # a corner: fill vs zeros


def test_rotation_of_non_square_image_is_rigid():
    """90 degrees turns a 4x8 image into 8x4 content, centred on the 8x12 padded canvas."""
    x = torch.rand(1, 1, 4, 8, dtype=torch.float64)
    out = _fused(padding=2, fill=0.5).warp(x, _params(degrees=90.0))
    expected = np.full((8, 12), 0.5)
    expected[:, 2:10][:, 2:6] = np.rot90(x[0, 0].numpy())
    np.testing.assert_allclose(out[0, 0].numpy(), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("scale", [2.0, 0.5, 1.37])
@pytest.mark.parametrize(("height", "width"), [(8, 8), (6, 10)])
def test_scale_matches_random_scale_affine_with_inverse_factor(scale, height, width):
    x = torch.rand(2, 3, height, width, dtype=torch.float64)
    out = _fused(padding=2, fill=0.5).warp(x, _params(2, scale=scale))
    padded = F.pad(x, [2] * 4, value=0.5)
    expected = RandomScaleAffine([1.0]).scale_tensor(padded - 0.5, 1.0 / scale) + 0.5
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_scale_two_is_the_centre_of_random_scale():
    """RandomScale(2) doubles the size; the fused zoom keeps the centre of it."""
    x = torch.rand(1, 3, 8, 10, dtype=torch.float64)
    out = _fused(crop_or_pad_output=True).warp(x, _params(scale=2.0))
    resized = RandomScale([1.0]).scale_tensor(x, 2.0)
    torch.testing.assert_close(out, resized[..., 4:12, 5:15], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("translate", "scale", "degrees", "final"),
    [((0, 0), 2.0, 0.0, (0, 0)), ((0, 0), 0.5, 0.0, (0, 0)), ((2, -3), 1.3, 17.0, (1, 2)),
     ((-1, 4), 0.8, -33.0, (-2, 0))],
)  # fmt: skip
@pytest.mark.parametrize(
    ("height", "width", "crop"), [(9, 9, False), (6, 11, False), (11, 5, True)]
)
def test_composed_warp_matches_numpy_reference(
    translate, scale, degrees, final, height, width, crop
):
    x = torch.rand(1, 1, height, width, dtype=torch.float64)
    fused = _fused(padding=2, fill=0.5, crop_or_pad_output=crop)
    out = fused.warp(x, _params(translate=translate, scale=scale, degrees=degrees, final=final))
    out_size = fused.output_size(height, width)
    assert list(out.shape[-2:]) == out_size
    expected = _reference(x[0, 0].numpy(), translate, scale, degrees, final, out_size, 0.5)
    np.testing.assert_allclose(out[0, 0].numpy(), expected, rtol=0, atol=1e-6)


def test_module_apply_reaches_the_fused_transform():
    # nn.Module.apply(fn) visits every submodule; a method named apply(x, params) broke it.
    model = nn.Sequential(_fused(), nn.Identity())
    seen = []
    assert model.apply(seen.append) is model
    assert [type(m).__name__ for m in seen] == [
        "FusedTransformationRobustness",
        "Identity",
        "Sequential",
    ]


def test_each_image_gets_its_own_parameters_in_warp():
    x = torch.rand(1, 1, 7, 9, dtype=torch.float64).expand(3, 1, 7, 9)
    params = AffineParameters(
        torch.tensor([[1.0, 0.0], [0.0, 0.0], [-2.0, 1.0]], dtype=torch.float64),
        torch.tensor([1.0, 1.5, 0.75], dtype=torch.float64),
        torch.tensor([0.0, 20.0, -45.0], dtype=torch.float64),
        torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]], dtype=torch.float64),
    )
    fused = _fused(padding=1, fill=0.5)
    out = fused.warp(x, params)
    for i in range(3):
        single = AffineParameters(*(p[i : i + 1] for p in params))
        torch.testing.assert_close(out[i : i + 1], fused.warp(x[i : i + 1], single))
        expected = _reference(
            x[i, 0].numpy(), params.translate[i].tolist(), params.scale[i].item(),
            params.degrees[i].item(), params.final_translate[i].tolist(), [9, 11], 0.5,
        )  # fmt: skip
        np.testing.assert_allclose(out[i, 0].numpy(), expected, atol=1e-6)


# --- random parameters -----------------------------------------------------------------------


def test_per_sample_draws_differ_and_batch_draws_are_shared():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 16, 16).expand(8, 3, 16, 16)
    params = _fused().sample_parameters(8)
    assert len(set(params.degrees.tolist())) > 1 and len(set(params.scale.tolist())) > 1
    out = _fused()(x)
    assert not torch.allclose(out[0], out[1])
    shared = _fused(per_sample=False)
    params = shared.sample_parameters(8)
    for p in params:
        assert torch.equal(p, p[:1].expand_as(p))
    out = shared(x)
    assert all(torch.equal(out[0], out[i]) for i in range(8))


def test_sampled_values_come_from_the_lists_and_ranges():
    torch.manual_seed(1)
    fused = _fused(translate=[4, 4, 2, 1], scale=[0.5, 2.0, 3.0], degrees=[-7.0, 11.0])
    params = fused.sample_parameters(4000, dtype=torch.float64)
    assert set(params.scale.tolist()) == {0.5, 2.0, 3.0}
    assert set(params.degrees.tolist()) == {-7.0, 11.0}
    for pair, bound in ((params.translate, 11), (params.final_translate, 2)):
        assert torch.equal(pair, pair.round())
        assert pair.abs().max().item() == bound  # reached, never exceeded, over 4000 draws
    assert set(params.final_translate.flatten().tolist()) == {-2.0, -1.0, 0.0, 1.0, 2.0}


def test_default_draws_have_the_eager_statistics():
    torch.manual_seed(2)
    n = 20000
    params = _fused().sample_parameters(n, dtype=torch.float64)
    # Ten independent uniform integers in [-4, 4]: mean 0, variance 10 * (9**2 - 1) / 12.
    translate = params.translate
    assert translate.mean().abs().item() < 0.2
    assert translate.var().item() == pytest.approx(10 * 80 / 12, rel=0.05)
    final = params.final_translate
    counts = torch.stack([(final == v).double().mean() for v in range(-2, 3)])
    torch.testing.assert_close(counts, torch.full([5], 0.2, dtype=torch.float64), atol=0.02, rtol=0)
    # Scale and angle are picked uniformly from the lists (duplicates count twice).
    assert params.scale.mean().item() == pytest.approx(np.mean(DEFAULT_SCALE), abs=0.005)
    zero_share = (params.degrees == 0).double().mean().item()
    assert zero_share == pytest.approx(DEFAULT_DEGREES.count(0) / len(DEFAULT_DEGREES), abs=0.01)
    assert params.degrees.mean().item() == pytest.approx(np.mean(DEFAULT_DEGREES), abs=0.3)


def test_same_seed_gives_bitwise_equal_outputs():
    x = torch.rand(3, 3, 20, 24)

    def run(seed):
        torch.manual_seed(seed)
        fused = _fused()
        return torch.cat([fused(x).flatten() for _ in range(3)])

    assert torch.equal(run(5), run(5))
    assert not torch.equal(run(5), run(6))

    def run_generator(seed):
        fused = _fused(generator=torch.Generator().manual_seed(seed))
        return torch.cat([fused(x).flatten() for _ in range(3)])

    assert torch.equal(run_generator(5), run_generator(5))
    assert not torch.equal(run_generator(5), run_generator(6))


def test_skipped_stages_draw_neutral_parameters():
    fused = _fused(translate=None, scale=None, degrees=None, final_translate=None)
    params = fused.sample_parameters(5)
    assert not params.translate.any() and not params.final_translate.any()
    assert torch.equal(params.scale, torch.ones(5)) and not params.degrees.any()
    # float64: the identity warp samples at coordinates computed in the input's dtype; in
    # float32 a coordinate off by ~n eps px moves a value by that much of the next pixel's
    # difference, ~1e-6 on a 10 px canvas, so the bound would be the size of the tolerance.
    x = torch.rand(5, 3, 6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(fused(x), F.pad(x, [2] * 4, value=0.5), rtol=0, atol=1e-6)
    assert fused.scale is None and fused.degrees is None and fused.translate == ()


# --- shapes, dtypes, gradients, no syncs ------------------------------------------------------


def test_output_shape_is_static():
    fused = _fused()
    x = torch.rand(2, 3, 21, 30)
    assert {tuple(fused(x).shape) for _ in range(20)} == {(2, 3, 25, 34)}
    cropped = _fused(crop_or_pad_output=True)
    assert {tuple(cropped(x).shape) for _ in range(20)} == {(2, 3, 21, 30)}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_keeps_input_dtype_and_exact_value_lists(dtype):
    fused = _fused().to(dtype)
    assert fused.scale_values.dtype == torch.float64 and fused.degree_values.dtype == torch.float64
    assert fused.scale_values.tolist() == list(DEFAULT_SCALE)
    out = fused(torch.rand(1, 3, 16, 16).to(dtype))
    assert out.dtype == dtype and out.shape == (1, 3, 20, 20)


def test_value_lists_are_non_persistent_buffers():
    fused = _fused()
    assert {name for name, _ in fused.named_buffers()} == {"scale_values", "degree_values"}
    assert fused.state_dict() == {}


def test_gradient_flows_to_the_input():
    x = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    fused = _fused(padding=1, fill=0.5)
    params = _params(translate=(0.3, -0.6), scale=1.2, degrees=13.0, final=(1, 0))
    assert torch.autograd.gradcheck(lambda image: fused.warp(image, params), (x,))
    _fused(translate=1, final_translate=1)(x).sum().backward()  # small shifts keep it in view
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_forward_makes_no_host_sync_or_new_host_tensor(monkeypatch):
    fused = _fused(generator=torch.Generator().manual_seed(0))
    x = torch.rand(2, 3, 16, 16, requires_grad=True)

    def refuse(*args, **kwargs):
        raise AssertionError("host synchronisation or host tensor in forward")

    with monkeypatch.context() as patch:
        for name in ("item", "__bool__", "tolist", "__int__", "__float__", "__index__", "numpy"):
            patch.setattr(torch.Tensor, name, refuse)
        patch.setattr(torch, "tensor", refuse)
        patch.setattr(torch, "as_tensor", refuse)
        out = fused(x)
        out.sum().backward()
    assert out.shape == (2, 3, 20, 20) and x.grad is not None


def test_torch_compile_fullgraph():
    """No graph breaks: nothing in forward reads a value back to Python."""
    torch._dynamo.reset()
    fused = _fused()
    compiled = torch.compile(fused, backend="eager", fullgraph=True)
    x = torch.rand(2, 3, 12, 12)
    torch.manual_seed(3)
    out = compiled(x)
    torch.manual_seed(3)
    torch.testing.assert_close(out, fused(x))


@pytest.mark.parametrize(
    ("kwargs", "batch"), [({}, 2), ({"per_sample": False, "resize_canvas": True}, 1)]
)
def test_scripted_matches_eager(kwargs, batch):
    def make():
        return _fused(generator=torch.Generator().manual_seed(0), **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated in 2.x
        scripted = torch.jit.script(make())
    eager = make()
    x = torch.rand(batch, 3, 12, 14)
    for _ in range(3):
        torch.testing.assert_close(scripted(x), eager(x), rtol=0, atol=0)


# --- construction, from_stack, validation -----------------------------------------------------


def test_defaults_mirror_transformation_robustness():
    fused = _fused()
    assert (fused.padding, fused.fill) == (2, 0.5)
    assert fused.translate == DEFAULT_TRANSLATE and fused.final_translate == 2
    assert fused.scale == list(DEFAULT_SCALE) and fused.degrees == [
        float(d) for d in DEFAULT_DEGREES
    ]
    assert (fused.crop_or_pad_output, fused.per_sample) == (False, True)
    assert "translate=[4, 4" in repr(fused) and "125 values" in repr(fused)


def _config(fused):
    return (
        fused.padding, fused.fill, fused.translate, fused.scale, fused.degrees,
        fused.final_translate, fused.crop_or_pad_output, fused.per_sample,
    )  # fmt: skip


def test_from_stack_round_trips():
    assert _config(FusedTransformationRobustness.from_stack(TransformationRobustness())) == (
        _config(_fused())
    )
    stack = TransformationRobustness(
        nn.ConstantPad2d(3, 0.2), translate=5, scale=[0.9, 1.1], degrees=None,
        final_translate=None, crop_or_pad_output=True,
    )  # fmt: skip
    fused = FusedTransformationRobustness.from_stack(stack, per_sample=False)
    assert _config(fused) == (3, 0.2, (5,), [0.9, 1.1], None, None, True, False)
    bare = FusedTransformationRobustness.from_stack(TransformationRobustness(None, None, None))
    assert (bare.padding, bare.fill, bare.translate, bare.scale) == (0, 0.0, (), None)
    generator = torch.Generator()
    assert FusedTransformationRobustness.from_stack(stack, generator=generator).generator is (
        generator
    )


class _CustomForward(TransformationRobustness):
    def forward(self, x):
        return x


@pytest.mark.parametrize(
    ("stack", "match"),
    [
        (TransformationRobustness(scale=torch.distributions.Uniform(0.9, 1.1)), "distribution"),
        (TransformationRobustness(degrees=torch.distributions.Normal(0.0, 5.0)), "distribution"),
        (TransformationRobustness(padding_transform=nn.ReflectionPad2d(2)), "ReflectionPad2d"),
        (TransformationRobustness(padding_transform=nn.ConstantPad2d((1, 2, 1, 2), 0.5)), "sides"),
        (_CustomForward(), "overrides forward"),
    ],
)
def test_from_stack_rejects_what_one_warp_cannot_express(stack, match):
    with pytest.raises(ValueError, match=match):
        FusedTransformationRobustness.from_stack(stack)


@pytest.mark.parametrize(
    ("attribute", "stage", "match"),
    [
        ("random_scale", RandomScale([1.0], mode="nearest"), "mode='nearest'"),
        ("random_scale", RandomScale([1.0], antialias=True), "antialias=True"),
        ("random_rotation", RandomRotation([0], padding_mode="border"), "'border'"),
        ("random_rotation", RandomScaleAffine([1.0]), "not RandomRotation"),
        ("jitter_transforms", nn.Identity(), "not RandomSpatialJitter"),
    ],
)
def test_from_stack_rejects_other_stages(attribute, stage, match):
    stack = TransformationRobustness()
    setattr(stack, attribute, stage)
    with pytest.raises(ValueError, match=match):
        FusedTransformationRobustness.from_stack(stack)
    with pytest.raises(TypeError, match="expects a TransformationRobustness"):
        FusedTransformationRobustness.from_stack(nn.Identity())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": torch.distributions.Uniform(0.9, 1.1)}, "Use TransformationRobustness"),
        ({"degrees": torch.distributions.Normal(0.0, 1.0)}, "Use TransformationRobustness"),
        ({"padding": -1}, "padding must be a non-negative int"),
        ({"padding": 1.5}, "padding must be a non-negative int"),
        ({"fill": float("nan")}, "fill must be a finite number"),
        ({"translate": [4, -1]}, "translate entries must be a non-negative int"),
        ({"translate": 2.5}, "translate must be an int"),
        ({"scale": []}, "at least one value"),
        ({"scale": [1.0, 0.0]}, "must be positive"),
        ({"scale": torch.ones(2, 2)}, "1-D tensor"),
        ({"degrees": ["a"]}, "sequence of numbers"),
        ({"degrees": [float("inf")]}, "finite"),
        ({"final_translate": -2}, "final_translate must be a non-negative int"),
        ({"per_sample": 1}, "per_sample must be True or False"),
        ({"generator": 0}, "generator must be a torch.Generator"),
    ],
)
def test_constructor_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FusedTransformationRobustness(**kwargs)


def test_tensor_value_lists_are_accepted():
    fused = _fused(scale=torch.tensor([0.5, 2.0]), degrees=torch.tensor([3.0]))
    assert fused.scale == [0.5, 2.0] and fused.degrees == [3.0]


def test_call_validation():
    fused = _fused()
    with pytest.raises(ValueError, match="4-D"):
        fused(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="floating-point"):
        fused(torch.ones(1, 3, 8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"sample_parameters\(B"):
        fused.warp(torch.rand(3, 3, 8, 8), fused.sample_parameters(2))
    with pytest.raises(ValueError, match="batch must be >= 1"):
        fused.sample_parameters(0)
    with pytest.raises(ValueError, match=r"move the module first with \.to\('meta'\)"):
        fused.sample_parameters(2, torch.device("meta"))
    on_meta = _fused(generator=torch.Generator()).to("meta")
    with pytest.raises(ValueError, match="generator is on cpu"):
        on_meta.sample_parameters(2, torch.device("meta"))


# --- CUDA graphs ------------------------------------------------------------------------------


@pytest.mark.gpu
def test_cuda_graph_replays_draw_fresh_parameters():
    """Capture draw -> warp -> loss -> backward once; every replay draws new parameters."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    torch.manual_seed(0)
    device = torch.device("cuda")
    fused = _fused().to(device)
    image = torch.rand(4, 3, 32, 32, device=device, requires_grad=True)

    def step():
        params = fused.sample_parameters(4, device, torch.float32)
        out = fused.warp(image, params)
        grad = torch.autograd.grad(out.square().mean(), image)[0]
        return params, out, grad

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    torch.cuda.set_sync_debug_mode("error")  # a host sync in the eager warm-up raises
    try:
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # a sync during capture would fail the capture
        static_params, static_out, static_grad = step()

    outputs, replays = [], []
    for _ in range(300):
        graph.replay()
        replays.append(AffineParameters(*(p.clone() for p in static_params)))
        if len(outputs) < 2:
            outputs.append((static_out.clone(), static_grad.clone()))
    (first_out, first_grad), (second_out, second_grad) = outputs
    assert not torch.equal(first_out, second_out) and not torch.equal(first_grad, second_grad)
    assert static_out.shape == (4, 3, 36, 36)
    # The replayed output is the eager warp of the replayed parameters.
    torch.testing.assert_close(static_out, fused.warp(image, replays[-1]).detach())

    def stats(draws):
        translate = torch.cat([d.translate for d in draws])
        scale = torch.cat([d.scale for d in draws])
        degrees = torch.cat([d.degrees for d in draws])
        return (
            translate.mean().item(),
            translate.var().item(),
            scale.mean().item(),
            degrees.mean().item(),
        )

    eager = [fused.sample_parameters(4, device, torch.float32) for _ in range(300)]
    graph_stats, eager_stats = stats(replays), stats(eager)
    scale_set = set(torch.tensor(DEFAULT_SCALE, dtype=torch.float32).tolist())
    assert set(torch.cat([d.scale for d in replays]).tolist()) <= scale_set
    assert set(torch.cat([d.degrees for d in replays]).tolist()) <= set(map(float, DEFAULT_DEGREES))
    assert abs(graph_stats[0]) < 0.7 and abs(eager_stats[0]) < 0.7
    assert graph_stats[1] == pytest.approx(eager_stats[1], rel=0.15)
    assert graph_stats[1] == pytest.approx(10 * 80 / 12, rel=0.15)
    assert graph_stats[2] == pytest.approx(eager_stats[2], abs=0.02)
    assert graph_stats[3] == pytest.approx(eager_stats[3], abs=2.0)


# --- resize_canvas: the eager stack's geometry, for eager (CPU) steps ---------------------------


def test_resize_canvas_zoom_is_the_eager_random_scale():
    """A zoom-only fused warp on a resized canvas samples where F.interpolate does."""
    from optim.transforms import RandomScale

    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    fused = FusedTransformationRobustness(
        padding=2, fill=0.0, translate=None, scale=[0.75], degrees=None, final_translate=None,
        per_sample=False, resize_canvas=True,
    )  # fmt: skip
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    eager = RandomScale([0.75])(padded)  # 20 px * 0.75 = 15 px exactly
    out = fused(x)
    assert out.shape == eager.shape == (2, 3, 15, 15)
    # the same bilinear weights, computed two ways: float64 rounding of 4-term sums
    torch.testing.assert_close(out, eager, rtol=1e-12, atol=1e-12)


def test_resize_canvas_sizes_the_output_like_the_eager_stack():
    fused = FusedTransformationRobustness(per_sample=False, resize_canvas=True)
    sizes = set()
    torch.manual_seed(0)
    for _ in range(20):
        params = fused.sample_parameters(1)
        zoom = float(params.scale[0])
        out = fused.warp(torch.rand(1, 3, 64, 64), params)
        assert out.shape[-2:] == (int(68 * zoom), int(68 * zoom))  # floor, as F.interpolate
        sizes.add(out.shape[-1])
    assert len(sizes) > 3  # the canvas follows the zoom
    with pytest.raises(ValueError, match="resize_canvas=True needs per_sample=False"):
        FusedTransformationRobustness(resize_canvas=True)


def _eager_stages(x, padding, fill, jitters, scale, degrees, final):
    """The eager stack's own stages, each called with the given draw: ``jitters`` are the
    (x, y) shifts of successive RandomSpatialJitter(t) as (t, (sx, sy)) pairs."""
    from optim.transforms import RandomSpatialJitter

    out = nn.ConstantPad2d(padding, fill)(x)
    for size, (sx, sy) in jitters:  # an inset of `size` is no shift; smaller moves right/down
        out = RandomSpatialJitter(size).translate_tensor(out, [size - sx, size - sy])
    out = RandomScale([scale]).scale_tensor(out, scale)
    out = RandomRotation([degrees]).rotate_tensor(out, degrees)
    size, (fx, fy) = final
    return RandomSpatialJitter(size).translate_tensor(out, [size - fx, size - fy])


@pytest.mark.parametrize(
    ("jitters", "scale", "degrees", "final"),
    [
        ([(3, (1, -1)), (3, (2, -2))], 0.8, 7.0, (2, (1, -2))),
        ([(4, (-4, 3))], 1.025, -20.0, (2, (-2, 0))),
        ([(4, (0, 0))], 1.0, 0.0, (2, (0, 0))),
    ],
)
def test_resize_canvas_resamples_like_the_eager_stack(jitters, scale, degrees, final):
    """Shift, zoom, rotation and final jitter with the eager stages' own draws: the same pixels
    wherever the eager jitters' reflected edges are not seen (they reflect, the fused shift
    fills). float64: both sides are the same bilinear sums up to rounding of the grid."""
    x = torch.rand(1, 3, 40, 40, dtype=torch.float64)
    shift = [sum(s[0] for _, s in jitters), sum(s[1] for _, s in jitters)]
    fused = FusedTransformationRobustness(
        padding=2, fill=0.5, translate=[t for t, _ in jitters], scale=[scale],
        degrees=[degrees], final_translate=final[0], per_sample=False, resize_canvas=True,
    )  # fmt: skip
    params = _params(1, shift, scale, degrees, final[1])
    out = fused.warp(x, params)
    eager = _eager_stages(x, 2, 0.5, jitters, scale, degrees, final)
    assert out.shape == eager.shape == (1, 3, int(44 * scale), int(44 * scale))
    inner = slice(12, -12)  # clear of the reflected strips (<= 4 px a side) once rotated
    torch.testing.assert_close(out[..., inner, inner], eager[..., inner, inner], rtol=0, atol=1e-12)


def test_resize_canvas_rotation_corners_are_zero_like_random_rotation():
    fused = FusedTransformationRobustness(
        padding=0, fill=0.5, translate=None, scale=None, degrees=[45.0], final_translate=None,
        per_sample=False, resize_canvas=True,
    )  # fmt: skip
    out = fused(torch.ones(1, 1, 21, 21))
    assert out[0, 0, 0, 0] == 0 and out[0, 0, 10, 10] == pytest.approx(1.0)


def test_resize_canvas_shift_off_the_canvas_gives_the_fill():
    fused = FusedTransformationRobustness(per_sample=False, resize_canvas=True, fill=0.25)
    params = _params(1, (50, -70), 1.0, 0.0, (0, 0))
    out = fused.warp(torch.rand(1, 3, 8, 8, dtype=torch.float64), params)
    assert out.shape == (1, 3, 12, 12)
    torch.testing.assert_close(out, torch.full_like(out, 0.25), rtol=0, atol=1e-15)


def test_resize_canvas_crop_or_pad_output_keeps_the_input_size():
    fused = FusedTransformationRobustness(
        per_sample=False, resize_canvas=True, crop_or_pad_output=True
    )
    for zoom in (0.7, 1.025):
        params = _params(2, (3, -2), zoom, 10.0, (1, 1))
        assert fused.warp(torch.rand(2, 3, 30, 34), params).shape == (2, 3, 30, 34)


def test_resize_canvas_needs_whole_pixel_shifts():
    fused = FusedTransformationRobustness(per_sample=False, resize_canvas=True)
    with pytest.raises(ValueError, match="whole pixels"):
        fused.warp(torch.rand(1, 3, 16, 16), _params(1, (0.5, 0), 1.0, 0.0, (0, 0)))


def test_resize_canvas_needs_one_shift_and_zoom_per_batch():
    fused = FusedTransformationRobustness(per_sample=False, resize_canvas=True)
    params = _params(2, (1, 1), 1.0, 0.0, (0, 0))
    params.scale[1] = 0.9
    with pytest.raises(ValueError, match="one shift and one zoom"):
        fused.warp(torch.rand(2, 3, 16, 16), params)


def test_resize_canvas_gradient_reaches_input_angle_and_final_jitter():
    fused = FusedTransformationRobustness(per_sample=False, resize_canvas=True)
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    params = _params(1, (2, 1), 0.9, 5.0, (1, -1))
    params.degrees.requires_grad_(True)
    params.final_translate.requires_grad_(True)
    fused.warp(x, params).square().sum().backward()
    for grad in (x.grad, params.degrees.grad, params.final_translate.grad):
        assert grad is not None and grad.abs().sum() > 0
