"""Fixtures shared by optim-core's tests."""

from __future__ import annotations

import sys
import textwrap
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from optim import plugins
from optim.plugins import hookimpl


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for fake distributions; the registry is refreshed around each test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("OPTIM_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("OPTIM_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    plugins.refresh()
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("fakeplug")]:
        del sys.modules[name]
    plugins.refresh()


@pytest.fixture
def fake_distribution(site):
    """``fake_distribution(dist, version, module, source)``: write an importable module into
    ``site`` and a dist-info declaring it as an ``optim.plugins`` entry point."""

    def write(dist: str, version: str, module: str, source: str) -> None:
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[optim.plugins]\n{module} = {module}\n")

    return write


@pytest.fixture
def ctrl_c_at(monkeypatch):
    """``ctrl_c_at(k)``: the k-th optimisation step from now (0-based) raises KeyboardInterrupt,
    as Ctrl-C during that step would."""
    from optim.optimization.input_optimization import InputOptimization

    def arm(k: int) -> None:
        real, calls = InputOptimization._step, {"n": 0}

        def step(self, *args):
            calls["n"] += 1
            if calls["n"] == k + 1:
                raise KeyboardInterrupt
            return real(self, *args)

        monkeypatch.setattr(InputOptimization, "_step", step)

    return arm


class TinyZoo:
    """A plugin registering ``tiny_net`` (conv1: 8 channels at 32 px → relu1 → conv2: 16
    channels, stride 2 → relu2 → pool → flatten → fc: 10), whose pretrained weights come from
    a file, as in a real zoo."""

    def __init__(self, weights: Path) -> None:
        self.weights = weights

    def tiny_net(self, pretrained: bool = False) -> nn.Module:
        model = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(3, 8, 3, padding=1),
                relu1=nn.ReLU(),
                conv2=nn.Conv2d(8, 16, 3, stride=2),
                relu2=nn.ReLU(),
                pool=nn.AdaptiveAvgPool2d(1),
                flatten=nn.Flatten(),
                fc=nn.Linear(16, 10),
            )
        )
        if pretrained:
            model.load_state_dict(torch.load(self.weights, weights_only=True))
            model.weights_file = str(self.weights)  # what optim-models' loaders record
        return model.eval()

    @hookimpl
    def register_models(self, register):
        register("tiny_net", self.tiny_net, description="two convolutions, for tests")


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory) -> TinyZoo:
    """``tiny_net`` registered as a model for the tests of one module (CLI tests use it)."""
    zoo = TinyZoo(tmp_path_factory.mktemp("weights") / "tiny.pth")
    generator = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v.shape, generator=generator) * 0.3
             for k, v in zoo.tiny_net().state_dict().items()}  # fmt: skip
    torch.save(state, zoo.weights)
    plugins.add_plugin(zoo, name="tiny-zoo")
    yield zoo
    plugins.remove_plugin(zoo)
