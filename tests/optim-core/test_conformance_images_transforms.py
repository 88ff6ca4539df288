"""SPEC §2.2 (images), §2.3 (transforms) and §2.11 (image utilities), row by row.

Oracles: the rows' formulas written out in numpy, the reference values the SPEC prints, and
hand-computed values. Where optim deliberately differs from a row, the test asserts optim's
behaviour and says "deliberate: <reason>" (each is listed in optim-core's README, "Differences
from captum.optim").

The §2.3 row CLIPTokenizer is not here: optim keeps it in optim-models (``optim.models``), whose
README lists the move; its conformance test belongs to that package.
"""

from __future__ import annotations

import inspect
import io
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

import optim as opt
from optim.images import (
    FFTImage,
    ImageParameterization,
    ImageTensor,
    InputParameterization,
    LaplacianImage,
    NaturalImage,
    PixelImage,
    SharedImage,
    SimpleTensorParameterization,
    StackImage,
)
from optim.transforms import (
    BlendAlpha,
    CenterCrop,
    GaussianSmoothing,
    IgnoreAlpha,
    NChannelsToRGB,
    RandomCrop,
    RandomRotation,
    RandomScale,
    RandomScaleAffine,
    RandomSpatialJitter,
    RGBToBGR,
    ScaleInputRange,
    SymmetricPadding,
    ToRGB,
    TransformationRobustness,
    center_crop,
)

SPEC_ROWS: list[str] = [
    # §2.2 images / parameterizations
    "optim.images.ImageTensor",
    "optim.images.ImageTensor.load",
    "optim.images.ImageTensor.open",
    "optim.images.ImageTensor.show",
    "optim.images.ImageTensor.export",
    "optim.images.InputParameterization",
    "optim.images.ImageParameterization",
    "optim.images.FFTImage",
    "optim.images.PixelImage",
    "optim.images.LaplacianImage",
    "optim.images.SimpleTensorParameterization",
    "optim.images.SharedImage",
    "optim.images.StackImage",
    "optim.images.NaturalImage",
    # §2.3 transforms (CLIPTokenizer: optim.models, see the module docstring)
    "optim.transforms.BlendAlpha",
    "optim.transforms.IgnoreAlpha",
    "optim.transforms.ToRGB",
    "optim.transforms.ToRGB.klt_transform",
    "optim.transforms.ToRGB.i1i2i3_transform",
    "optim.transforms.CenterCrop",
    "optim.transforms.center_crop",
    "optim.transforms.RandomScale",
    "optim.transforms.RandomScaleAffine",
    "optim.transforms.RandomSpatialJitter",
    "optim.transforms.RandomSpatialJitter.translate_tensor",
    "optim.transforms.RandomRotation",
    "optim.transforms.ScaleInputRange",
    "optim.transforms.RGBToBGR",
    "optim.transforms.GaussianSmoothing",
    "optim.transforms.SymmetricPadding",
    "optim.transforms.NChannelsToRGB",
    "optim.transforms.RandomCrop",
    "optim.transforms.TransformationRobustness",
    # §2.11 image utilities (top level where captum had them there; the rest where optim keeps
    # them: get_neuron_pos in optim.image_utils, _dot_cossim/_create_new_vector with the
    # objectives that use them)
    "optim.make_grid_image",
    "optim.show",
    "optim.save_tensor_as_image",
    "optim.image_utils.get_neuron_pos",
    "optim.hue_to_rgb",
    "optim.nchannels_to_rgb",
    "optim.weights_to_heatmap_2d",
    "optim.loss._common.dot_cossim",
    "optim.loss._common.create_new_vector",
]


def _f64(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


# ---- signature defaults, one row per public name -------------------------------------------

_DEFAULTS: dict[str, dict[str, object]] = {
    "optim.images.ImageTensor.load": {"scale": 255.0, "mode": "RGB"},
    "optim.images.ImageTensor.show": {
        "figsize": None,
        "scale": 255.0,
        "images_per_row": None,
        "padding": 2,
        "pad_value": 0.0,
    },
    "optim.images.ImageTensor.export": {
        "scale": 255.0,
        "mode": None,
        "images_per_row": None,
        "padding": 2,
        "pad_value": 0.0,
    },
    "optim.images.FFTImage": {"size": None, "channels": 3, "batch": 1, "init": None},
    "optim.images.PixelImage": {"size": None, "channels": 3, "batch": 1, "init": None},
    "optim.images.LaplacianImage": {
        "size": [224, 224],
        "channels": 3,
        "batch": 1,
        "init": None,
        "power": 0.1,
        "scale_list": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
    },
    "optim.images.SharedImage": {"shapes": None, "parameterization": None, "offset": None},
    "optim.images.StackImage": {"dim": 0, "output_device": None},
    "optim.images.NaturalImage": {
        "size": [224, 224],
        "channels": 3,
        "batch": 1,
        "init": None,
        "parameterization": FFTImage,
        "squash_func": torch.sigmoid,
        # deliberate: "klt" builds a ToRGB per image (captum shared one default ToRGB instance)
        "decorrelation_module": "klt",
        "decorrelate_init": True,
    },
    "optim.transforms.BlendAlpha": {"background": None},
    "optim.transforms.ToRGB": {"transform": "klt"},
    "optim.transforms.CenterCrop": {
        "size": 0,
        "pixels_from_edges": False,
        "offset_left": False,
        "padding_mode": "constant",
        "padding_value": 0.0,
    },
    "optim.transforms.center_crop": {
        "pixels_from_edges": False,
        "offset_left": False,
        "padding_mode": "constant",
        "padding_value": 0.0,
    },
    "optim.transforms.RandomScale": {
        "mode": "bilinear",
        "align_corners": False,
        "recompute_scale_factor": False,
        "antialias": False,
    },
    "optim.transforms.RandomScaleAffine": {
        "mode": "bilinear",
        "padding_mode": "zeros",
        "align_corners": False,
    },
    "optim.transforms.RandomRotation": {
        "mode": "bilinear",
        "padding_mode": "zeros",
        "align_corners": False,
    },
    "optim.transforms.ScaleInputRange": {"multiplier": 1.0},
    "optim.transforms.GaussianSmoothing": {"dim": 2, "padding": "same"},
    "optim.transforms.NChannelsToRGB": {"warp": False},  # the function's default is True
    "optim.transforms.TransformationRobustness": {
        "translate": [4] * 10,
        "scale": [0.995**n for n in range(-5, 80)] + [0.998**n for n in 2 * list(range(20, 40))],
        "degrees": list(range(-20, 20)) + list(range(-10, 10)) + list(range(-5, 5)) + 5 * [0],
        "final_translate": 2,
        "crop_or_pad_output": False,
    },
    "optim.make_grid_image": {"images_per_row": 4, "padding": 2, "pad_value": 0.0},
    "optim.show": {
        "figsize": None,
        "scale": 255.0,
        "images_per_row": None,
        "padding": 2,
        "pad_value": 0.0,
    },
    "optim.save_tensor_as_image": {
        "scale": 255.0,
        "mode": None,
        "images_per_row": None,
        "padding": 2,
        "pad_value": 0.0,
    },
    "optim.image_utils.get_neuron_pos": {"x": None, "y": None},
    "optim.hue_to_rgb": {"device": "cpu", "warp": True},
    "optim.nchannels_to_rgb": {"warp": True, "eps": 1e-4},
    "optim.weights_to_heatmap_2d": {"colors": ["0571b0", "92c5de", "f7f7f7", "f4a582", "ca0020"]},
    "optim.loss._common.create_new_vector": {
        "activation_fn": F.relu,
        "move_channel_dim_to_final_dim": True,
    },
}


@pytest.mark.spec_row(*_DEFAULTS)
@pytest.mark.parametrize("name", list(_DEFAULTS))
def test_signature_defaults(name, spec_row_object):
    parameters = inspect.signature(spec_row_object(name)).parameters
    for parameter, expected in _DEFAULTS[name].items():
        default = parameters[parameter].default
        if isinstance(expected, list):  # a tuple default is the same sequence, immutable
            default = list(default)
        elif isinstance(default, torch.device):
            default = str(default)
        assert default == expected, f"{name}: {parameter}={default!r}, the row says {expected!r}"


# ---- storage and TorchScript ---------------------------------------------------------------


@pytest.mark.spec_row("optim.transforms.GaussianSmoothing")
def test_gaussian_smoothing_dim_check_is_a_runtime_error():  # row: dim ∉ {1,2,3} → RuntimeError
    for error in (RuntimeError, ValueError):
        with pytest.raises(error, match="dim 1, 2 or 3, got 4"):
            GaussianSmoothing(3, 3, 1.0, dim=4)


@pytest.mark.spec_row("optim.images.SharedImage", "optim.images.SimpleTensorParameterization")
def test_shared_image_keeps_its_tensors_as_simple_tensor_parameterizations():
    # rows: SharedImage's shared tensors are randn Parameters; SimpleTensorParameterization
    # is the JIT-friendly wrapper "used inside SharedImage (ModuleList instead of ParameterList)"
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


@pytest.mark.spec_row(
    "optim.transforms.CenterCrop",
    "optim.transforms.ToRGB",
    "optim.transforms.IgnoreAlpha",
    "optim.transforms.ScaleInputRange",
    "optim.transforms.RGBToBGR",
    "optim.transforms.GaussianSmoothing",
    "optim.transforms.RandomScale",
    "optim.transforms.RandomSpatialJitter",
    "optim.transforms.RandomRotation",
    "optim.transforms.TransformationRobustness",
)
@pytest.mark.parametrize("name", list(_SCRIPTABLE))
def test_transforms_script_and_match_eager(name):
    transform = _SCRIPTABLE[name](opt.transforms)
    scripted = torch.jit.script(transform)
    x = torch.rand(2, 4 if name == "IgnoreAlpha" else 3, 32, 32)
    torch.manual_seed(5)  # the random ones draw the same numbers from the same generator
    eager = transform(x)
    torch.manual_seed(5)
    torch.testing.assert_close(scripted(x), eager, rtol=1e-6, atol=1e-6)


# ---- §2.2 images / parameterizations --------------------------------------------------------


@pytest.mark.spec_row("optim.images.ImageTensor")
def test_image_tensor_wraps_lists_arrays_and_tensors_and_stays_an_image_tensor():
    assert ImageTensor().shape == (0,)  # the row's default: an empty list
    for data in (
        [[0.25, 0.5]],
        np.array([[0.25, 0.5]], dtype=np.float32),
        torch.tensor([[0.25, 0.5]]),
    ):
        image = ImageTensor(data)
        assert isinstance(image, ImageTensor)
        assert image.tolist() == [[0.25, 0.5]]
    image = ImageTensor(torch.rand(1, 3, 2, 2))
    # __torch_function__ passes through: results of operations stay ImageTensor
    for result in (image + 1, image.mean(), torch.cat([image, image]), image[:, :1]):
        assert isinstance(result, ImageTensor)
    assert repr(image).startswith("ImageTensor(")
    # deliberate: a non-float32 (or CUDA) tensor is a real ImageTensor too (captum returned it
    # as a plain tensor with show/export bound on it)
    assert isinstance(ImageTensor(torch.zeros(2, dtype=torch.float64)), ImageTensor)


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


_PIXELS = np.array([[[0, 51, 255], [255, 102, 0]]], dtype=np.uint8)  # 1x2 RGB


@pytest.mark.spec_row("optim.images.ImageTensor.load", "optim.images.ImageTensor.open")
def test_image_tensor_load_files_and_urls(tmp_path, monkeypatch):
    path = tmp_path / "image.png"
    path.write_bytes(_png_bytes(_PIXELS))
    loaded = ImageTensor.load(str(path))  # CHW (no batch dimension), divided by scale=255
    assert isinstance(loaded, ImageTensor) and loaded.shape == (3, 1, 2)
    np.testing.assert_allclose(loaded.numpy(), _PIXELS.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(
        ImageTensor.load(str(path), scale=1.0).numpy(), _PIXELS.transpose(2, 0, 1)
    )
    grey = ImageTensor.load(str(path), mode="L")  # PIL convert(mode)
    expected_grey = np.asarray(Image.fromarray(_PIXELS).convert("L"), dtype=np.float64) / 255
    np.testing.assert_allclose(grey.numpy(), expected_grey[None], rtol=1e-6)
    assert ImageTensor.open == ImageTensor.load  # alias

    requests = []

    class _Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    def urlopen(request):
        requests.append(request)
        return _Response(_png_bytes(_PIXELS))

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    fetched = ImageTensor.open("https://example.org/image.png")
    np.testing.assert_allclose(fetched.numpy(), loaded.numpy())
    # deliberate: optim sends its own name as User-Agent (captum sent "Captum"); a User-Agent
    # is what hosts such as Wikimedia require
    assert requests[0].get_header("User-agent") == "optim"


def _shown(monkeypatch, call) -> np.ndarray:
    """The array ``call()`` hands to matplotlib's imshow."""
    import matplotlib.pyplot as plt

    arrays = []
    monkeypatch.setattr(plt, "imshow", lambda array, **kwargs: arrays.append(array))
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "non-interactive backend" on headless runs
        call()
    assert len(arrays) == 1
    return np.asarray(arrays[0])


# values that show the conversion: a half step, above 1, below 0 and just under 1
_RGB = torch.tensor([0.5, 1.2, -0.1, 0.999, 0.25, 0.0], dtype=torch.float64).view(3, 1, 2)
# deliberate: uint8(x·scale) is rounded and clamped to [0, 255] (captum truncated with
# astype(uint8), so 0.999 → 254 and values outside [0, 1] wrapped around)
_RGB_UINT8 = np.clip(np.rint(_RGB.numpy() * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)


@pytest.mark.spec_row("optim.show", "optim.images.ImageTensor.show")
def test_show_draws_uint8_of_x_times_scale(monkeypatch):
    np.testing.assert_array_equal(_shown(monkeypatch, lambda: opt.show(_RGB)), _RGB_UINT8)
    image = ImageTensor(_RGB.unsqueeze(0))
    np.testing.assert_array_equal(_shown(monkeypatch, image.show), _RGB_UINT8)
    np.testing.assert_array_equal(
        _shown(monkeypatch, lambda: image.show(scale=100.0)),
        np.clip(np.rint(_RGB.numpy() * 100), 0, 255).astype(np.uint8).transpose(1, 2, 0),
    )
    batch = torch.rand(2, 3, 4, 5)
    # a batch is laid out horizontally (deliberate: with `padding` pixels around and between
    # the images; captum concatenated them edge to edge unless images_per_row was set) ...
    assert _shown(monkeypatch, lambda: opt.show(batch)).shape == (4 + 2 * 2, 2 * 5 + 3 * 2, 3)
    # ... or on a grid when images_per_row is set
    grid = _shown(monkeypatch, lambda: opt.show(batch, images_per_row=1, padding=1))
    assert grid.shape == (2 * (4 + 1) + 1, 5 + 2, 3)
    for bad in (torch.rand(3, 3), torch.rand(1, 1, 3, 3, 3)):
        with pytest.raises(ValueError, match="CHW or NCHW"):
            opt.show(bad)


@pytest.mark.spec_row("optim.save_tensor_as_image", "optim.images.ImageTensor.export")
def test_save_tensor_as_image_and_export(tmp_path):
    opt.save_tensor_as_image(_RGB, tmp_path / "rgb.png")
    saved = Image.open(tmp_path / "rgb.png")
    assert saved.mode == "RGB"  # auto mode from 3 channels
    np.testing.assert_array_equal(np.asarray(saved), _RGB_UINT8)
    ImageTensor(_RGB).export(tmp_path / "export.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "export.png")), _RGB_UINT8)
    rgba = torch.cat([_RGB, torch.ones(1, 1, 2, dtype=torch.float64)])
    opt.save_tensor_as_image(rgba, tmp_path / "rgba.png")
    assert Image.open(tmp_path / "rgba.png").mode == "RGBA"  # auto mode from 4 channels
    ImageTensor(torch.zeros(3, 3, 4, 4)).export(tmp_path / "grid.png", images_per_row=2, padding=1)
    assert Image.open(tmp_path / "grid.png").size == ((4 + 1) * 2 + 1, (4 + 1) * 2 + 1)
    with pytest.raises(ValueError, match="CHW or NCHW"):
        opt.save_tensor_as_image(torch.rand(3, 3), tmp_path / "bad.png")


@pytest.mark.spec_row("optim.images.InputParameterization", "optim.images.ImageParameterization")
def test_parameterization_base_classes():
    with pytest.raises(NotImplementedError):
        InputParameterization()()
    assert issubclass(ImageParameterization, InputParameterization)
    for cls in (
        FFTImage,
        PixelImage,
        LaplacianImage,
        SimpleTensorParameterization,
        SharedImage,
        StackImage,
        NaturalImage,
    ):
        assert issubclass(cls, ImageParameterization), cls


def _spectrum_scale(height: int, width: int) -> np.ndarray:
    """The row: 1/max(freq, 1/max(H, W)) · sqrt(H·W), freq = sqrt(fx² + fy²) from fftfreq."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[: width // 2 + 1][None, :]
    freq = np.sqrt(fx**2 + fy**2)
    return np.sqrt(height * width) / np.maximum(freq, 1 / max(height, width))


@pytest.mark.spec_row("optim.images.FFTImage")
@pytest.mark.parametrize("size", [(4, 6), (6, 5)])  # odd width: exactly W//2+1 columns
def test_fft_image_is_the_inverse_rfft_of_the_scaled_coefficients(size):
    height, width = size
    image = FFTImage(size, batch=2, generator=torch.Generator().manual_seed(3))
    assert image.size == size  # __constants__ = ["size"]
    assert image.fourier_coeffs.shape == (2, 3, height, width // 2 + 1, 2)
    assert image.spectrum_scale.shape == (1, height, width // 2 + 1, 1)
    expected_init = torch.randn(
        (2, 3, height, width // 2 + 1, 2), generator=torch.Generator().manual_seed(3)
    )
    torch.testing.assert_close(image.fourier_coeffs.data, expected_init / 50)  # randn / 50
    scale = _spectrum_scale(height, width)
    np.testing.assert_allclose(image.spectrum_scale[0, :, :, 0].numpy(), scale, rtol=1e-6)

    image = image.double()
    coeffs = image.fourier_coeffs.detach().numpy()
    spectrum = (coeffs[..., 0] + 1j * coeffs[..., 1]) * scale
    expected = np.fft.irfft2(spectrum, s=size)
    # the buffer holds the scale in float32: each term is off by up to float32's eps, and
    # irfft2 sums the terms (each counted at most twice) divided by H·W
    tolerance = 2 * np.finfo(np.float32).eps * np.abs(spectrum).sum() / (height * width)
    np.testing.assert_allclose(image().detach().numpy(), expected, rtol=0, atol=tolerance)


@pytest.mark.spec_row("optim.images.FFTImage")
def test_fft_image_init_gives_coefficients_size_and_batch():
    init = _f64(2, 3, 4, 5)
    image = FFTImage((99, 99), batch=7, init=init)  # size and batch come from init
    assert image.size == (4, 5) and image.fourier_coeffs.shape[0] == 2
    expected = np.fft.rfft2(init.numpy()) / _spectrum_scale(4, 5)  # rfftn(init) / scale
    coeffs = image.fourier_coeffs.detach().numpy()
    np.testing.assert_allclose(coeffs[..., 0] + 1j * coeffs[..., 1], expected, atol=1e-12)
    np.testing.assert_allclose(image().detach().numpy(), init.numpy(), atol=1e-12)
    assert FFTImage(init=init[0]).fourier_coeffs.shape[0] == 1  # CHW init


@pytest.mark.spec_row("optim.images.PixelImage")
def test_pixel_image_is_randn_over_10_plus_half_or_init():
    image = PixelImage((3, 4), batch=2, generator=torch.Generator().manual_seed(1))
    expected = torch.randn(2, 3, 3, 4, generator=torch.Generator().manual_seed(1)) / 10 + 0.5
    torch.testing.assert_close(image(), expected)
    assert isinstance(image.image, nn.Parameter)
    init = _f64(3, 2, 2)
    assert torch.equal(PixelImage(init=init)(), init.unsqueeze(0))  # CHW gets unsqueezed
    for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        assert PixelImage(init=init.to(dtype))().dtype == dtype


@pytest.mark.spec_row("optim.images.LaplacianImage")
def test_laplacian_image_sums_weighted_upsampled_levels_plus_half():
    scales, power = [1.0, 2.0, 4.0], 0.5
    generator = torch.Generator().manual_seed(2)
    image = LaplacianImage((8, 4), 2, 1, power=power, scale_list=scales, generator=generator)
    reference = torch.Generator().manual_seed(2)
    for level, s in zip(image.tensor_params, scales):  # randn / 10 at (B, C, H/s, W/s)
        n = int(s)
        expected = torch.randn(1, 2, 8 // n, 4 // n, generator=reference) / 10
        torch.testing.assert_close(level.data, expected)
    assert isinstance(image.tensor_params, nn.ParameterList)
    levels = [p.detach().double().numpy() for p in image.tensor_params]
    weights = [s**power / max(scales) ** power for s in scales]  # s^power / max^power
    upsampled = [np.kron(p, np.ones((1, 1, int(s), int(s)))) for p, s in zip(levels, scales)]
    expected = sum(w * u for w, u in zip(weights, upsampled)) + 0.5  # nearest x s, sum + 0.5
    np.testing.assert_allclose(image().detach().numpy(), expected, rtol=1e-6, atol=1e-6)

    # init: each level is the bilinear downsample of init / 10 (a constant stays constant)
    constant = LaplacianImage((8, 8), init=torch.full((3, 8, 8), 2.0), scale_list=[1.0, 2.0])
    expected_value = 0.5 + 0.2 * (1 / 2**0.1 + 1)  # default power 0.1
    torch.testing.assert_close(constant(), torch.full((1, 3, 8, 8), expected_value))
    # deliberate: a size not divisible by every scale is a ValueError (captum asserted)
    with pytest.raises(ValueError, match="divisible by every scale"):
        LaplacianImage((10, 8), scale_list=[1.0, 4.0])


@pytest.mark.spec_row("optim.images.SimpleTensorParameterization")
def test_simple_tensor_parameterization_returns_its_tensor_with_or_without_grad():
    fixed = _f64(1, 3, 2, 2)
    module = SimpleTensorParameterization(fixed)
    assert torch.equal(module(), fixed) and not module().requires_grad
    assert list(module.parameters()) == []
    trained = SimpleTensorParameterization(fixed.clone().requires_grad_())
    assert torch.equal(trained(), fixed) and trained().requires_grad
    assert [p.shape for p in trained.parameters()] == [fixed.shape]


@pytest.mark.spec_row("optim.images.SharedImage")
def test_shared_image_adds_the_resized_shared_tensors_once():
    inner = PixelImage(init=_f64(2, 3, 4, 4))
    image = SharedImage([(1, 3, 2, 2), (2, 2)], inner).double()  # (2, 2) → (1, 1, 2, 2)
    with torch.no_grad():  # constants resize to themselves (bilinear; trilinear across C and B)
        image.shared_init[0].tensor.fill_(1.5)
        image.shared_init[1].tensor.fill_(-0.25)
    # deliberate: every image of the batch gets each shared tensor once (captum's
    # cat(shared).sum(0) also summed over the batch, multiplying the shared part by B)
    torch.testing.assert_close(image(), inner() + 1.25)


@pytest.mark.spec_row("optim.images.SharedImage")
@pytest.mark.parametrize(
    ("offset", "shifts"),  # the row: an int → all 4 dims; 1-4 ints → left-padded; one per shape
    [(1, [1, 1, 1, 1]), ((1, -2), [0, 0, 1, -2]), ([(0, 0, -1, 2)], [0, 0, -1, 2])],
)
def test_shared_image_offset_is_symmetric_pad_roll_and_crop(offset, shifts):
    shared = np.arange(16.0).reshape(1, 1, 4, 4)
    image = SharedImage([(4, 4)], PixelImage(init=torch.zeros(1, 1, 4, 4)), offset=offset)
    image = image.double()
    with torch.no_grad():
        image.shared_init[0].tensor.copy_(torch.from_numpy(shared))  # same size: no resize
    padded = np.pad(shared, [(abs(o), abs(o)) for o in shifts], mode="symmetric")
    expected = np.roll(padded, shifts, axis=(0, 1, 2, 3))[:1, :1, :4, :4]
    np.testing.assert_array_equal(image().detach().numpy(), expected)


@pytest.mark.spec_row("optim.images.StackImage")
def test_stack_image_concatenates_along_dim():
    a, b = _f64(1, 3, 2, 2, seed=1), _f64(1, 3, 2, 2, seed=2)
    stack = StackImage([PixelImage(init=a), b])
    assert isinstance(stack.parameterizations[1], SimpleTensorParameterization)  # tensor wrapped
    np.testing.assert_array_equal(
        stack().detach().numpy(), np.concatenate([a.numpy(), b.numpy()], axis=0)
    )
    along_channels = StackImage([a, b], dim=1, output_device="cpu")()
    np.testing.assert_array_equal(
        along_channels.numpy(), np.concatenate([a.numpy(), b.numpy()], axis=1)
    )
    # deliberate: outputs that are not 4D or differ in shape are a ValueError (captum asserted)
    for bad in ([a, _f64(1, 3, 3, 2)], [a, _f64(3, 2, 2)]):
        with pytest.raises(ValueError, match="4-D outputs"):
            StackImage(bad)()


@pytest.mark.spec_row("optim.images.NaturalImage")
def test_natural_image_parameterization_recorrelation_squash():
    ones = torch.ones(1, 3, 2, 2)
    # init is decorrelated (ToRGB inverse) and recorrelated, not inverse-sigmoided
    out = NaturalImage(init=ones, parameterization=PixelImage)()
    assert isinstance(out, ImageTensor)
    torch.testing.assert_close(out.as_subclass(torch.Tensor), torch.full_like(ones, 0.7310586))
    # squash_func=None is the identity; without decorrelate_init the KLT recorrelates init
    init = _f64(1, 3, 2, 2)
    raw = NaturalImage(
        init=init, parameterization=PixelImage, squash_func=None, decorrelate_init=False
    )
    klt = ToRGB.klt_transform().double().numpy()
    expected = np.einsum("rc,bchw->brhw", klt, init.numpy())
    np.testing.assert_allclose(raw().detach().numpy(), expected, rtol=1e-12)
    # a parameterization instance is used as it is (size and friends are ignored)
    instance = NaturalImage((64, 64), batch=5, parameterization=PixelImage((4, 6)))
    assert instance().shape == (1, 3, 4, 6)
    assert NaturalImage((8, 8), batch=2)().shape == (2, 3, 8, 8)  # default FFTImage
    # deliberate: every NaturalImage builds its own ToRGB (captum shared one default instance)
    assert NaturalImage((8, 8)).decorrelate is not NaturalImage((8, 8)).decorrelate


# ---- §2.3 transforms ------------------------------------------------------------------------


@pytest.mark.spec_row("optim.transforms.BlendAlpha", "optim.transforms.IgnoreAlpha")
def test_alpha_blending_and_dropping():
    rgba, background = _f64(2, 4, 3, 3, seed=1), _f64(1, 3, 3, 3, seed=2)
    rgb, alpha = rgba.numpy()[:, :3], rgba.numpy()[:, 3:]
    blended = BlendAlpha(background)(rgba).numpy()
    np.testing.assert_allclose(blended, alpha * rgb + (1 - alpha) * background.numpy(), rtol=1e-15)
    np.testing.assert_array_equal(IgnoreAlpha()(rgba).numpy(), rgb)
    # background=None: a new rand_like background on every call (alpha 0 shows it)
    transparent = torch.cat([torch.ones(1, 3, 4, 4), torch.zeros(1, 1, 4, 4)], dim=1)
    first, second = BlendAlpha()(transparent), BlendAlpha()(transparent)
    assert not torch.equal(first, second)
    assert float(first.min()) >= 0 and float(first.max()) < 1
    for transform in (BlendAlpha(), IgnoreAlpha()):  # both need 4 channels
        with pytest.raises(ValueError, match="4 channels"):
            transform(torch.rand(1, 3, 2, 2))


_KLT_PRINTED = [[0.5628, 0.1948, 0.0433], [0.5845, 0.0, -0.1082], [0.5845, -0.1948, 0.0649]]


@pytest.mark.spec_row(
    "optim.transforms.ToRGB",
    "optim.transforms.ToRGB.klt_transform",
    "optim.transforms.ToRGB.i1i2i3_transform",
)
def test_to_rgb_matrices_and_recorrelation():
    raw = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    klt = ToRGB.klt_transform().numpy()
    # divided by the max column L2 norm (float32 storage), and the row's printed 4 decimals
    np.testing.assert_allclose(klt, raw / np.linalg.norm(raw, axis=0).max(), rtol=1e-6)
    np.testing.assert_allclose(klt, _KLT_PRINTED, atol=5e-5 + 1e-6)
    i1i2i3 = [[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0, -1 / 2], [-1 / 4, 1 / 2, -1 / 4]]
    np.testing.assert_allclose(ToRGB.i1i2i3_transform().numpy(), i1i2i3, rtol=1e-7)

    to_rgb = ToRGB()
    assert dict(to_rgb.named_buffers()).keys() == {"transform"}
    matrix = to_rgb.transform.double().numpy()
    x = _f64(2, 4, 3, 2)  # the 4th channel is alpha: passed through
    flat = x.numpy()[:, :3].reshape(2, 3, -1)
    out = to_rgb(x).numpy()
    np.testing.assert_allclose(out[:, :3], (matrix @ flat).reshape(2, 3, 3, 2), rtol=1e-12)
    np.testing.assert_array_equal(out[:, 3], x.numpy()[:, 3])
    inverse = to_rgb(x, inverse=True).numpy()[:, :3]  # inverse uses the inverse matrix
    expected = (np.linalg.inv(matrix) @ flat).reshape(2, 3, 3, 2)
    np.testing.assert_allclose(inverse, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_rgb(x[0]).numpy(), out[0], rtol=1e-12)  # CHW works too
    custom = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(ToRGB(custom)(x).numpy()[:, :3], x.numpy()[:, [1, 0, 2]])
    for bad in ("xyz", torch.eye(2), 3):  # anything else raises ValueError
        with pytest.raises(ValueError):
            ToRGB(bad)


def _center_crop_reference(x, size, pixels_from_edges, offset_left, mode, value):
    """The rows CenterCrop / center_crop in numpy.

    With pixels_from_edges the crop is (H - size_h, W - size_w); a crop larger than the input
    pads torchvision-style (evenly, the extra pixel right/bottom); the start is (H - crop)//2,
    +1 with offset_left when the difference is odd.
    """
    height, width = x.shape[-2:]
    crop_h, crop_w = size
    if pixels_from_edges:
        crop_h, crop_w = height - crop_h, width - crop_w
    if crop_h > height or crop_w > width:
        pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
        pads = [(0, 0)] * (x.ndim - 2) + [
            (pad_h // 2, pad_h - pad_h // 2),
            (pad_w // 2, pad_w - pad_w // 2),
        ]
        if mode == "constant":
            x = np.pad(x, pads, mode="constant", constant_values=value)
        else:
            x = np.pad(x, pads, mode={"reflect": "reflect", "replicate": "edge"}[mode])
        height, width = x.shape[-2:]
    top = (height - crop_h) // 2 + (offset_left and (height - crop_h) % 2)
    left = (width - crop_w) // 2 + (offset_left and (width - crop_w) % 2)
    return x[..., top : top + crop_h, left : left + crop_w]


@pytest.mark.spec_row("optim.transforms.CenterCrop", "optim.transforms.center_crop")
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
@pytest.mark.parametrize("offset_left", [False, True])
@pytest.mark.parametrize("pixels_from_edges", [False, True])
def test_center_crop_matches_the_row(pixels_from_edges, offset_left, mode):
    for shape in [(2, 1, 5, 8), (1, 6, 7)]:  # NCHW and CHW, odd and even sides
        x = _f64(*shape)
        height, width = shape[-2:]
        for size in [(0, 0), (1, 2), (2, 3), (3, 3), (4, 6), (5, 8), (6, 9), (9, 10), (11, 13)]:
            if pixels_from_edges and (size[0] >= height or size[1] >= width):
                continue
            if mode == "reflect" and (size[0] >= 2 * height or size[1] >= 2 * width):
                continue  # reflect padding needs padding < the side
            args = (size, pixels_from_edges, offset_left, mode, 0.5)
            expected = _center_crop_reference(x.numpy(), *args)
            np.testing.assert_array_equal(center_crop(x, *args).numpy(), expected, str(args))
            np.testing.assert_array_equal(CenterCrop(*args)(x).numpy(), expected, str(args))


@pytest.mark.spec_row("optim.transforms.CenterCrop", "optim.transforms.center_crop")
def test_center_crop_sizes_and_errors():
    x = _f64(1, 1, 8, 8)
    assert center_crop(x, [3]).shape == (1, 1, 3, 3)  # one-element sequence: square
    # deliberate: pixels_from_edges puts the odd leftover pixel where every other mode does
    # (bottom/right): removing 3 of 8 rows keeps rows 1..5, the same as cropping to 5 (captum
    # started at H//2 - crop//2 = 2 there, but at (H - crop)//2 for odd H)
    removed = center_crop(x, 3, pixels_from_edges=True)
    np.testing.assert_array_equal(removed.numpy(), x.numpy()[..., 1:6, 1:6])
    np.testing.assert_array_equal(removed.numpy(), center_crop(x, 5).numpy())
    for bad in ((1, 2, 3), "ab"):  # a size of length 3 or a str → ValueError
        with pytest.raises(ValueError):
            CenterCrop(bad)
        with pytest.raises(ValueError):
            center_crop(x, bad)
    # deliberate: removing at least the whole side is a clear error (captum sliced nothing)
    with pytest.raises(ValueError, match="remove fewer pixels"):
        center_crop(x, 8, pixels_from_edges=True)


@pytest.mark.spec_row("optim.transforms.RandomScale")
def test_random_scale_resizes_by_a_picked_factor():
    x = _f64(1, 2, 4, 6)
    doubled = RandomScale([2.0], mode="nearest")(x).numpy()  # F.interpolate(scale_factor=2)
    np.testing.assert_array_equal(doubled, x.numpy().repeat(2, axis=2).repeat(2, axis=3))
    assert RandomScale([0.75])(x).shape == (1, 2, 3, 4)  # floor(4·0.75), floor(6·0.75)
    generator = torch.Generator().manual_seed(0)
    picks = {RandomScale([0.5, 2.0], generator=generator)(x).shape[2:] for _ in range(20)}
    assert picks == {(2, 3), (8, 12)}  # picked from the list: the output size changes
    assert RandomScale(torch.tensor([2.0]))(x).shape == (1, 2, 8, 12)  # 1D tensor
    sampled = RandomScale(torch.distributions.Uniform(2.0, 2.0 + 1e-6))(x)
    assert sampled.shape == (1, 2, 8, 12)  # a distribution is sampled
    # align_corners is forced to None for nearest/area
    assert RandomScale([1.0], mode="nearest").align_corners is None
    assert RandomScale([1.0], mode="area").align_corners is None
    assert RandomScale([1.0]).align_corners is False
    for mode in ("linear", "trilinear"):  # rejected
        with pytest.raises(ValueError, match="mode"):
            RandomScale([1.0], mode=mode)


@pytest.mark.spec_row("optim.transforms.RandomScaleAffine")
def test_random_scale_affine_zooms_within_the_same_shape():
    x = _f64(1, 1, 4, 4)
    a = x.numpy()[0, 0]
    # m = 2 shows twice the area: the centre 2x2 samples fall between 2x2 pixel blocks
    # (bilinear = their mean), the border samples fall outside (zero background)
    out = RandomScaleAffine([2.0])(x).numpy()[0, 0]
    expected = np.zeros((4, 4))
    expected[1:3, 1:3] = a.reshape(2, 2, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(RandomScaleAffine([1.0])(x).numpy(), x.numpy(), rtol=1e-12)


@pytest.mark.spec_row(
    "optim.transforms.RandomSpatialJitter", "optim.transforms.RandomSpatialJitter.translate_tensor"
)
def test_random_spatial_jitter_is_a_crop_of_the_reflection_padded_input():
    x = _f64(1, 2, 5, 6)
    jitter = RandomSpatialJitter(2)
    assert jitter.pad_range == 4
    padded = np.pad(x.numpy(), [(0, 0), (0, 0), (2, 2), (2, 2)], mode="reflect")
    for left in range(5):
        for top in range(5):  # insets = (left, top)
            np.testing.assert_array_equal(
                jitter.translate_tensor(x, [left, top]).numpy(),
                padded[..., top : top + 5, left : left + 6],
            )
    insets = []
    jitter = RandomSpatialJitter(2, generator=torch.Generator().manual_seed(0))
    jitter.translate_tensor = lambda x, inset: insets.append(tuple(inset)) or x
    for _ in range(100):
        jitter(x)
    # deliberate: insets in [0, 2t] (shifts in [-t, t]); captum's randint(high=2t) never
    # shifted by +t
    assert {i for pair in insets for i in pair} == set(range(5))


@pytest.mark.spec_row("optim.transforms.RandomRotation")
def test_random_rotation_matrix():
    x = _f64(1, 2, 5, 5)
    rotation = RandomRotation([90.0])  # degrees are converted to radians
    # [[cos, -sin, 0], [sin, cos, 0]] at 90°: the output at (x, y) samples (-y, x), a quarter
    # turn counter-clockwise in array coordinates
    expected = np.rot90(x.numpy(), 1, axes=(2, 3))
    np.testing.assert_allclose(rotation(x).numpy(), expected, atol=1e-12)
    half_turn = RandomRotation([0.0]).rotate_tensor(x, 180.0).numpy()
    np.testing.assert_allclose(half_turn, x.numpy()[..., ::-1, ::-1], atol=1e-12)
    # deliberate: on a non-square image the rotation is rigid in pixels (captum's matrix in
    # normalised coordinates shears it): 2 pixels right of the centre of a 5x9 image go to 2
    # pixels above it
    dot = torch.zeros(1, 1, 5, 9, dtype=torch.float64)
    dot[0, 0, 2, 6] = 1.0
    turned = RandomRotation([90.0])(dot)[0, 0].numpy()
    expected = np.zeros((5, 9))
    expected[0, 4] = 1.0
    np.testing.assert_allclose(turned, expected, atol=1e-12)


@pytest.mark.spec_row("optim.transforms.ScaleInputRange", "optim.transforms.RGBToBGR")
def test_scale_input_range_and_rgb_to_bgr():
    x = _f64(2, 3, 2, 2)
    np.testing.assert_array_equal(ScaleInputRange(255)(x).numpy(), x.numpy() * 255)
    np.testing.assert_array_equal(ScaleInputRange()(x).numpy(), x.numpy())
    np.testing.assert_array_equal(RGBToBGR()(x).numpy(), x.numpy()[:, [2, 1, 0]])
    for bad in (torch.rand(1, 4, 2, 2), torch.rand(3, 2, 2)):  # 4D, 3 channels
        with pytest.raises(ValueError):
            RGBToBGR()(bad)


def _gaussian(size: int, sigma: float) -> np.ndarray:
    coords = np.arange(size) - (size - 1) / 2
    return np.exp(-(coords**2) / (2 * sigma**2))


@pytest.mark.spec_row("optim.transforms.GaussianSmoothing")
def test_gaussian_smoothing_kernel_and_depthwise_blur():
    smoothing = GaussianSmoothing(2, kernel_size=(3, 5), sigma=(1.0, 2.0))
    kernel = np.outer(_gaussian(3, 1.0), _gaussian(5, 2.0))
    kernel /= kernel.sum()  # a product of 1-D Gaussians, normalised to sum 1
    assert smoothing.weight.shape == (2, 1, 3, 5)  # buffer `weight`, one kernel per channel
    np.testing.assert_allclose(smoothing.weight[1, 0].numpy(), kernel, rtol=1e-6)
    impulse = torch.zeros(1, 2, 7, 9)
    impulse[0, 0, 3, 4] = 1.0  # only channel 0: depthwise, channels do not mix
    blurred = smoothing(impulse).numpy()  # padding="same"
    assert blurred.shape == (1, 2, 7, 9)
    np.testing.assert_allclose(blurred[0, 0, 2:5, 2:7], kernel, rtol=1e-6)
    assert blurred[0, 0].sum() == pytest.approx(1.0, rel=1e-6)
    assert not blurred[0, 1].any()
    one_d = GaussianSmoothing(1, 3, 1.0, dim=1)(torch.ones(1, 1, 8))
    three_d = GaussianSmoothing(1, 3, 1.0, dim=3)(torch.ones(1, 1, 4, 4, 4))
    assert one_d.shape == (1, 1, 8) and three_d.shape == (1, 1, 4, 4, 4)


@pytest.mark.spec_row("optim.transforms.SymmetricPadding")
def test_symmetric_padding_is_numpy_symmetric_with_the_adjoint_backward():
    x = _f64(2, 3, 4, 5).requires_grad_()
    padding = [[0, 0], [1, 0], [2, 3], [4, 1]]
    out = SymmetricPadding.apply(x, padding)
    expected = np.pad(x.detach().numpy(), padding, mode="symmetric")
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    # deliberate: backward is the exact adjoint, gradients of the mirrored pixels reach their
    # source (captum cropped the padding away and dropped them): <P x, y> = <x, P^T y>
    y = _f64(*out.shape, seed=1)
    (gradient,) = torch.autograd.grad(out, x, y)
    adjoint, forward = float((gradient * x.detach()).sum()), float((out.detach() * y).sum())
    assert adjoint == pytest.approx(forward, rel=1e-12)


@pytest.mark.spec_row("optim.transforms.NChannelsToRGB")
def test_nchannels_to_rgb_module_defaults_to_no_warp():
    x = _f64(1, 5, 2, 2)
    np.testing.assert_array_equal(
        NChannelsToRGB()(x).numpy(), opt.nchannels_to_rgb(x, warp=False).numpy()
    )
    np.testing.assert_array_equal(
        NChannelsToRGB(warp=True)(x).numpy(), opt.nchannels_to_rgb(x).numpy()
    )
    assert not np.allclose(NChannelsToRGB()(x).numpy(), NChannelsToRGB(warp=True)(x).numpy())


@pytest.mark.spec_row("optim.transforms.RandomCrop")
def test_random_crop_rolls_then_crops_the_centre():
    x = _f64(1, 1, 8, 9)
    crop = RandomCrop((4, 4), generator=torch.Generator().manual_seed(0))
    max_h, max_w = math.ceil((8 - 4) / 2), math.ceil((9 - 4) / 2)
    candidates = {
        (h, w): _center_crop_reference(
            np.roll(x.numpy(), (h, w), axis=(2, 3)), (4, 4), False, False, "constant", 0.0
        )
        for h in range(-max_h, max_h + 1)
        for w in range(-max_w, max_w + 1)
    }
    seen = set()
    for _ in range(60):
        out = crop(x).numpy()
        assert out.shape == (1, 1, 4, 4)
        seen |= {shift for shift, window in candidates.items() if np.array_equal(window, out)}
    # deliberate: shifts in [-s, s] (captum: [-s, s)), so the last window can come out too
    assert {h for h, _ in seen} == set(range(-max_h, max_h + 1))
    assert {w for _, w in seen} == set(range(-max_w, max_w + 1))


@pytest.mark.spec_row("optim.transforms.TransformationRobustness")
def test_transformation_robustness_stages_in_order():
    robustness = TransformationRobustness(generator=torch.Generator().manual_seed(0))
    assert (
        len(robustness.random_scale.scale) == 125 and len(robustness.random_rotation.degrees) == 75
    )
    stages = {
        "pad": robustness.padding_transform,
        "jitter": robustness.jitter_transforms,
        "scale": robustness.random_scale,
        "rotate": robustness.random_rotation,
        "final": robustness.final_jitter,
    }
    assert len(robustness.jitter_transforms) == 10
    assert all(j.translate == 4 for j in robustness.jitter_transforms)
    assert robustness.final_jitter.translate == 2
    assert isinstance(robustness.padding_transform, nn.ConstantPad2d)
    assert robustness.padding_transform.padding == (2, 2, 2, 2)
    assert robustness.padding_transform.value == 0.5
    order = []
    for name, module in stages.items():
        module.register_forward_hook(lambda *args, name=name: order.append(name))
    robustness(torch.rand(1, 3, 32, 32))
    assert order == ["pad", "jitter", "scale", "rotate", "final"]
    # deliberate: each instance builds its own padding module (captum shared one instance)
    assert TransformationRobustness().padding_transform is not robustness.padding_transform

    x = _f64(1, 3, 6, 6)
    only_pad = TransformationRobustness(
        translate=None, scale=None, degrees=None, final_translate=None
    )
    expected = np.pad(x.numpy(), [(0, 0), (0, 0), (2, 2), (2, 2)], constant_values=0.5)
    np.testing.assert_array_equal(only_pad(x).numpy(), expected)  # any stage can be None
    cropped = TransformationRobustness(
        translate=None, scale=None, degrees=None, final_translate=None, crop_or_pad_output=True
    )
    np.testing.assert_array_equal(cropped(x).numpy(), x.numpy())  # crop back to the input HW
    single = TransformationRobustness(translate=3)
    assert isinstance(single.jitter_transforms, RandomSpatialJitter)  # an int: one jitter
    assert single.jitter_transforms.translate == 3


# ---- §2.11 image utilities ------------------------------------------------------------------


@pytest.mark.spec_row("optim.make_grid_image")
def test_make_grid_image_layout():
    tiles = _f64(5, 2, 3, 4)
    grid = opt.make_grid_image(tiles, images_per_row=2, padding=1, pad_value=-1.0).numpy()
    # H' = (H + p)·rows + p, W' = (W + p)·min(images_per_row, B) + p; channels kept
    expected = np.full((1, 2, (3 + 1) * 3 + 1, (4 + 1) * 2 + 1), -1.0)
    for index, tile in enumerate(tiles.numpy()):
        top, left = 1 + (index // 2) * 4, 1 + (index % 2) * 5
        expected[0, :, top : top + 3, left : left + 4] = tile
    np.testing.assert_array_equal(grid, expected)
    listed = opt.make_grid_image([tiles[:2], tiles[2:]], images_per_row=2, padding=1, pad_value=-1)
    np.testing.assert_array_equal(listed.numpy(), expected)  # a list of NCHW
    assert opt.make_grid_image(tiles[:3]).shape == (1, 2, 3 + 4, (4 + 2) * 3 + 2)  # min(4, B)


@pytest.mark.spec_row("optim.image_utils.get_neuron_pos")
def test_get_neuron_pos_defaults_to_the_centre():
    from optim.image_utils import get_neuron_pos

    assert get_neuron_pos(7, 8) == (8 // 2, 7 // 2)  # (_x, _y) = (W//2, H//2)
    assert get_neuron_pos(7, 8, x=1, y=6) == (1, 6)
    assert get_neuron_pos(7, 8, y=0) == (4, 0)
    # deliberate: out of range is a ValueError naming the valid range (captum asserted x<W, y<H)
    with pytest.raises(ValueError, match=r"\[0, 7\]"):
        get_neuron_pos(7, 8, x=8)
    with pytest.raises(ValueError, match=r"\[0, 6\]"):
        get_neuron_pos(7, 8, y=7)


_WHEEL = np.array(
    [[1, 0, 0], [0.7071, 0.7071, 0], [0, 1, 0], [0, 0.7071, 0.7071], [0, 0, 1], [0.7071, 0, 0.7071]]
)


def _hue_reference(angle: float, warp: bool) -> np.ndarray:
    """The row hue_to_rgb: interpolate the 6-colour wheel, warped, as a unit vector."""
    index = int(angle // 60)
    d = (angle - index * 60) / 60
    if warp:
        d = math.sin(d * math.pi / 2) if index % 2 == 0 else 1 - math.sin((1 - d) * math.pi / 2)
    vec = (1 - d) * _WHEEL[index % 6] + d * _WHEEL[(index + 1) % 6]
    return vec / np.linalg.norm(vec)


@pytest.mark.spec_row("optim.hue_to_rgb")
def test_hue_to_rgb_wheel():
    printed = [[1, 0, 0], [0.5334, 0.8459, 0], [0, 0.7071, 0.7071], [0.5334, 0, 0.8459]]
    for group, expected in enumerate(printed):  # the row's reference: 4 groups, warp
        got = opt.hue_to_rgb(360 * group / 4)
        assert got.shape == (3,) and got.device.type == "cpu"
        np.testing.assert_allclose(got.numpy(), expected, atol=5e-5 + 1e-6)
        np.testing.assert_allclose(_hue_reference(360 * group / 4, True), expected, atol=5e-5)
    # without warp, 30° is halfway red → yellow: (cos 22.5°, sin 22.5°, 0)
    expected = [math.cos(math.pi / 8), math.sin(math.pi / 8), 0.0]
    np.testing.assert_allclose(opt.hue_to_rgb(30.0, warp=False).numpy(), expected, rtol=1e-5)
    for angle in (17.0, 100.0, 222.0, 359.0):
        for warp in (True, False):
            got = opt.hue_to_rgb(angle, warp=warp).numpy()
            np.testing.assert_allclose(got, _hue_reference(angle, warp), atol=1e-6)
    # deliberate: any angle is taken modulo 360 (captum indexed past the wheel from 360° on)
    np.testing.assert_allclose(opt.hue_to_rgb(450.0).numpy(), opt.hue_to_rgb(90.0).numpy())


@pytest.mark.spec_row("optim.nchannels_to_rgb")
@pytest.mark.parametrize("warp", [True, False])
def test_nchannels_to_rgb_formula(warp):
    for x in (_f64(2, 5, 3, 3), _f64(1, 3, 2, 2) - 0.5):  # the second has negative values
        a = x.numpy()
        if (a < 0).any():  # posneg on the channel dim doubles the channels
            a = np.concatenate([np.maximum(a, 0), np.maximum(-a, 0)], axis=1)
        channels = a.shape[1]
        hues = np.stack([_hue_reference(360 * i / channels, warp) for i in range(channels)])
        rgb = np.einsum("bchw,cr->brhw", a, hues)
        rgb = rgb + (a.sum(1, keepdims=True) - a.max(1, keepdims=True))  # grey
        norm = np.linalg.norm(rgb, axis=1, keepdims=True)
        expected = rgb / (1e-4 + norm) * np.linalg.norm(a, axis=1, keepdims=True)
        got = opt.nchannels_to_rgb(x, warp=warp).numpy()
        assert got.shape == (x.shape[0], 3, *x.shape[2:])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert opt.nchannels_to_rgb(_f64(4, 2, 2)).shape == (1, 3, 2, 2)  # CHW


def _hex(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (0, 2, 4)]) / 255


@pytest.mark.spec_row("optim.weights_to_heatmap_2d")
def test_weights_to_heatmap_2d_diverging_map():
    blue, light_blue, white, light_red, red = (
        _hex(c) for c in ("0571b0", "92c5de", "f7f7f7", "f4a582", "ca0020")
    )
    values = [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0]
    expected = [
        blue,
        (blue + light_blue) / 2,
        light_blue,
        (light_blue + white) / 2,
        white,
        (white + light_red) / 2,
        light_red,
        (light_red + red) / 2,
        red,
    ]
    weight = torch.tensor([values], dtype=torch.float64)
    heatmap = opt.weights_to_heatmap_2d(weight).numpy()
    assert heatmap.shape == (3, 1, 9)
    np.testing.assert_allclose(heatmap[:, 0].T, np.stack(expected), rtol=1e-12)
    # deliberate: beyond [-1, 1] the end colours hold (captum extrapolated past them)
    beyond = opt.weights_to_heatmap_2d(torch.tensor([[3.0, -2.0]], dtype=torch.float64)).numpy()
    np.testing.assert_allclose(beyond[:, 0].T, np.stack([red, blue]), rtol=1e-12)


@pytest.mark.spec_row("optim.loss._common.dot_cossim")
def test_dot_cossim():
    from optim.loss._common import dot_cossim

    x, y = _f64(2, 4, 3, seed=1), _f64(2, 4, 3, seed=2)
    z = (
        y[:, :, 0]
        - (y[:, :, 0] * x[:, :, 0]).sum(1, keepdim=True)
        / (x[:, :, 0] ** 2).sum(1, keepdim=True)
        * x[:, :, 0]
    )
    y[:, :, 0] = z + 0.05 * x[:, :, 0]  # nearly orthogonal: 0 < cos < 0.1
    y[:, :, 1] = -x[:, :, 1]  # opposite: cos = -1
    a, b = x.numpy(), y.numpy()
    dot = (a * b).sum(1)
    np.testing.assert_allclose(dot_cossim(x, y).numpy(), dot, rtol=1e-14)  # cossim_pow=0
    cos = dot / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    expected = dot * np.maximum(cos, 0.1) ** 2.5  # cosine similarity clamped at 0.1
    np.testing.assert_allclose(dot_cossim(x, y, cossim_pow=2.5).numpy(), expected, rtol=1e-12)
    assert (cos < 0.1).any() and (cos > 0.1).any()  # both sides of the clamp are checked
    along_last = dot_cossim(x, y, cossim_pow=1.0, dim=2).numpy()
    dot2 = (a * b).sum(2)
    cos2 = dot2 / (np.linalg.norm(a, axis=2) * np.linalg.norm(b, axis=2))
    np.testing.assert_allclose(along_last, dot2 * np.maximum(cos2, 0.1), rtol=1e-12)


@pytest.mark.spec_row("optim.loss._common.create_new_vector")
def test_create_new_vector():
    from optim.loss._common import create_new_vector

    x = _f64(2, 3, 4, 5) - 0.5
    vec = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    a, v = x.numpy(), vec.numpy()
    # relu, channels last, x @ vec, mean over the spatial dims → [B]
    expected = (np.maximum(a, 0).transpose(0, 2, 3, 1) @ v).mean(axis=(1, 2))
    np.testing.assert_allclose(create_new_vector(x, vec).numpy(), expected, rtol=1e-12)
    identity = (a.transpose(0, 2, 3, 1) @ v).mean(axis=(1, 2))  # activation_fn=None
    np.testing.assert_allclose(create_new_vector(x, vec, None).numpy(), identity, rtol=1e-12)
    flat = x[:, :, 0, 0]  # a 2D x → (x @ vec)[:, None]
    np.testing.assert_allclose(
        create_new_vector(flat, vec).numpy(), (np.maximum(a[:, :, 0, 0], 0) @ v)[:, None]
    )
    # deliberate: input already channels last (move_channel_dim_to_final_dim=False) is reduced
    # the same way, to [B] (captum returned the unreduced (x @ vec)[:, None])
    last = create_new_vector(x.permute(0, 2, 3, 1), vec, move_channel_dim_to_final_dim=False)
    np.testing.assert_allclose(last.numpy(), expected, rtol=1e-12)
    for bad_x, bad_vec in ((x[0, :, 0, 0], vec), (x, vec[None])):  # x ≥ 2D, vec 1D
        with pytest.raises(ValueError):
            create_new_vector(bad_x, bad_vec)


def test_every_spec_row_has_a_conformance_test(spec_row_report):
    untested, unresolvable = spec_row_report
    assert untested == [], f"SPEC rows without a conformance test: {untested}"
    assert unresolvable == [], f"SPEC rows that do not import: {unresolvable}"
