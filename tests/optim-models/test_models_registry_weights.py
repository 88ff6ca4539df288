"""The zoo registry (list_models / get_model), torchvision models, and the weights loader."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import optim as opt
from optim import plugins
from optim.model_utils import RedirectedReluLayer, SkipLayer
from optim.models import WeightsMismatchError, get_model, list_models, torchvision_model
from optim.models.weights import check_state_dict, load_state_dict, load_weights

SPEC_FACTORIES = {
    "googlenet",
    "googlenet_places365",
    "vgg16",
    "clip_resnet50x4_image",
    "clip_resnet50x4_text",
    "efficientnet_lite0",
}


def test_registry_lists_the_zoo_from_optim_models():
    names = list_models()
    assert set(names) >= SPEC_FACTORIES
    assert "torchvision/resnet50" in names
    assert plugins.distribution("models", "googlenet") == "optim-models"
    assert plugins.get("models", "googlenet") is opt.models.googlenet


def test_get_model_builds_and_unknown_names_list_choices():
    assert isinstance(get_model("googlenet"), opt.models.InceptionV1)
    assert get_model("efficientnet_lite0", pretrained=True).variant == "lite0"
    with pytest.raises(ValueError, match="Did you mean: googlenet") as info:
        get_model("googlenett")
    assert "efficientnet_lite0" in str(info.value)
    with pytest.raises(ValueError, match="Did you mean: resnet18"):
        get_model("torchvision/resnet81")


def test_torchvision_models_random_weights_and_options():
    model = get_model("torchvision/resnet18", replace_relus_with_redirectedrelu=True)
    assert isinstance(model.relu, RedirectedReluLayer) and model.training
    unlisted = get_model("torchvision/squeezenet1_0", use_linear_modules_only=True)
    assert not any(isinstance(m, (nn.ReLU, nn.MaxPool2d)) for m in unlisted.modules())
    assert any(isinstance(m, SkipLayer) for m in unlisted.modules())


def test_torchvision_pretrained_never_downloads(hub_checkpoints, tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        torchvision_model("resnet18", pretrained=True)
    reference = torchvision_model("resnet18")
    torch.save(reference.state_dict(), hub_checkpoints / "resnet18-f37072fd.pth")
    model = torchvision_model("resnet18", pretrained=True)
    assert torch.equal(model.fc.weight, reference.fc.weight) and not model.training
    # transform_input defaults on with weights: the model sees ImageNet-normalised input
    seen = []
    model.conv1.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    x = torch.rand(1, 3, 32, 32)
    model(x)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(seen[0], (x - mean) / std)
    assert model.weights_file == str(hub_checkpoints / "resnet18-f37072fd.pth")
    path = tmp_path / "custom.pth"
    torch.save(torchvision_model("resnet18", num_classes=3).state_dict(), path)
    custom = torchvision_model("resnet18", model_path=path, num_classes=3)
    assert custom.fc.out_features == 3
    assert custom.weights_file == str(path.resolve())  # manifests hash this file


def test_check_state_dict_names_the_first_offending_keys():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(8)])
    state = {f"{i}.weight": torch.zeros(2, 2) for i in range(8)}  # every bias missing
    with pytest.raises(WeightsMismatchError) as info:
        check_state_dict(model, state)
    assert "missing keys: 0.bias, 1.bias, 2.bias, 3.bias, 4.bias (and 3 more)" in str(info.value)


def test_num_batches_tracked_may_be_absent(tmp_path):
    model = nn.BatchNorm2d(2)
    state = {k: v for k, v in model.state_dict().items() if "num_batches" not in k}
    state["weight"] = torch.tensor([2.0, 3.0])
    path = tmp_path / "bn.pth"
    torch.save(state, path)
    assert load_weights(nn.BatchNorm2d(2), model_path=path).weight.tolist() == [2.0, 3.0]


def test_load_state_dict_rejects_missing_files_and_pickled_models(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_state_dict(model_path=tmp_path / "nope.pth")
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(WeightsMismatchError, match="state dict"):
        load_state_dict(model_path=path)
    with pytest.raises(ValueError, match="url or a model_path"):
        load_state_dict()
