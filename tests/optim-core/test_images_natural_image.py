"""NaturalImage: the default rendering input."""

from __future__ import annotations

import pytest
import torch

from optim.images import (
    FFTImage,
    ImageTensor,
    LaplacianImage,
    NaturalImage,
    PixelImage,
    SharedImage,
    StackImage,
)
from optim.transforms import ToRGB, TransformationRobustness


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_default_is_224_image_tensor_in_unit_range(dtype):
    image = NaturalImage((224, 224)).to(dtype)
    out = image()
    assert isinstance(out, ImageTensor)
    assert out.shape == (1, 3, 224, 224) and out.dtype == dtype
    assert out.min() >= 0 and out.max() <= 1
    transformed = TransformationRobustness()(out)
    assert transformed.dim() == 4 and transformed.dtype == dtype


def test_ones_init_with_pixel_image_gives_sigmoid_of_one():
    image = NaturalImage(init=torch.ones(3, 8, 8), parameterization=PixelImage)
    torch.testing.assert_close(image().detach(), torch.full((1, 3, 8, 8), 0.7310586))


def test_init_without_decorrelation_is_recorrelated():
    init = torch.rand(1, 3, 4, 4)
    image = NaturalImage(init=init, parameterization=PixelImage, decorrelate_init=False)
    expected = torch.sigmoid(ToRGB()(init))
    torch.testing.assert_close(image().detach(), expected)


def test_each_instance_has_its_own_to_rgb():
    a, b = NaturalImage((8, 8)), NaturalImage((8, 8))
    assert isinstance(a.decorrelate, ToRGB) and a.decorrelate is not b.decorrelate


def test_i1i2i3_none_squash_and_no_decorrelation():
    inner = PixelImage(init=torch.full((1, 3, 2, 2), 0.25))
    plain = NaturalImage(parameterization=inner, decorrelation_module=None, squash_func=None)
    assert torch.equal(plain().detach(), torch.full((1, 3, 2, 2), 0.25))
    ohta = NaturalImage((4, 4), decorrelation_module="i1i2i3")
    torch.testing.assert_close(ohta.decorrelate.transform, ToRGB.i1i2i3_transform())


def test_parameterization_instance_and_seeded_class():
    inner = LaplacianImage((16, 16), batch=2, scale_list=[1.0, 2.0])
    image = NaturalImage(parameterization=inner)
    assert image.parameterization is inner and image().shape == (2, 3, 16, 16)
    first = NaturalImage((8, 8), generator=torch.Generator().manual_seed(4))()
    second = NaturalImage((8, 8), generator=torch.Generator().manual_seed(4))()
    assert torch.equal(first, second)


def test_rgba_channels_pass_alpha_through():
    out = NaturalImage((8, 8), channels=4, parameterization=PixelImage)()
    assert out.shape == (1, 4, 8, 8)


@pytest.mark.parametrize(
    "make_inner",
    [
        lambda: FFTImage((32, 32), batch=2),
        lambda: PixelImage((32, 32), batch=2),
        lambda: LaplacianImage((32, 32), batch=2, scale_list=[1.0, 2.0, 4.0]),
        lambda: SharedImage([(1, 3, 4, 4)], PixelImage((32, 32), batch=2)),
        lambda: StackImage([FFTImage((32, 32)), PixelImage((32, 32))]),
    ],
)
def test_gradients_reach_every_parameter_through_robustness(make_inner):
    torch.manual_seed(0)
    image = NaturalImage(parameterization=make_inner())
    robustness = TransformationRobustness(generator=torch.Generator().manual_seed(0))
    robustness(image()).mean().backward()
    params = list(image.parameters())
    assert params
    for param in params:
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_validation_messages():
    with pytest.raises(TypeError, match="parameterization must be"):
        NaturalImage(parameterization="fft")
    with pytest.raises(ValueError, match="Unknown ToRGB transform"):
        NaturalImage((8, 8), decorrelation_module="hsv")
    with pytest.raises(TypeError, match="squash_func"):
        NaturalImage((8, 8), squash_func=3)
    with pytest.raises(TypeError, match="inverse=True"):
        NaturalImage(init=torch.rand(3, 4, 4), decorrelation_module=torch.nn.Identity())
