"""TorchScript: parameterizations and transforms script and match eager outputs."""

from __future__ import annotations

import warnings

import pytest
import torch

from optim import images, transforms


def _script(module: torch.nn.Module) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated in 2.x
        return torch.jit.script(module)


def _seeded(make):
    return make(torch.Generator().manual_seed(0)), make(torch.Generator().manual_seed(0))


TRANSFORMS = {
    "to_rgb": lambda g: transforms.ToRGB(),
    "blend_alpha": lambda g: transforms.BlendAlpha(generator=g),
    "ignore_alpha": lambda g: transforms.IgnoreAlpha(),
    "center_crop": lambda g: transforms.CenterCrop((5, 7)),
    "random_scale": lambda g: transforms.RandomScale([0.5, 1.5, 2.0], generator=g),
    "random_scale_affine": lambda g: transforms.RandomScaleAffine([0.8, 1.2], generator=g),
    "random_spatial_jitter": lambda g: transforms.RandomSpatialJitter(3, generator=g),
    "random_rotation": lambda g: transforms.RandomRotation([-30, 45], generator=g),
    "scale_input_range": lambda g: transforms.ScaleInputRange(3.0),
    "rgb_to_bgr": lambda g: transforms.RGBToBGR(),
    "gaussian_smoothing": lambda g: transforms.GaussianSmoothing(3, 3, 1.0),
    "nchannels_to_rgb": lambda g: transforms.NChannelsToRGB(),
    "random_crop": lambda g: transforms.RandomCrop(6, generator=g),
    "transformation_robustness": lambda g: transforms.TransformationRobustness(generator=g),
}
NEEDS_ALPHA = {"blend_alpha", "ignore_alpha"}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_scripted_transform_matches_eager(name):
    eager, to_script = _seeded(TRANSFORMS[name])
    scripted = _script(to_script)
    x = torch.rand(2, 4 if name in NEEDS_ALPHA else 3, 12, 12)
    for _ in range(3):
        torch.testing.assert_close(scripted(x), eager(x), rtol=0, atol=0)


def test_scripted_to_rgb_inverse():
    scripted = _script(transforms.ToRGB("i1i2i3"))
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(scripted(scripted(x), inverse=True), x)


PARAMETERIZATIONS = {
    "fft": lambda g: images.FFTImage((8, 8), generator=g),
    "pixel": lambda g: images.PixelImage((8, 8), generator=g),
    "laplacian": lambda g: images.LaplacianImage((8, 8), scale_list=[1.0, 2.0], generator=g),
    "shared": lambda g: images.SharedImage(
        [(1, 3, 2, 2)], images.PixelImage((8, 8), batch=2, generator=g), generator=g
    ),
    "stack": lambda g: images.StackImage(
        [images.PixelImage((8, 8), generator=g), torch.zeros(1, 3, 8, 8)]
    ),
    "natural": lambda g: images.NaturalImage((8, 8), generator=g),
}


@pytest.mark.parametrize("name", sorted(PARAMETERIZATIONS))
def test_scripted_parameterization_matches_eager_and_has_gradients(name):
    eager, to_script = _seeded(PARAMETERIZATIONS[name])
    scripted = _script(to_script)
    out = scripted()
    torch.testing.assert_close(out, eager().as_subclass(torch.Tensor), rtol=0, atol=0)
    out.sum().backward()
    assert all(p.grad is not None for p in scripted.parameters())


def test_distribution_transforms_refuse_scripting_clearly():
    with pytest.raises(TypeError, match="pass a list of values"):
        _script(transforms.RandomRotation(torch.distributions.Uniform(-5.0, 5.0)))
