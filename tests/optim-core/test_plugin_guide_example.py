"""The plugin guide in packages/optim-core/README.md, run as written.

The code blocks of the README's "Plugins" section are extracted: every Python block whose first
line names a file (``# my_package/losses.py``) becomes that file of a package on ``sys.path``, the
TOML block gives the entry point, and the plugin module it names is registered in this process
with ``optim.plugins.add_plugin`` (what the entry point does once the distribution is installed).
The README's ``optim`` commands then run through ``optim.cli.main`` on a tiny model, so the guide
cannot drift from the code.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import sys
import tomllib
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from optim import plugins
from optim.cli import main
from optim.loss import BaseLoss
from optim.plugins import hookimpl

README = Path(__file__).resolve().parents[2] / "packages" / "optim-core" / "README.md"
FAST = ["--size", "32", "--steps", "3", "--transforms", "none", "--seed", "0", "--no-progress"]
FILE_HEADER = re.compile(r"#\s*(my_package/[\w/]+\.py)\s*$")
# The README's commands name a real model; here they run on the tiny model below.
SUBSTITUTES = {
    "efficientnet_lite0": "guide_tiny_net",
    "_blocks.10:2": "conv2:3",
    "_blocks.10": "conv2",
}


def _plugins_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Plugins\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _code_blocks(section: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in re.finditer(r"```(\w*)\n(.*?)```", section, flags=re.DOTALL)]


def guide_tiny_net(pretrained: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 8, 3, padding=1),
            relu1=nn.ReLU(),
            conv2=nn.Conv2d(8, 16, 3, stride=2),
            relu2=nn.ReLU(),
        )
    ).eval()


class GuideZoo:
    @staticmethod
    @hookimpl
    def register_models(register):
        register("guide_tiny_net", guide_tiny_net, description="the plugin guide's test model")


@pytest.fixture
def guide_plugin(tmp_path, monkeypatch):
    """The README's package written to disk, its plugin module registered; yields the module."""
    blocks = _code_blocks(_plugins_section())
    files = {}
    for language, code in blocks:
        header = FILE_HEADER.match(code.splitlines()[0]) if code.strip() else None
        if language == "python" and header:
            files[header[1]] = code
    assert {"my_package/losses.py", "my_package/optim_plugin.py"} <= set(files), files.keys()
    for relative, code in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
        init = path.parent / "__init__.py"
        if not init.exists():
            init.write_text("", encoding="utf-8")
    tables = [tomllib.loads(code) for language, code in blocks if language == "toml"]
    entry_points = [t["project"]["entry-points"]["optim.plugins"] for t in tables]
    assert len(entry_points) == 1, "the guide shows one [project.entry-points] table"
    ((entry_name, module_name),) = entry_points[0].items()

    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(module_name)  # what the entry point names
    plugins.add_plugin(module, name=entry_name, distribution="my-package")
    plugins.add_plugin(GuideZoo, name="guide-zoo")
    try:
        yield module
    finally:
        plugins.remove_plugin(module)
        plugins.remove_plugin(GuideZoo)
        for name in [m for m in sys.modules if m == "my_package" or m.startswith("my_package.")]:
            del sys.modules[name]


def _readme_commands() -> list[list[str]]:
    commands = []
    for language, code in _code_blocks(_plugins_section()):
        if language not in ("bash", "sh", "console"):
            continue
        for line in code.splitlines():
            if line.startswith("optim "):
                commands.append([SUBSTITUTES.get(a, a) for a in shlex.split(line)[1:]])
    return commands


def test_every_python_block_of_the_guide_compiles():
    python = [code for language, code in _code_blocks(_plugins_section()) if language == "python"]
    assert len(python) >= 3
    for code in python:
        compile(code, "<README Plugins section>", "exec")


def test_the_plugin_module_states_the_plugin_api_and_registers_the_objective(guide_plugin):
    assert guide_plugin.OPTIM_PLUGIN_API == plugins.PLUGIN_API_VERSION
    losses = importlib.import_module("my_package.losses")
    assert plugins.get("objectives", "channel_contrast") is losses.ChannelContrast
    assert plugins.distribution("objectives", "channel_contrast") == "my-package"
    assert issubclass(losses.ChannelContrast, BaseLoss)


def test_the_objective_receives_targets_to_values_and_returns_the_unreduced_value(guide_plugin):
    from my_package.losses import ChannelContrast

    layer = nn.Identity()
    acts = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    value = ChannelContrast(layer, 2)({layer: acts})
    torch.testing.assert_close(value, acts[:, 2] - acts.mean(dim=1), rtol=0, atol=0)
    one = ChannelContrast(layer, 2, others_weight=0.5, batch_index=1)({layer: acts})
    torch.testing.assert_close(one, acts[1:, 2] - 0.5 * acts[1:].mean(dim=1), rtol=0, atol=0)


def test_optim_plugins_lists_the_objective_with_its_distribution(guide_plugin, capsys):
    assert main(["plugins", "--kind", "objectives", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    text = json.dumps(listed)
    assert "channel_contrast" in text and "my-package" in text


def test_the_guides_commands_render_with_the_plugin_objective(guide_plugin, tmp_path, capsys):
    commands = _readme_commands()
    assert [c[0] for c in commands] == ["render", "layer"]
    for args in commands:
        assert args[args.index("--objective") + 1] == "channel_contrast"
        out = tmp_path / args[0]
        if "--out" in args:  # the README's gallery folder, moved under tmp_path
            args[args.index("--out") + 1] = str(out)
        else:
            args += ["--out", str(out / "render.png")]
        assert main([*args, *FAST]) == 0, capsys.readouterr().err
    render_manifest = json.loads((tmp_path / "render" / "render.json").read_text())
    assert render_manifest["target"] == "conv2:3"
    assert "channel_contrast" in json.dumps(render_manifest)
    assert (tmp_path / "layer" / "index.html").exists()
    assert "channel_contrast" in (tmp_path / "layer" / "manifest.json").read_text()


def test_the_cli_builds_it_from_the_target_and_batch_slot(guide_plugin):
    """What the guide says reaches the constructor: the module, channel_index and batch_index;
    others_weight keeps its default."""
    from my_package.losses import ChannelContrast

    from optim.rendering.objective import objective_for
    from optim.rendering.parse_target import UnitTarget

    module = nn.ReLU()
    built = objective_for(module, UnitTarget("relu2", 5), "channel_contrast", batch_index=1)
    assert isinstance(built, ChannelContrast)
    assert built.target is module and built.channel_index == 5 and built.others_weight == 1.0
    assert built.batch_index == (1, 2)


def test_a_constructor_needing_more_than_a_target_is_python_only(guide_plugin, tmp_path, capsys):
    from my_package.losses import ChannelContrast

    class WeightedContrast(ChannelContrast):
        def __init__(self, target, channel_index, weights, batch_index=None):
            super().__init__(target, channel_index, batch_index=batch_index)
            self.weights = weights

    class Extra:
        @staticmethod
        @hookimpl
        def register_objectives(register):
            register("weighted_contrast", WeightedContrast)

    plugins.add_plugin(Extra, name="guide-extra", distribution="my-package-extra")
    try:
        args = ["render", "--model", "guide_tiny_net", "--target", "conv2:3"]
        args += ["--objective", "weighted_contrast", "--out", str(tmp_path / "x.png"), *FAST]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "weights" in err and "from Python" in err and "Traceback" not in err
    finally:
        plugins.remove_plugin(Extra)
