"""InceptionV1 (inception5h): SPEC layer names, shapes, options and offline pretrained loading."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from optim.model_utils import RedirectedReluLayer, SkipLayer, get_model_layers
from optim.models import INCEPTION5H_CLASSES, InceptionV1, WeightsMismatchError, googlenet

# SPEC §3's layer names are checked in test_conformance_models.py.
# (channels, spatial size at 224) from SPEC §3's channel configs
SPEC_MIXED = {
    "mixed3a": (256, 28),
    "mixed3b": (480, 28),
    "mixed4a": (508, 14),
    "mixed4b": (512, 14),
    "mixed4c": (512, 14),
    "mixed4d": (528, 14),
    "mixed4e": (832, 14),
    "mixed5a": (832, 7),
    "mixed5b": (1024, 7),
}


@pytest.fixture(scope="module")
def aux_model() -> InceptionV1:
    torch.manual_seed(0)
    return InceptionV1(aux_logits=True, transform_input=True).eval()


def test_shapes_at_224_match_spec(aux_model):
    shapes = get_model_layers(aux_model, input_size=(224, 224))
    for name, (channels, size) in SPEC_MIXED.items():
        assert shapes[name] == (1, channels, size, size), name
        assert shapes[f"{name}_relu"] == (1, channels, size, size)
    assert shapes["conv1"] == (1, 64, 112, 112)
    assert shapes["pool1"] == (1, 64, 56, 56)
    assert shapes["fc"] == (1, 1008)
    assert shapes["aux1"] == shapes["aux2"] == (1, 1008)
    with torch.no_grad():
        out = aux_model(torch.rand(2, 3, 224, 224))
    assert isinstance(out, tuple) and [o.shape for o in out] == [torch.Size([2, 1008])] * 3


def test_layer_types_and_hyperparameters(aux_model):
    lrn = aux_model.local_response_norm1
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (11, 0.0011, 0.5, 2.0)
    assert aux_model.drop.p == pytest.approx(0.4000000059604645)
    assert aux_model.aux1.dropout.p == pytest.approx(0.699999988079071)
    assert type(aux_model.conv1).__name__ == "Conv2dSame"
    assert type(aux_model.mixed3a.conv_5x5).__name__ == "Conv2dSame"
    assert aux_model.pool1.ceil_mode and aux_model.mixed3a.pool.padding == 1
    assert isinstance(aux_model.mixed3a_relu, nn.ReLU)


def test_transform_input_scales_and_flips_and_warns():
    model = InceptionV1(transform_input=True, bgr_transform=True)
    x = torch.rand(3, 4, 4)  # CHW is accepted
    expected = (x * 255 - 117)[[2, 1, 0]].unsqueeze(0)
    torch.testing.assert_close(model.transform(x), expected)
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        model.transform(torch.full((1, 3, 4, 4), 2.0))
    raw = torch.randn(1, 3, 4, 4) * 50
    assert torch.equal(InceptionV1().transform(raw), raw)


def test_linear_and_redirected_options():
    linear = googlenet(use_linear_modules_only=True)
    assert isinstance(linear.mixed4a_relu, SkipLayer) and isinstance(linear.pool1, nn.AvgPool2d)
    assert isinstance(linear.mixed4a.pool, nn.AvgPool2d)
    assert not any(isinstance(m, (nn.ReLU, nn.MaxPool2d)) for m in linear.modules())
    redirected = googlenet(replace_relus_with_redirectedrelu=True)
    assert isinstance(redirected.mixed4a.conv_3x3_reduce_relu, RedirectedReluLayer)


def test_pretrained_loads_from_the_hub_cache_with_pretrained_defaults(hub_checkpoints):
    torch.manual_seed(1)
    reference = InceptionV1()
    torch.save(reference.state_dict(), hub_checkpoints / "inception5h.pth")
    model = googlenet(pretrained=True)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert model.transform_input and not model.bgr_transform and not model.aux_logits
    assert isinstance(model.mixed4a_relu, RedirectedReluLayer)
    assert not model.training
    # explicit options win over the injected defaults
    custom = googlenet(
        pretrained=True, transform_input=False, replace_relus_with_redirectedrelu=False
    )
    assert not custom.transform_input and isinstance(custom.mixed4a_relu, nn.ReLU)


def test_model_path_and_wrong_weights_fail_naming_keys(hub_checkpoints, tmp_path):
    state = InceptionV1().state_dict()
    path = tmp_path / "local.pth"
    torch.save(state, path)
    assert googlenet(model_path=path).transform_input  # model_path implies pretrained

    wrong = dict(state)
    del wrong["mixed5b.conv_1x1.bias"]
    wrong["extra.weight"] = torch.zeros(1)
    wrong["fc.weight"] = torch.zeros(1000, 1024)
    torch.save(wrong, hub_checkpoints / "inception5h.pth")
    with pytest.raises(WeightsMismatchError) as info:
        googlenet(pretrained=True)
    message = str(info.value)
    assert "missing keys: mixed5b.conv_1x1.bias" in message
    assert "unexpected keys: extra.weight" in message
    assert "fc.weight (file (1000, 1024), model (1008, 1024))" in message


def test_unknown_option_is_named():
    with pytest.raises(TypeError, match=r"transform_inputs.*Did you mean 'transform_input'"):
        googlenet(transform_inputs=True)


def test_labels_shipped():
    assert len(INCEPTION5H_CLASSES) == 1001
    assert INCEPTION5H_CLASSES[:3] == ["dummy", "kit fox", "English setter"]
