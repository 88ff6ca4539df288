"""dtypes of parameterizations and transforms: float64 everywhere, half where torch has it."""

from __future__ import annotations

import pytest
import torch

from optim import images, transforms

PARAMETERIZATIONS = {
    "fft": lambda: images.FFTImage((8, 8)),
    "pixel": lambda: images.PixelImage((8, 8)),
    "laplacian": lambda: images.LaplacianImage((8, 8), scale_list=[1.0, 2.0]),
    "shared": lambda: images.SharedImage([(1, 3, 2, 2)], images.PixelImage((8, 8))),
    "stack": lambda: images.StackImage([images.PixelImage((8, 8)), torch.zeros(1, 3, 8, 8)]),
    "natural": lambda: images.NaturalImage((8, 8)),
}

TRANSFORMS = {
    "to_rgb": lambda: transforms.ToRGB(),
    "blend_alpha": lambda: transforms.BlendAlpha(),
    "ignore_alpha": lambda: transforms.IgnoreAlpha(),
    "center_crop": lambda: transforms.CenterCrop(6),
    "random_scale": lambda: transforms.RandomScale([0.5, 1.5]),
    "random_scale_affine": lambda: transforms.RandomScaleAffine([0.9]),
    "random_spatial_jitter": lambda: transforms.RandomSpatialJitter(2),
    "random_rotation": lambda: transforms.RandomRotation([10.0]),
    "scale_input_range": lambda: transforms.ScaleInputRange(2.0),
    "rgb_to_bgr": lambda: transforms.RGBToBGR(),
    "gaussian_smoothing": lambda: transforms.GaussianSmoothing(3, 3, 1.0),
    "nchannels_to_rgb": lambda: transforms.NChannelsToRGB(),
    "random_crop": lambda: transforms.RandomCrop(6),
    "transformation_robustness": lambda: transforms.TransformationRobustness(),
}
NEEDS_ALPHA = {"blend_alpha", "ignore_alpha"}


@pytest.mark.parametrize("name", sorted(PARAMETERIZATIONS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_parameterizations_follow_module_dtype(name, dtype):
    module = PARAMETERIZATIONS[name]().to(dtype)
    out = module()
    assert out.dtype == dtype
    out.sum().backward()


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_transforms_keep_input_dtype(name, dtype):
    channels = 4 if name in NEEDS_ALPHA else 3
    module = TRANSFORMS[name]().to(dtype)
    out = module(torch.rand(1, channels, 16, 16).to(dtype))
    assert out.dtype == dtype and out.dim() == 4


@pytest.mark.parametrize("name", ["pixel", "laplacian", "shared", "stack"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_non_fft_parameterizations_run_in_half_precision(name, dtype):
    out = images.NaturalImage(parameterization=PARAMETERIZATIONS[name]()).to(dtype)()
    assert out.dtype == dtype


def test_fft_half_precision_error_names_the_fix():
    with pytest.raises(TypeError, match="CUDA with power-of-2 sizes"):
        images.NaturalImage((8, 8)).to(torch.float16)()


def test_antialias_half_precision_error_names_the_fix():
    scale = transforms.RandomScale([0.5], antialias=True)
    with pytest.raises(TypeError, match="antialias=False"):
        scale(torch.rand(1, 3, 8, 8, dtype=torch.bfloat16))


@pytest.mark.gpu
def test_fft_float16_on_cuda_power_of_two():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    image = images.NaturalImage((16, 16)).to("cuda", torch.float16)
    out = image()
    assert out.dtype == torch.float16 and out.is_cuda
    assert isinstance(out, images.ImageTensor)
    out = transforms.TransformationRobustness()(out)
    assert out.dtype == torch.float16
