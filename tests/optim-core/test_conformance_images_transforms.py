"""SPEC §2.2 (images), §2.3 (transforms) and §2.11 (image utilities), row by row.

Oracles: the rows' formulas written out in numpy, and hand-computed values.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn


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
