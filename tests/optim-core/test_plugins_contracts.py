"""The cross-package contracts (optim.plugins.contracts), each exercised through a fixture
plugin registered in-process: one that keeps the contract, one that breaks it."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from optim import plugins
from optim.cli import main
from optim.plugins import (
    ContractError,
    GraphSafe,
    HasWeightsFile,
    ModelFactory,
    SeededTransform,
    hookimpl,
)
from optim.plugins.contracts import (
    check_generator,
    check_graph_safe_flag,
    check_model,
    check_model_factory,
    check_weights_file,
)
from optim.rendering.model_source import load_registered_model, sha256_file

DIST = "fixture-zoo"
WEIGHTS: dict[str, str] = {}


def good_net(pretrained: bool = False) -> nn.Module:
    """Keeps every model contract: weights from a real file when pretrained."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    if pretrained:
        model.load_state_dict(torch.load(WEIGHTS["good"], weights_only=True))
        model.weights_file = WEIGHTS["good"]
    return model


def missing_weights_net(pretrained: bool = False) -> nn.Module:
    """Breaks HasWeightsFile: records a weights file that does not exist."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3))
    model.weights_file = "/no/such/dir/missing-weights.pth"
    return model


def bad_type_weights_net(pretrained: bool = False) -> nn.Module:
    """Breaks HasWeightsFile: weights_file is not a path."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3))
    model.weights_file = 42
    return model


def not_a_module(pretrained: bool = False) -> object:
    """Breaks ModelFactory: returns a dict."""
    return {"weights": torch.zeros(2)}


def no_pretrained_keyword() -> nn.Module:
    """Breaks ModelFactory: cannot be asked for pretrained weights."""
    return nn.Sequential(nn.Conv2d(3, 4, 3))


def options_only(**options) -> nn.Module:
    """Keeps ModelFactory: **options accepts pretrained."""
    return nn.Sequential(nn.Conv2d(3, 4, 3))


class HostJitter(nn.Module):
    """A transform declaring graph safety with a non-bool (breaks GraphSafe)."""

    graph_safe = "yes"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class DeviceNoise(nn.Module):
    """A transform keeping GraphSafe and SeededTransform."""

    graph_safe = True

    def __init__(self, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.01 * torch.randn(x.shape, generator=self.generator)


class SeedNoise(DeviceNoise):
    """Breaks SeededTransform: holds a seed int as its generator."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = 1234


class FixtureZoo:
    OPTIM_PLUGIN_API = 1

    @staticmethod
    @hookimpl
    def register_models(register):
        for factory in (
            good_net,
            missing_weights_net,
            bad_type_weights_net,
            not_a_module,
            no_pretrained_keyword,
            options_only,
        ):
            register(f"fixture_{factory.__name__}", factory)

    @staticmethod
    @hookimpl
    def register_transforms(register):
        register("fixture_host_jitter", HostJitter)
        register("fixture_device_noise", DeviceNoise)
        register("fixture_seed_noise", SeedNoise)


@pytest.fixture(scope="module", autouse=True)
def fixture_zoo(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "good.pth"
    torch.save(good_net().state_dict(), path)
    WEIGHTS["good"] = str(path)
    plugins.add_plugin(FixtureZoo, name="fixture-zoo", distribution=DIST)
    yield
    plugins.remove_plugin(FixtureZoo)


# ---- ModelFactory / HasWeightsFile, where model_source consumes them ---------------------
def test_a_model_keeping_the_contracts_is_described_with_its_weights_file():
    model, source = load_registered_model("fixture_good_net", pretrained=True)
    assert isinstance(model, nn.Module) and not model.training
    assert source.distribution == DIST
    assert source.weights_file == str(os.path.realpath(WEIGHTS["good"]))
    assert source.weights_sha256 == sha256_file(WEIGHTS["good"])
    assert isinstance(model, HasWeightsFile)
    assert isinstance(good_net, ModelFactory)
    _, random = load_registered_model("fixture_options_only", pretrained=False)
    assert random.weights_file is None and random.weights_sha256 is None


@pytest.mark.parametrize(
    ("name", "contract", "detail"),
    [
        ("fixture_missing_weights_net", "HasWeightsFile", "/no/such/dir/missing-weights.pth"),
        ("fixture_bad_type_weights_net", "HasWeightsFile", "weights_file is 42"),
        ("fixture_not_a_module", "ModelFactory", "returned builtins.dict, not a torch.nn.Module"),
        ("fixture_no_pretrained_keyword", "ModelFactory", "no `pretrained` keyword"),
    ],
)
def test_a_model_breaking_a_contract_is_a_clear_error(name, contract, detail):
    with pytest.raises(ContractError) as info:
        load_registered_model(name, pretrained=False)
    message = str(info.value)
    for part in (repr(name), f"{DIST} local", f"the {contract} contract", detail):
        assert part in message, (part, message)
    assert isinstance(info.value, plugins.PluginError)


def test_the_cli_reports_a_broken_contract_on_one_line(capsys):
    assert main(["layers", "fixture_missing_weights_net", "--size", "16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "fixture_missing_weights_net" in err[0] and "HasWeightsFile" in err[0]
    assert DIST in err[0]


def test_model_checks_directly():
    assert check_model_factory(options_only, name="x") is options_only
    with pytest.raises(ContractError, match="not callable"):
        check_model_factory(nn.Linear(2, 2).weight, name="weight", distribution="d 1")
    with pytest.raises(ContractError, match="'x' from d 1 breaks the ModelFactory contract"):
        check_model("not a model", name="x", distribution="d 1")
    plain = nn.Linear(2, 2)
    assert check_weights_file(plain, name="plain") is None


# ---- GraphSafe / SeededTransform -------------------------------------------------------
def test_graph_safe_flag_contract():
    assert check_graph_safe_flag(nn.Identity()) is None
    noise = plugins.get("transforms", "fixture_device_noise")()
    assert check_graph_safe_flag(noise) is True and isinstance(noise, GraphSafe)
    jitter = plugins.get("transforms", "fixture_host_jitter")()
    with pytest.raises(ContractError, match=r"'HostJitter' from .* GraphSafe contract.*'yes'"):
        check_graph_safe_flag(jitter)


def test_seeded_transform_contract():
    generator = torch.Generator().manual_seed(0)
    noise = plugins.get("transforms", "fixture_device_noise")(generator=generator)
    assert check_generator(noise) is generator and isinstance(noise, SeededTransform)
    assert check_generator(plugins.get("transforms", "fixture_device_noise")()) is None
    assert check_generator(nn.Identity()) is None
    seeded = plugins.get("transforms", "fixture_seed_noise")()
    with pytest.raises(ContractError, match=r"SeededTransform contract: generator is builtins.int"):
        check_generator(seeded)


def test_first_party_transforms_keep_their_contracts():
    for entry in plugins.entries("transforms"):
        if entry.distribution != "optim-core":
            continue
        cls = entry.load()
        flag = getattr(cls, "graph_safe", None)
        assert flag is None or isinstance(flag, bool), entry.name
