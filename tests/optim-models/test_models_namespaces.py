"""`torchvision/<name>` resolves through the namespace optim-models registers, for the CLI
(`optim layers`, which goes through the registry) and for Python (`get_model`) alike."""

from __future__ import annotations

import json

import pytest
from torch import nn

import optim as opt
from optim import plugins
from optim.cli import main


def test_optim_layers_lists_an_unlisted_torchvision_model(capsys):
    assert "torchvision/resnet152" not in plugins.names("models")  # not listed: resolved
    assert main(["layers", "torchvision/resnet152", "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "layer4.2.conv3" in out.split()
    assert "Bottleneck" in out


def test_get_model_asks_the_registry_for_namespaced_names():
    model = opt.models.get_model("torchvision/resnet152")
    assert isinstance(model, nn.Module) and model.layer4[2].conv3.out_channels == 2048
    entry = plugins.info("models", "torchvision/resnet152")
    assert (entry.distribution, entry.target) == (
        "optim-models",
        "optim.models.torchvision_models:resnet152",
    )
    assert plugins.get("models", "torchvision/resnet152").func is opt.models.torchvision_model


def test_listed_torchvision_names_stay_in_optim_plugins(capsys):
    assert "torchvision/resnet50" in plugins.names("models")
    assert main(["plugins", "--kind", "models"]) == 0
    out = capsys.readouterr().out
    assert "torchvision/resnet50 " in out
    line = next(x for x in out.splitlines() if "torchvision/<name>" in x)
    assert "optim-models" in line


def test_namespace_is_listed_in_json(capsys):
    assert main(["plugins", "--json", "--kind", "models"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    row = rows["torchvision/<name>"]
    assert row["namespace"] == "torchvision" and row["distribution"] == "optim-models"
    assert row["target"] == "optim.models.torchvision_models:resolve"
    [space] = [ns for ns in plugins.namespaces("models") if ns.namespace == "torchvision"]
    assert "resnet152" in space.names()


def test_unknown_torchvision_name_lists_close_matches():
    with pytest.raises(KeyError, match=r"torchvision namespace .*Did you mean: resnet18"):
        plugins.get("models", "torchvision/resnet81")
    with pytest.raises(ValueError, match="Did you mean: resnet18"):
        opt.models.get_model("torchvision/resnet81")
    with pytest.raises(ValueError, match="Did you mean: torchvision"):
        opt.models.get_model("torchvison/resnet18")


def test_cli_reports_an_unknown_namespaced_model_on_one_line(capsys):
    assert main(["layers", "torchvision/resnet81", "--size", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "No models named 'torchvision/resnet81'" in err and "resnet18" in err
