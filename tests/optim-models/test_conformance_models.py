"""SPEC §3 (the pretrained model zoo), row by row.

Structure and shapes are checked on models built on the ``meta`` device (no memory, no
initialisation); values (input conventions, attention pooling, the text tower's read-out) on
small CPU models against numpy. No weights are downloaded: the loading rules are checked with
a recording loader, a state dict the test saves, and a download that fails as it does offline.
TorchScript / torch.export of the zoo is tests/optim-models/test_conformance_script.py.
"""

from __future__ import annotations

import inspect
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import optim as opt
from optim.hooks import collect_activations
from optim.model_utils import Conv2dSame, RedirectedReluLayer, SkipLayer, get_model_layers
from optim.models import (
    VGG,
    CLIP_ResNet50x4Image,
    CLIP_ResNet50x4Text,
    CLIPTokenizer,
    InceptionV1,
    InceptionV1Places365,
)
from optim.models.local_response_norm import LocalResponseNorm
from optim.models.weights import WeightsFileError, WeightsUnavailableError

SPEC_ROWS: list[str] = [
    "optim.models.googlenet",
    "optim.models.InceptionV1",
    "optim.models.googlenet_places365",
    "optim.models.InceptionV1Places365",
    "optim.models.vgg16",
    "optim.models.VGG",
    "optim.models.VGG16_LAYERS",
    "optim.models.clip_resnet50x4_image",
    "optim.models.CLIP_ResNet50x4Image",
    "optim.models.clip_resnet50x4_text",
    "optim.models.CLIP_ResNet50x4Text",
    "optim.models.INCEPTION5H_CLASSES",
    "optim.models.INCEPTIONV1_PLACES365_CLASSES",
    "optim.models.CLIPTokenizer",  # SPEC §2.3 (captum kept it in opt.transforms)
    # the building blocks §3 names (captum kept them in its _image modules)
    "optim.models.inception_module.InceptionModule",
    "optim.models.inception_module.AuxBranch",
    "optim.models.local_response_norm.LocalResponseNorm",
    "optim.models.clip_resnet50x4_image.Bottleneck",
    "optim.models.clip_resnet50x4_image.AttentionPool2d",
    "optim.models.clip_resnet50x4_text.ResidualAttentionBlock",
    "optim.models.clip_resnet50x4_text.QuickGELU",
]

REQUIRED = inspect.Parameter.empty
FACTORY = {"pretrained": False, "progress": True, "model_path": None}
IMAGE_OPTIONS = {"replace_relus_with_redirectedrelu": False, "use_linear_modules_only": False}
SPEC_VGG16_LAYERS = [64, 64, "P", 128, 128, "P", 256, 256, 256, "P"] + [512, 512, 512, "P"] * 2


def _meta(build, **options) -> nn.Module:
    with torch.device("meta"):
        return build(**options)


# ---- signatures ----------------------------------------------------------------------------
SIGNATURES = [
    *[
        (f"optim.models.{f}", FACTORY)
        for f in (
            "googlenet",
            "googlenet_places365",
            "vgg16",
            "clip_resnet50x4_image",
            "clip_resnet50x4_text",
        )
    ],
    (
        "optim.models.InceptionV1",
        {"out_features": 1008, "aux_logits": False, "transform_input": False}
        | {"bgr_transform": False, **IMAGE_OPTIONS},
    ),
    (
        "optim.models.InceptionV1Places365",
        {"out_features": 365, "aux_logits": True, "transform_input": True, **IMAGE_OPTIONS},
    ),
    (
        "optim.models.VGG",
        {"layers": SPEC_VGG16_LAYERS, "out_features": 1000, "transform_input": True}
        | {"scale_input": True, "classifier_logits": False, **IMAGE_OPTIONS},
    ),
    # deliberate (README): use_attnpool defaults to False as in the factory (captum: class True)
    (
        "optim.models.CLIP_ResNet50x4Image",
        {"transform_input": False, **IMAGE_OPTIONS, "use_attnpool": False},
    ),
    (
        "optim.models.CLIP_ResNet50x4Text",
        {"width": 640, "num_heads": 10, "num_residual_layers": 12, "content_length": 77}
        | {"vocab_size": 49408},
    ),
    # SPEC writes InceptionModule(in, c1x1, ..., pool_proj, activ, p_layer) and
    # AuxBranch(in=508, out=1008, activ); optim spells in/out as in_channels/out_features.
    (
        "optim.models.inception_module.InceptionModule",
        dict.fromkeys(
            ["in_channels", "c1x1", "c3x3reduce", "c3x3", "c5x5reduce", "c5x5", "pool_proj"],
            REQUIRED,
        )
        | {"activ": nn.ReLU, "p_layer": nn.MaxPool2d},
    ),
    (
        "optim.models.inception_module.AuxBranch",
        {"in_channels": 508, "out_features": 1008, "activ": nn.ReLU},
    ),
    (
        "optim.models.clip_resnet50x4_image.AttentionPool2d",
        {"spacial_size": 9, "in_features": 2560, "out_features": 640, "num_heads": 40},
    ),
    (
        "optim.models.clip_resnet50x4_text.ResidualAttentionBlock",
        {"width": 640, "num_heads": 10},
    ),
    (
        "optim.models.local_response_norm.LocalResponseNorm",
        {"size": REQUIRED, "alpha": 1e-4, "beta": 0.75, "k": 1.0},  # nn.LocalResponseNorm's
    ),
]


@pytest.mark.spec_row(*[row for row, _ in SIGNATURES], "optim.models.VGG16_LAYERS")
@pytest.mark.parametrize(("row", "expected"), SIGNATURES, ids=[r for r, _ in SIGNATURES])
def test_signature_defaults(row, expected, spec_row_object):
    params = dict(inspect.signature(spec_row_object(row)).parameters)
    assert list(params)[: len(expected)] == list(expected), "SPEC's positional order"
    assert {k: params[k].default for k in expected} == expected
    if expected is FACTORY:  # f(pretrained=False, progress=True, model_path=None, **kwargs)
        assert list(params.values())[-1].kind is inspect.Parameter.VAR_KEYWORD
    assert opt.models.VGG16_LAYERS == SPEC_VGG16_LAYERS


# ---- pretrained defaults and weight URLs ----------------------------------------------------
# factory -> (class, weight URL as in SPEC, pretrained defaults as in SPEC)
ZOO = {
    "googlenet": (
        InceptionV1,
        "https://pytorch.s3.amazonaws.com/models/captum/inception5h.pth",
        {"transform_input": True, "bgr_transform": False}
        | {"replace_relus_with_redirectedrelu": True, "use_linear_modules_only": False}
        | {"aux_logits": False, "out_features": 1008},
    ),
    "googlenet_places365": (
        InceptionV1Places365,
        "https://pytorch-tutorial-assets.s3.amazonaws.com/captum/inceptionv1_places365.pth",
        {"transform_input": True, "replace_relus_with_redirectedrelu": True}
        | {"use_linear_modules_only": False, "aux_logits": True, "out_features": 365},
    ),
    "vgg16": (
        VGG,
        "https://pytorch-tutorial-assets.s3.amazonaws.com/captum/vgg16_caffe_features.pth",
        {"transform_input": True, "scale_input": True, "classifier_logits": False}
        | {"replace_relus_with_redirectedrelu": False, "use_linear_modules_only": False}
        | {"out_features": 1000},
    ),
    "clip_resnet50x4_image": (
        CLIP_ResNet50x4Image,
        "https://pytorch.s3.amazonaws.com/models/captum/clip_resnet50x4_image.pt",
        {"transform_input": True, "replace_relus_with_redirectedrelu": True}
        | {"use_linear_modules_only": False, "use_attnpool": False},
    ),
    "clip_resnet50x4_text": (
        CLIP_ResNet50x4Text,
        "https://pytorch.s3.amazonaws.com/models/captum/clip_resnet50x4_text.pt",
        {},
    ),
}


@pytest.fixture
def recorded_loads(monkeypatch) -> list[dict]:
    """The zoo's weight loader replaced by one that records what it was asked to load."""
    import optim.models.factory as factory

    calls: list[dict] = []

    def record(model, url=None, model_path=None, progress=True, **kwargs):
        calls.append({"url": url, "model_path": model_path, "progress": progress})
        return model

    monkeypatch.setattr(factory, "load_weights", record)
    return calls


@pytest.mark.spec_row(
    *[f"optim.models.{f}" for f in ZOO], *[f"optim.models.{c.__name__}" for c, _, _ in ZOO.values()]
)
@pytest.mark.parametrize("factory", list(ZOO))
def test_pretrained_injects_the_defaults_and_loads_the_spec_url(factory, recorded_loads):
    cls, url, defaults = ZOO[factory]
    model = _meta(getattr(opt.models, factory), pretrained=True, progress=False)
    assert recorded_loads == [{"url": url, "model_path": None, "progress": False}]
    expected = _meta(cls, **defaults)
    assert repr(model) == repr(expected)  # layer types (redirected ReLUs), sizes
    for option, value in defaults.items():
        if option in vars(model):
            assert getattr(model, option) == value, option
    assert not model.training  # deliberate (README): pretrained models come in eval mode
    # without pretrained nothing is loaded and the class defaults apply
    assert repr(_meta(getattr(opt.models, factory))) == repr(_meta(cls))
    assert len(recorded_loads) == 1


@pytest.mark.spec_row("optim.models.googlenet")
def test_pretrained_defaults_fill_only_the_options_not_given(recorded_loads):
    # Row: "with pretrained=True and no explicit kwargs, the defaults are injected".
    # deliberate (README): each option not given gets its pretrained default (captum dropped
    # them all as soon as one kwarg was given), and model_path alone implies loading.
    model = _meta(opt.models.googlenet, pretrained=True, aux_logits=True)
    assert model.aux_logits and model.transform_input
    assert isinstance(model.conv1_relu, RedirectedReluLayer)
    model = _meta(opt.models.googlenet, model_path="inception5h.pth")
    assert recorded_loads[-1]["model_path"] == "inception5h.pth" and model.transform_input


@pytest.mark.spec_row(*[f"optim.models.{f}" for f in ZOO])
@pytest.mark.parametrize("factory", list(ZOO))
def test_pretrained_without_the_file_offline_says_where_to_place_it(factory, offline):
    _, url, _ = ZOO[factory]
    # the file torch.hub.load_state_dict_from_url(url) caches: hub/checkpoints/<basename>
    path = offline / url.rsplit("/", 1)[1]
    with pytest.raises(WeightsUnavailableError) as info:
        _meta(getattr(opt.models, factory), pretrained=True)
    message = str(info.value)
    assert url in message and str(path) in message and "model_path=" in message


@pytest.fixture(scope="module")
def inception() -> InceptionV1:
    torch.manual_seed(0)
    return InceptionV1().eval()


@pytest.mark.spec_row("optim.models.googlenet")
def test_weights_load_from_the_hub_cache_file_or_model_path(
    hub_checkpoints, tmp_path, constant_state_dict
):
    state = constant_state_dict(_meta(InceptionV1))  # entry i filled with i / 1000
    for path in (hub_checkpoints / "inception5h.pth", tmp_path / "mine.pth"):
        torch.save(state, path)
    from_cache = opt.models.googlenet(pretrained=True)  # hub/checkpoints/<URL's basename>
    from_path = opt.models.googlenet(model_path=tmp_path / "mine.pth")
    for model in (from_cache, from_path):
        loaded = model.state_dict()
        assert loaded.keys() == state.keys()
        for key, value in state.items():
            assert loaded[key].device.type == "cpu" and torch.equal(loaded[key], value), key
    # deliberate (README): weights_only=True, so a file of other pickled objects is refused
    torch.save({"fc.weight": nn.Linear(1, 1)}, tmp_path / "pickled.pth")
    with pytest.raises(WeightsFileError, match="not a plain state dict"):
        opt.models.googlenet(model_path=tmp_path / "pickled.pth")


# ---- input conventions (transform_input=True) -------------------------------------------------
class _Seen(Exception):
    """Raised by a pre-hook with the input the model's first layer received."""


def _first_layer_input(model: nn.Module, first: nn.Module, x: torch.Tensor) -> np.ndarray:
    def stop(module, args):
        raise _Seen(args[0])

    handle = first.register_forward_pre_hook(stop)
    try:
        model(x)
    except _Seen as seen:
        return seen.args[0].detach().double().numpy()
    finally:
        handle.remove()
    raise AssertionError("the first layer was not called")


# float32 arithmetic on values up to ~255: a few ulps of 255
ULPS_OF_255 = 4 * 255 * np.finfo(np.float32).eps
CAFFE_VGG_MEAN = np.array([123.68, 116.779, 103.939])
PLACES_MEAN = np.array([116.7894, 112.6004, 104.0437])
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711])


def _per_channel(v: np.ndarray) -> np.ndarray:
    return v.reshape(1, 3, 1, 1)


# name -> (row, model, first layer, input scale, numpy oracle of what the first layer sees)
CONVENTIONS = {
    "inception": (
        "optim.models.InceptionV1",
        lambda: InceptionV1(transform_input=True),
        "conv1",
        1.0,
        lambda x: x * 255 - 117,
    ),
    "inception bgr": (
        "optim.models.InceptionV1",
        lambda: InceptionV1(transform_input=True, bgr_transform=True),
        "conv1",
        1.0,
        lambda x: (x * 255 - 117)[:, ::-1],
    ),
    "inception raw": (
        "optim.models.InceptionV1",
        lambda: InceptionV1(transform_input=False),
        "conv1",
        40.0,
        lambda x: x,
    ),
    "places365": (
        "optim.models.InceptionV1Places365",
        lambda: InceptionV1Places365(),
        "conv1",
        1.0,
        lambda x: (x * 255 - _per_channel(PLACES_MEAN))[:, ::-1],  # always RGB -> BGR
    ),
    "vgg": (
        "optim.models.VGG",
        lambda: VGG(),
        "features.0",
        1.0,
        lambda x: (x * 255 - _per_channel(CAFFE_VGG_MEAN))[:, ::-1],
    ),
    "vgg unscaled": (
        "optim.models.VGG",
        lambda: VGG(scale_input=False),
        "features.0",
        255.0,
        lambda x: (x - _per_channel(CAFFE_VGG_MEAN))[:, ::-1],
    ),
    "clip": (
        "optim.models.CLIP_ResNet50x4Image",
        lambda: CLIP_ResNet50x4Image(transform_input=True),
        "conv1",
        1.0,
        lambda x: (x - _per_channel(CLIP_MEAN)) / _per_channel(CLIP_STD),
    ),
}


@pytest.mark.spec_row(*sorted({row for row, *_ in CONVENTIONS.values()}))
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_input_convention(name):
    _, build, first, scale, oracle = CONVENTIONS[name]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(1)) * scale
    seen = _first_layer_input(model, model.get_submodule(first), x)
    expected = oracle(x.double().numpy())
    np.testing.assert_allclose(seen, expected, rtol=0, atol=ULPS_OF_255)


@pytest.mark.spec_row("optim.models.InceptionV1")
def test_inception_accepts_chw_and_warns_outside_unit_range():
    model = InceptionV1(transform_input=True)
    x = torch.rand(3, 4, 4)
    seen = _first_layer_input(model, model.conv1, x)  # CHW is unsqueezed
    np.testing.assert_allclose(seen, x.double().numpy()[None] * 255 - 117, atol=ULPS_OF_255)
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        _first_layer_input(model, model.conv1, torch.full((1, 3, 4, 4), 1.5))
    # deliberate (README): float overshoot up to 1e-3 (resizing) is not worth a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _first_layer_input(model, model.conv1, torch.full((1, 3, 4, 4), 1.0005))


@pytest.mark.spec_row("optim.models.VGG")
def test_vgg_range_warning_only_when_scaling():
    # Row quirk: `x.min()<0 or x.max()>1 and scale_input`. deliberate (README): the warning is
    # `scale_input and (min < 0 or max > 1)`, so Caffe-range input without scaling is quiet.
    negative = torch.full((1, 3, 4, 4), -5.0)
    unscaled, scaled = VGG(scale_input=False), VGG()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _first_layer_input(unscaled, unscaled.features[0], negative)
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        _first_layer_input(scaled, scaled.features[0], negative)


# ---- InceptionV1 / Places365 structure -------------------------------------------------------
INCEPTION_NAMES = [
    "conv1",
    "conv1_relu",
    "pool1",
    "local_response_norm1",
    "conv2",
    "conv2_relu",
    "conv3",
    "conv3_relu",
    "local_response_norm2",
    "pool2",
    "mixed3a",
    "mixed3a_relu",
    "mixed3b",
    "mixed3b_relu",
    "pool3",
    "mixed4a",
    "mixed4a_relu",
    "aux1",
    "mixed4b",
    "mixed4b_relu",
    "mixed4c",
    "mixed4c_relu",
    "mixed4d",
    "mixed4d_relu",
    "aux2",
    "mixed4e",
    "mixed4e_relu",
    "pool4",
    "mixed5a",
    "mixed5a_relu",
    "mixed5b",
    "mixed5b_relu",
    "avgpool",
    "drop",
    "fc",
]
INCEPTION_MODULE_NAMES = [
    "conv_1x1",
    "conv_3x3_reduce",
    "conv_3x3_reduce_relu",
    "conv_3x3",
    "conv_5x5_reduce",
    "conv_5x5_reduce_relu",
    "conv_5x5",
    "pool",
    "pool_proj",
]
AUX_NAMES = ["avg_pool", "conv", "conv_relu", "fc1", "fc1_relu", "dropout", "fc2"]

# SPEC's channel configs (in, c1x1, c3x3reduce, c3x3, c5x5reduce, c5x5, pool_proj) = out
INCEPTION5H_MIXED = {
    "3a": ((192, 64, 96, 128, 16, 32, 32), 256),
    "3b": ((256, 128, 128, 192, 32, 96, 64), 480),
    "4a": ((480, 192, 96, 204, 16, 48, 64), 508),
    "4b": ((508, 160, 112, 224, 24, 64, 64), 512),
    "4c": ((512, 128, 128, 256, 24, 64, 64), 512),
    "4d": ((512, 112, 144, 288, 32, 64, 64), 528),
    "4e": ((528, 256, 160, 320, 32, 128, 128), 832),
    "5a": ((832, 256, 160, 320, 48, 128, 128), 832),
    "5b": ((832, 384, 192, 384, 48, 128, 128), 1024),
}
# Places365 differences: 4a uses 208 (512 out), 4b in=512, 5a c5x5reduce=32
PLACES365_MIXED = INCEPTION5H_MIXED | {
    "4a": ((480, 192, 96, 208, 16, 48, 64), 512),
    "4b": ((512, 160, 112, 224, 24, 64, 64), 512),
    "5a": ((832, 256, 160, 320, 32, 128, 128), 832),
}
SPATIAL_AT_224 = {"3": 28, "4": 14, "5": 7}


def _children(module: nn.Module) -> list[str]:
    return [name for name, _ in module.named_children()]


def _mixed_config(block: nn.Module) -> tuple[int, ...]:
    return (
        block.conv_1x1.in_channels,
        block.conv_1x1.out_channels,
        block.conv_3x3_reduce.out_channels,
        block.conv_3x3.out_channels,
        block.conv_5x5_reduce.out_channels,
        block.conv_5x5.out_channels,
        block.pool_proj.out_channels,
    )


GOOGLENETS = {
    "googlenet": (lambda: InceptionV1(aux_logits=True), INCEPTION5H_MIXED, 1008),
    "googlenet_places365": (lambda: InceptionV1Places365(), PLACES365_MIXED, 365),
}


@pytest.mark.spec_row(
    "optim.models.googlenet",
    "optim.models.InceptionV1",
    "optim.models.googlenet_places365",
    "optim.models.InceptionV1Places365",
    "optim.models.inception_module.InceptionModule",
    "optim.models.inception_module.AuxBranch",
)
@pytest.mark.parametrize("name", list(GOOGLENETS))
def test_googlenet_names_channels_and_shapes(name):
    build, mixed, classes = GOOGLENETS[name]
    model = _meta(build).eval()
    assert _children(model) == INCEPTION_NAMES
    assert _children(model.mixed4c) == INCEPTION_MODULE_NAMES
    assert _children(model.aux2) == AUX_NAMES
    assert "aux1" not in _children(_meta(type(model), aux_logits=False))
    shapes = get_model_layers(model, input_size=224)
    for key, (config, out) in mixed.items():
        assert _mixed_config(model.get_submodule(f"mixed{key}")) == config, key
        assert sum(config[i] for i in (1, 3, 5, 6)) == out  # SPEC's "= out", as a check of it
        size = SPATIAL_AT_224[key[0]]
        assert shapes[f"mixed{key}"] == shapes[f"mixed{key}_relu"] == (1, out, size, size)
    assert shapes["fc"] == shapes["aux1"] == shapes["aux2"] == (1, classes)
    out = model(torch.zeros(2, 3, 224, 224, device="meta"))  # aux_logits: (x, aux1, aux2)
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, classes)] * 3


def _attrs(module: nn.Module, **expected) -> dict:
    return {k: getattr(module, k) for k in expected}


# layer -> (type, attributes) from SPEC's layer list, InceptionModule and AuxBranch
INCEPTION_LAYERS = {
    "conv1": (Conv2dSame, {"in_channels": 3, "out_channels": 64, "kernel_size": (7, 7)}),
    "pool1": (nn.MaxPool2d, {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
    "local_response_norm1": (nn.LocalResponseNorm, {"size": 11, "alpha": 0.0011}),
    "conv2": (nn.Conv2d, {"in_channels": 64, "out_channels": 64, "kernel_size": (1, 1)}),
    "conv3": (Conv2dSame, {"in_channels": 64, "out_channels": 192, "kernel_size": (3, 3)}),
    "avgpool": (nn.AdaptiveAvgPool2d, {"output_size": (1, 1)}),
    "drop": (nn.Dropout, {"p": 0.4000000059604645}),
    "fc": (nn.Linear, {"in_features": 1024, "out_features": 1008}),
    "mixed3a.conv_3x3": (Conv2dSame, {"kernel_size": (3, 3)}),
    "mixed3a.conv_5x5": (Conv2dSame, {"kernel_size": (5, 5)}),
    "mixed3a.pool": (nn.MaxPool2d, {"kernel_size": 3, "stride": 1, "padding": 1}),
    "aux1.avg_pool": (nn.AdaptiveAvgPool2d, {"output_size": (4, 4)}),
    "aux1.conv": (nn.Conv2d, {"in_channels": 508, "out_channels": 128, "kernel_size": (1, 1)}),
    "aux1.fc1": (nn.Linear, {"in_features": 2048, "out_features": 1024}),
    "aux1.dropout": (nn.Dropout, {"p": 0.699999988079071}),
    "aux1.fc2": (nn.Linear, {"in_features": 1024, "out_features": 1008}),
}


@pytest.mark.spec_row(
    "optim.models.InceptionV1",
    "optim.models.InceptionV1Places365",
    "optim.models.inception_module.InceptionModule",
    "optim.models.inception_module.AuxBranch",
)
def test_googlenet_layer_types_and_hyperparameters():
    model = _meta(InceptionV1, aux_logits=True)
    for name, (kind, expected) in INCEPTION_LAYERS.items():
        layer = model.get_submodule(name)
        assert isinstance(layer, kind) and _attrs(layer, **expected) == expected, name
    assert model.conv1.stride == (2, 2) and model.mixed3a.pool.ceil_mode
    lrn = model.local_response_norm2
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (11, 0.0011, 0.5, 2.0)
    # only the reduce convolutions are followed by an activation inside a mixed block
    activations = [n for n, m in model.mixed4b.named_children() if isinstance(m, nn.ReLU)]
    assert activations == ["conv_3x3_reduce_relu", "conv_5x5_reduce_relu"]

    places = _meta(InceptionV1Places365)
    lrn = places.local_response_norm1
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 9.999999747378752e-05, 0.75, 1.0)
    assert places.aux1.conv.in_channels == 512
    # SPEC lists no conv1 difference from InceptionV1's Conv2dSame. deliberate (README): the
    # Caffe model the weights come from pads conv1 by 3 on every side.
    assert type(places.conv1) is nn.Conv2d and places.conv1.padding == (3, 3)


@pytest.mark.spec_row("optim.models.InceptionV1", "optim.models.inception_module.InceptionModule")
def test_mixed_is_the_pre_relu_concatenation(inception):
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        acts = collect_activations(inception, ["pool3", "mixed4a", "mixed4a_relu"], x)
    block = inception.mixed4a
    with torch.no_grad():  # the four branches, concatenated before any ReLU
        h = acts["pool3"]
        branches = [
            block.conv_1x1(h),
            block.conv_3x3(torch.relu(block.conv_3x3_reduce(h))),
            block.conv_5x5(torch.relu(block.conv_5x5_reduce(h))),
            block.pool_proj(block.pool(h)),
        ]
    np.testing.assert_array_equal(acts["mixed4a"].numpy(), torch.cat(branches, 1).numpy())
    pre = acts["mixed4a"].numpy()
    assert (pre < 0).any()  # pre-ReLU (Lucid's mixed4a_pre_relu) ...
    np.testing.assert_array_equal(acts["mixed4a_relu"].numpy(), np.maximum(pre, 0))  # ... and after


@pytest.mark.spec_row("optim.models.googlenet", "optim.hooks.collect_activations")
def test_collect_activations_googlenet_mixed4d_at_224():
    model = _meta(opt.models.googlenet)
    acts = collect_activations(model, model.mixed4d)  # default input: zeros(1, 3, 224, 224)
    assert acts[model.mixed4d].shape == (1, 528, 14, 14)


@pytest.mark.spec_row("optim.models.local_response_norm.LocalResponseNorm")
@pytest.mark.parametrize(
    ("size", "alpha", "beta", "k"), [(11, 0.0011, 0.5, 2.0), (5, 1e-4, 0.75, 1.0)]
)
def test_local_response_norm_formula(size, alpha, beta, k):
    x = np.random.default_rng(0).normal(scale=20.0, size=(2, 13, 3, 3))
    # b_c = a_c (k + alpha / n * sum_{|c' - c| <= n // 2} a_c'^2) ** -beta  (odd n)
    squares = np.pad(x**2, ((0, 0), (size // 2, size // 2), (0, 0), (0, 0)))
    window = np.stack([squares[:, c : c + size].sum(1) for c in range(13)], axis=1)
    expected = x * (k + alpha / size * window) ** -beta
    got = LocalResponseNorm(size, alpha, beta, k)(torch.tensor(x))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


# ---- VGG16 -----------------------------------------------------------------------------------
# VGG16_LAYERS unrolled by hand: a channel count is conv + activation, "P" one pool
VGG_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
VGG_POOLS = [4, 9, 16, 23, 30]


@pytest.mark.spec_row("optim.models.vgg16", "optim.models.VGG", "optim.models.VGG16_LAYERS")
def test_vgg16_features_classifier_and_outputs():
    model = _meta(VGG, classifier_logits=True).eval()
    features = model.features
    assert len(features) == 31
    assert [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)] == VGG_CONVS
    assert [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)] == VGG_POOLS
    assert all(
        features[i].kernel_size == (3, 3) and features[i].padding == (1, 1) for i in VGG_CONVS
    )
    assert all((features[i].kernel_size, features[i].stride) == (2, 2) for i in VGG_POOLS)
    assert all(isinstance(features[i + 1], nn.ReLU) for i in VGG_CONVS)
    assert [features[i].out_channels for i in VGG_CONVS] == [
        c for c in SPEC_VGG16_LAYERS if c != "P"
    ]
    kinds = [type(m) for m in model.classifier]
    assert kinds == [nn.Linear, nn.ReLU, nn.Dropout] * 2 + [nn.Linear]
    linears = [
        (m.in_features, m.out_features) for m in model.classifier if isinstance(m, nn.Linear)
    ]
    assert linears == [(25088, 4096), (4096, 4096), (4096, 1000)]
    x = torch.zeros(2, 3, 224, 224, device="meta")
    assert model(x).shape == (2, 1000)  # classifier only with classifier_logits
    plain = _meta(opt.models.vgg16)
    assert not hasattr(plain, "classifier") and plain(x).shape == (2, 512, 7, 7)
    assert plain(torch.zeros(1, 3, 64, 64, device="meta")).shape == (1, 512, 7, 7)  # adaptive


# ---- layer options ---------------------------------------------------------------------------
IMAGE_MODELS = {
    "googlenet": opt.models.googlenet,
    "googlenet_places365": opt.models.googlenet_places365,
    "vgg16": opt.models.vgg16,
    "clip_resnet50x4_image": opt.models.clip_resnet50x4_image,
}


@pytest.mark.spec_row(
    *[f"optim.models.{f}" for f in IMAGE_MODELS], "optim.models.clip_resnet50x4_text"
)
@pytest.mark.parametrize("name", list(IMAGE_MODELS))
def test_redirected_and_linear_options(name):
    def kinds(model: nn.Module) -> set[type]:
        return {type(m) for m in model.modules()}

    redirected = kinds(_meta(IMAGE_MODELS[name], replace_relus_with_redirectedrelu=True))
    assert RedirectedReluLayer in redirected and nn.ReLU not in redirected
    plain = kinds(_meta(IMAGE_MODELS[name]))
    linear = kinds(_meta(IMAGE_MODELS[name], use_linear_modules_only=True))
    assert SkipLayer in linear and not linear & {nn.ReLU, RedirectedReluLayer, nn.MaxPool2d}
    # max pools become average pools, except in CLIP, which has none (no pooling swap)
    assert (nn.MaxPool2d in plain) == (name != "clip_resnet50x4_image")
    assert nn.AvgPool2d in linear


@pytest.mark.spec_row("optim.models.clip_resnet50x4_text")
@pytest.mark.parametrize("option", ["replace_relus_with_redirectedrelu", "use_linear_modules_only"])
def test_clip_text_takes_neither_option(option):
    # deliberate (README): an unknown option names the valid ones (captum: a bare TypeError)
    with pytest.raises(TypeError, match="Valid options: width"):
        opt.models.clip_resnet50x4_text(**{option: True})


# ---- CLIP RN50x4 image -----------------------------------------------------------------------
CLIP_NAMES = [
    "conv1",
    "bn1",
    "relu1",
    "conv2",
    "bn2",
    "relu2",
    "conv3",
    "bn3",
    "relu3",
    "avgpool",
    "layer1",
    "layer2",
    "layer3",
    "layer4",
    "attnpool",
]
BOTTLENECK_NAMES = [
    "conv1",
    "bn1",
    "relu1",
    "conv2",
    "bn2",
    "relu2",
    "avgpool",
    "conv3",
    "bn3",
    "relu3",
    "downsample",
]


@pytest.fixture(scope="module")
def clip_meta() -> CLIP_ResNet50x4Image:
    return _meta(CLIP_ResNet50x4Image, use_attnpool=True).eval()


@pytest.mark.spec_row(
    "optim.models.clip_resnet50x4_image",
    "optim.models.CLIP_ResNet50x4Image",
    "optim.models.clip_resnet50x4_image.Bottleneck",
)
def test_clip_image_structure(clip_meta):
    model = clip_meta
    assert _children(model) == CLIP_NAMES
    stem = [
        (c.in_channels, c.out_channels, c.stride) for c in (model.conv1, model.conv2, model.conv3)
    ]
    assert stem == [(3, 40, (2, 2)), (40, 40, (1, 1)), (40, 80, (1, 1))]
    assert isinstance(model.avgpool, nn.AvgPool2d) and model.avgpool.kernel_size == 2
    for i, (blocks, channels, stride) in enumerate(
        [(4, 320, 1), (6, 640, 2), (10, 1280, 2), (6, 2560, 2)], start=1
    ):
        layer = model.get_submodule(f"layer{i}")
        assert len(layer) == blocks and layer[0].conv3.out_channels == channels
        assert layer[0].conv3.out_channels == 4 * layer[0].conv1.out_channels  # expansion 4
        # anti-aliased: a stride is an AvgPool before conv3, and in the downsample's AvgPool
        anti_alias = layer[0].avgpool
        assert (anti_alias.kernel_size if stride > 1 else 1) == stride
        downsample = [type(m) for m in layer[0].downsample]
        assert downsample == [nn.AvgPool2d, nn.Conv2d, nn.BatchNorm2d]
    assert _children(model.layer2[0]) == BOTTLENECK_NAMES
    pool = model.attnpool
    assert pool.positional_embedding.shape == (82, 2560) and pool.num_heads == 40
    assert (pool.c_proj.in_features, pool.c_proj.out_features) == (2560, 640)


@pytest.mark.spec_row("optim.models.CLIP_ResNet50x4Image", "optim.models.clip_resnet50x4_image")
def test_clip_image_output_shapes(clip_meta):
    x288 = torch.zeros(2, 3, 288, 288, device="meta")
    assert clip_meta(x288).shape == (2, 640)  # attnpool
    shapes = get_model_layers(clip_meta, input_size=288)
    assert shapes["layer4"] == (1, 2560, 9, 9)
    for k in (0, 2, 4, 6, 8):  # the facet layers of the tutorials
        assert shapes[f"layer3.{k}.relu3"] == (1, 1280, 18, 18)
    without = _meta(opt.models.clip_resnet50x4_image)  # use_attnpool=False
    assert without(x288).shape == (2, 2560, 9, 9)
    assert without(torch.zeros(1, 3, 128, 128, device="meta")).shape == (1, 2560, 4, 4)
    # deliberate (README): attnpool at another size is a clear error naming the way out
    with pytest.raises(ValueError, match="use_attnpool=False"):
        clip_meta(torch.zeros(1, 3, 128, 128, device="meta"))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.mark.spec_row("optim.models.clip_resnet50x4_image.AttentionPool2d")
def test_attention_pool_formula():
    from optim.models.clip_resnet50x4_image import AttentionPool2d

    torch.manual_seed(0)
    pool = AttentionPool2d(spacial_size=2, in_features=4, out_features=3, num_heads=2).double()
    x = torch.randn(2, 4, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    p = {k: v.detach().numpy() for k, v in pool.named_parameters()}
    heads, d = 2, 2
    expected = []
    for sample in x.numpy():
        tokens = sample.reshape(4, -1).T  # positions row by row, [HW, C]
        tokens = np.concatenate([tokens.mean(0, keepdims=True), tokens]) + p["positional_embedding"]
        q = tokens[0] @ p["q_proj.weight"].T + p["q_proj.bias"]
        keys = tokens @ p["k_proj.weight"].T + p["k_proj.bias"]
        values = tokens @ p["v_proj.weight"].T + p["v_proj.bias"]
        attended = np.concatenate(
            [
                _softmax(keys[:, h * d : (h + 1) * d] @ q[h * d : (h + 1) * d] / math.sqrt(d))
                @ values[:, h * d : (h + 1) * d]
                for h in range(heads)
            ]
        )
        expected.append(attended @ p["c_proj.weight"].T + p["c_proj.bias"])  # token 0
    np.testing.assert_allclose(pool(x).detach().numpy(), np.array(expected), rtol=1e-10)


# ---- CLIP RN50x4 text ------------------------------------------------------------------------
@pytest.mark.spec_row(
    "optim.models.clip_resnet50x4_text",
    "optim.models.CLIP_ResNet50x4Text",
    "optim.models.clip_resnet50x4_text.ResidualAttentionBlock",
)
def test_clip_text_structure_and_shapes():
    model = _meta(opt.models.clip_resnet50x4_text)
    assert model.token_embedding.weight.shape == (49408, 640)
    assert model.positional_embedding.shape == (77, 640)
    assert model.text_projection.shape == (640, 640)
    assert isinstance(model.ln_final, nn.LayerNorm) and len(model.transformer) == 12
    block = model.transformer[0]
    assert set(_children(block)) == {"ln_1", "attn", "ln_2", "mlp"}
    assert isinstance(block.attn, nn.MultiheadAttention) and block.attn.num_heads == 10
    mlp = [type(m).__name__ for m in block.mlp]
    assert mlp == ["Linear", "QuickGELU", "Linear"]
    assert (block.mlp[0].in_features, block.mlp[0].out_features, block.mlp[2].out_features) == (
        640,
        2560,
        640,
    )
    tokens = torch.zeros(2, 77, dtype=torch.long, device="meta")
    assert model(tokens).shape == (2, 640)


@pytest.mark.spec_row(
    "optim.models.CLIP_ResNet50x4Text", "optim.models.clip_resnet50x4_text.ResidualAttentionBlock"
)
def test_clip_text_reads_the_end_token_through_a_causal_transformer():
    torch.manual_seed(0)
    model = (
        CLIP_ResNet50x4Text(
            width=8, num_heads=2, num_residual_layers=2, content_length=6, vocab_size=12
        )
        .double()
        .eval()
    )
    # start token 10, end token 11 (the largest id), padding 0
    tokens = torch.tensor([[10, 3, 4, 11, 0, 0], [10, 5, 11, 0, 0, 0]])
    final: list[torch.Tensor] = []
    model.ln_final.register_forward_hook(lambda m, args, out: final.append(out))
    with torch.no_grad():
        out = model(tokens).numpy()
        changed_late = tokens.clone()
        changed_late[0, 4:] = torch.tensor([7, 8])  # after the end token
        model(changed_late)
    hidden = final[0].numpy()
    projection = model.text_projection.detach().numpy()
    eot = tokens.numpy().argmax(-1)
    expected = np.stack([hidden[b, eot[b]] for b in range(2)]) @ projection
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # causal mask: positions up to the end token do not see what comes after it
    np.testing.assert_allclose(final[1].numpy()[0, :4], hidden[0, :4], rtol=1e-12)
    assert not np.allclose(final[1].numpy()[0, 4:], hidden[0, 4:])
    assert model.logit_scale.item() == pytest.approx(np.log(1 / 0.07), rel=1e-7)


@pytest.mark.spec_row("optim.models.clip_resnet50x4_text.QuickGELU")
def test_quick_gelu_formula():
    from optim.models.clip_resnet50x4_text import QuickGELU

    x = np.linspace(-6, 6, 25)
    expected = x / (1 + np.exp(-1.702 * x))
    np.testing.assert_allclose(QuickGELU()(torch.tensor(x)).numpy(), expected, rtol=1e-14)


# ---- labels ----------------------------------------------------------------------------------
@pytest.mark.spec_row(
    "optim.models.INCEPTION5H_CLASSES", "optim.models.INCEPTIONV1_PLACES365_CLASSES"
)
def test_class_labels():
    inception = opt.models.INCEPTION5H_CLASSES
    assert len(inception) == 1001 and inception[:3] == ["dummy", "kit fox", "English setter"]
    places = opt.models.INCEPTIONV1_PLACES365_CLASSES
    assert len(places) == len(set(places)) == 365
    assert places[0] == "/a/airfield" and places[-1] == "/z/zen_garden"
    assert places == sorted(places)
    assert all(name[0] == "/" and name[2] == "/" and name[3] == name[1] for name in places)


# ---- CLIPTokenizer (SPEC §2.3, optim-only in captum; here in optim.models) --------------------
def _merges_file(path: Path, count: int) -> Path:
    # header line, then ``count`` distinct merges; the first one joins "h" and "i</w>"
    lines = ["#version: 0.2", "h i</w>", *[f"x{i} y" for i in range(count - 1)]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.spec_row("optim.models.CLIPTokenizer")
def test_clip_tokenizer_special_tokens_padding_and_truncation(tmp_path):
    # row: start and end tokens around the BPE ids, zero padding, [B, 77] by default.
    # Vocabulary by hand: 256 byte symbols + 256 end-of-word symbols + one per merge, then the
    # start and end tokens, so with n merges start = 512 + n; "hi" is the first merge, id 512.
    tokenizer = CLIPTokenizer(_merges_file(tmp_path / "m.txt", 3))
    tokens = tokenizer(["hi", "hi hi"])
    assert tokens.shape == (2, 77)
    assert tokens[0, :4].tolist() == [515, 512, 516, 0] and not tokens[0, 3:].any()
    assert tokens[1, :5].tolist() == [515, 512, 512, 516, 0]
    assert tokenizer.decode(tokens[1]) == "hi hi"  # specials and padding dropped
    short = CLIPTokenizer(tmp_path / "m.txt", context_length=3)
    with pytest.raises(ValueError, match="more than context_length=3; shorten it or pass truncate"):
        short("hi hi")
    cut = CLIPTokenizer(tmp_path / "m.txt", context_length=3, truncate=True)("hi hi")
    assert cut.tolist() == [[515, 512, 516]]  # truncation keeps the end token
    # deliberate: int64 (what nn.Embedding and indexing take) rather than captum's int32
    assert tokens.dtype == torch.long


@pytest.mark.spec_row("optim.models.CLIPTokenizer")
def test_clip_tokenizer_vocabulary_size_of_clips_merges_file(tmp_path):
    # row: CLIP's file has 48,895 lines (a header + 48,894 merges): 512 + 48,894 = 49406 is the
    # start token and 49407 the end token, 49408 tokens in all; extra merges are not used.
    tokenizer = CLIPTokenizer(_merges_file(tmp_path / "clip.txt", 48_894 + 10))
    assert (tokenizer.start_token, tokenizer.end_token, tokenizer.vocab_size) == (
        49406,
        49407,
        49408,
    )


def test_every_spec_row_has_a_conformance_test(spec_row_report):
    untested, unresolvable = spec_row_report
    assert untested == [], f"SPEC rows without a conformance test: {untested}"
    assert unresolvable == [], f"SPEC rows that do not import: {unresolvable}"
