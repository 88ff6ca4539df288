"""SPEC rows checked against their formulas.

Direction and weight objectives (§3): a single weight or vector entry broadcasts over every
channel, as the rows' formulas (``a · w.view(1, -1, 1, 1)``) do in torch. GaussianSmoothing
(§4): the dim check raises the row's RuntimeError.

Oracles: the formulas written out in numpy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import optim as opt

LAYER = nn.Identity()
ACTS = torch.randn(2, 5, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
A = ACTS.numpy()


def _value(loss) -> np.ndarray:
    return loss({LAYER: ACTS}).numpy()


def test_activation_weights_single_weight():  # row: channel mode a · w.view(1, -1, 1, 1)
    got = _value(opt.loss.ActivationWeights(LAYER, torch.tensor([2.5], dtype=torch.float64)))
    np.testing.assert_array_equal(got, A * 2.5)


def test_activation_weights_single_weight_neuron_mode():  # row: a[..., y, x] · w
    loss = opt.loss.ActivationWeights(LAYER, torch.tensor([3.0], dtype=torch.float64), x=1, y=2)
    np.testing.assert_array_equal(_value(loss), A[:, :, 2, 1] * 3.0)


def test_direction_single_entry():  # row: sum over channels of vec · a
    got = _value(opt.loss.Direction(LAYER, torch.tensor([0.5], dtype=torch.float64)))
    np.testing.assert_allclose(got, (A * 0.5).sum(axis=1), rtol=1e-15)


def test_neuron_direction_single_entry_with_and_without_a_channel():
    vec = torch.tensor([2.0], dtype=torch.float64)
    whole = _value(opt.loss.NeuronDirection(LAYER, vec, x=3, y=0))
    np.testing.assert_allclose(whole[:, 0, 0], (A[:, :, 0, 3] * 2.0).sum(axis=1), rtol=1e-15)
    one = _value(opt.loss.NeuronDirection(LAYER, vec, x=3, y=0, channel_index=4))
    np.testing.assert_array_equal(one[:, 0, 0], A[:, 4, 0, 3] * 2.0)


def test_tensor_direction_single_channel():  # row: centre crop to vec's h x w, then the dot
    vec = torch.arange(4.0, dtype=torch.float64).view(1, 1, 2, 2)
    got = _value(opt.loss.TensorDirection(LAYER, vec))
    expected = (A[:, :, 1:3, 1:3] * vec.numpy()).sum(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-15)


@pytest.mark.parametrize(
    "make",
    [
        lambda: opt.loss.ActivationWeights(LAYER, torch.ones(3, dtype=torch.float64)),
        lambda: opt.loss.Direction(LAYER, torch.ones(3, dtype=torch.float64)),
        lambda: opt.loss.NeuronDirection(LAYER, torch.ones(2, dtype=torch.float64)),
        lambda: opt.loss.TensorDirection(LAYER, torch.ones(1, 3, 1, 1, dtype=torch.float64)),
    ],
)
def test_a_count_that_cannot_broadcast_is_still_an_error(make):
    with pytest.raises(ValueError, match=r"5 channels; give one (entry|weight) per channel"):
        make()({LAYER: ACTS})


def test_gaussian_smoothing_dim_check_is_a_runtime_error():  # row: dim ∉ {1,2,3} → RuntimeError
    from optim.transforms import GaussianSmoothing

    for error in (RuntimeError, ValueError):
        with pytest.raises(error, match="dim 1, 2 or 3, got 4"):
            GaussianSmoothing(3, 3, 1.0, dim=4)


def test_shared_image_keeps_its_tensors_as_simple_tensor_parameterizations():
    # rows: SharedImage's shared tensors are randn Parameters; SimpleTensorParameterization
    # is the JIT-friendly wrapper "used inside SharedImage (ModuleList instead of ParameterList)"
    from optim.images import PixelImage, SharedImage, SimpleTensorParameterization

    image = SharedImage([(1, 3, 4, 4), (3, 2, 2)], PixelImage((8, 8)))
    assert isinstance(image.shared_init, nn.ModuleList)
    assert all(isinstance(m, SimpleTensorParameterization) for m in image.shared_init)
    shapes = [tuple(m.tensor.shape) for m in image.shared_init]
    assert shapes == [(1, 3, 4, 4), (1, 3, 2, 2)]  # left-padded with 1s
    optimised = {id(p) for p in image.parameters()}
    assert all(id(m.tensor) in optimised and m.tensor.requires_grad for m in image.shared_init)
    image().sum().backward()
    assert all(m.tensor.grad is not None for m in image.shared_init)


_SCRIPTABLE = {  # §4: "Most are TorchScript-compatible"; these script and match eager
    "CenterCrop": lambda t: t.CenterCrop(8),
    "CenterCrop padding": lambda t: t.CenterCrop(40, padding_mode="reflect"),
    "CenterCrop pixels_from_edges": lambda t: t.CenterCrop(5, pixels_from_edges=True),
    "ToRGB": lambda t: t.ToRGB(),
    "IgnoreAlpha": lambda t: t.IgnoreAlpha(),
    "ScaleInputRange": lambda t: t.ScaleInputRange(255),
    "RGBToBGR": lambda t: t.RGBToBGR(),
    "GaussianSmoothing": lambda t: t.GaussianSmoothing(3, 3, 1.0),
    "RandomScale": lambda t: t.RandomScale([0.9, 1.1]),
    "RandomSpatialJitter": lambda t: t.RandomSpatialJitter(2),
    "RandomRotation": lambda t: t.RandomRotation([0, 10]),
    "TransformationRobustness": lambda t: t.TransformationRobustness(),
    "FusedTransformationRobustness": lambda t: t.FusedTransformationRobustness(),
}


@pytest.mark.parametrize("name", list(_SCRIPTABLE))
def test_transforms_script_and_match_eager(name):
    import optim as opt

    transform = _SCRIPTABLE[name](opt.transforms)
    scripted = torch.jit.script(transform)
    x = torch.rand(2, 4 if name == "IgnoreAlpha" else 3, 32, 32)
    torch.manual_seed(5)  # the random ones draw the same numbers from the same generator
    eager = transform(x)
    torch.manual_seed(5)
    torch.testing.assert_close(scripted(x), eager, rtol=1e-6, atol=1e-6)
