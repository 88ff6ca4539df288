"""torchvision's vision transformers by name: ViT, Swin and MaxViT layouts and input sizes."""

from __future__ import annotations

import pytest

import optim as opt
from optim.cli import main
from optim.rendering.input_size import required_input_size


def _rows(capsys) -> dict[str, str]:
    return {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}


def test_vit_layers_show_tokens_and_the_patch_grid(capsys):
    assert main(["layers", "torchvision/vit_b_16"]) == 0  # no --size: its own 224 px
    row = _rows(capsys)["encoder.layers.encoder_layer_11"]
    assert row.split()[1:3] == ["EncoderBlock", "1x197x768"]
    assert row.endswith("tokens: 1 prefix + 14x14 patches, 768 features")


def test_swin_layers_are_channels_last(capsys):
    assert main(["layers", "torchvision/swin_t", "--size", "64"]) == 0
    rows = _rows(capsys)
    assert rows["features.3"].endswith("1x8x8x192    channels-last: 8x8, 192 channels")
    assert rows["features.0.0"].split()[-1] == "1x96x16x16"  # the conv is channels-first


@pytest.mark.parametrize("name", ["vit_b_16", "maxvit_t"])
def test_models_with_one_input_size_declare_it(name, capsys):
    model = opt.models.get_model(f"torchvision/{name}")
    assert required_input_size(model) == (224, 224)
    assert main(["layers", f"torchvision/{name}", "--size", "160"]) == 2
    assert "takes 224x224 px input only, got 160x160" in capsys.readouterr().err


def test_a_convnet_takes_any_size():
    assert required_input_size(opt.models.get_model("torchvision/resnet18")) is None
