"""GoogLeNet-Places365 and Caffe VGG-16: SPEC shapes, input conventions, offline loading."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from optim.model_utils import RedirectedReluLayer, SkipLayer, get_model_layers
from optim.models import (
    INCEPTIONV1_PLACES365_CLASSES,
    VGG,
    InceptionV1Places365,
    WeightsMismatchError,
    googlenet_places365,
    vgg16,
)


def test_places365_architecture_differences_and_outputs():
    model = InceptionV1Places365().eval()
    shapes = get_model_layers(model, input_size=(3, 64, 64))
    assert shapes["mixed4a"][1] == 512 and shapes["mixed4b"][1] == 512  # 4a uses 208
    assert model.mixed5a.conv_5x5_reduce.out_channels == 32
    assert model.aux1.conv.in_channels == 512
    lrn = model.local_response_norm1
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 9.999999747378752e-05, 0.75, 1.0)
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 64))
    assert [o.shape for o in out] == [torch.Size([2, 365])] * 3  # aux_logits by default
    assert len(INCEPTIONV1_PLACES365_CLASSES) == 365
    assert INCEPTIONV1_PLACES365_CLASSES[0] == "/a/airfield"
    assert INCEPTIONV1_PLACES365_CLASSES[-1] == "/z/zen_garden"


def test_places365_transform_subtracts_mean_then_flips_to_bgr():
    model = InceptionV1Places365()
    x = torch.rand(1, 3, 2, 2)
    mean = torch.tensor([116.7894, 112.6004, 104.0437]).view(1, 3, 1, 1)
    torch.testing.assert_close(model.transform(x), (x * 255 - mean)[:, [2, 1, 0]])


def test_places365_pretrained_from_hub_cache(hub_checkpoints):
    reference = InceptionV1Places365()
    torch.save(reference.state_dict(), hub_checkpoints / "inceptionv1_places365.pth")
    model = googlenet_places365(pretrained=True)
    assert torch.equal(model.fc.weight, reference.fc.weight)
    assert model.aux_logits and isinstance(model.mixed3a_relu, RedirectedReluLayer)
    bad = reference.state_dict()
    bad["conv1.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(bad, hub_checkpoints / "inceptionv1_places365.pth")
    with pytest.raises(WeightsMismatchError, match=r"conv1\.weight \(file \(64, 3, 5, 5\)"):
        googlenet_places365(pretrained=True)


def test_vgg16_layers_and_output_shapes():
    model = vgg16().eval()
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and convs[0] == "features.0" and convs[-1] == "features.28"
    assert isinstance(model.features[30], nn.MaxPool2d) and len(model.features) == 31
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32)).shape == (1, 512, 7, 7)
        logits = vgg16(classifier_logits=True, out_features=10).eval()(torch.rand(1, 3, 32, 32))
    assert logits.shape == (1, 10)
    linear = VGG(use_linear_modules_only=True)
    assert isinstance(linear.features[1], SkipLayer) and isinstance(
        linear.features[4], nn.AvgPool2d
    )


def test_vgg16_transform_and_range_warning_precedence():
    x = torch.rand(1, 3, 2, 2)
    mean = torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1)
    torch.testing.assert_close(VGG().transform(x), (x * 255 - mean)[:, [2, 1, 0]])
    big = torch.rand(1, 3, 2, 2) * 255
    torch.testing.assert_close(VGG(scale_input=False).transform(big), (big - mean)[:, [2, 1, 0]])
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        VGG().transform(big)
    # values > 1 without scale_input are expected: no warning (captum's precedence bug fixed)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VGG(scale_input=False).transform(big)


def test_vgg16_pretrained_features_only_and_defaults(hub_checkpoints):
    reference = VGG()
    torch.save(reference.state_dict(), hub_checkpoints / "vgg16_caffe_features.pth")
    model = vgg16(pretrained=True)
    assert torch.equal(model.features[28].weight, reference.features[28].weight)
    assert isinstance(model.features[1], nn.ReLU)  # SPEC: redirected=False for VGG
    with pytest.raises(WeightsMismatchError, match=r"missing keys: classifier\.0\.weight"):
        vgg16(pretrained=True, classifier_logits=True)
