"""`opt.<name>` for plugin packages comes from `optim.modules` entry points; core's own
submodules (rendering, accentuation, checks, ...) are attributes too; manifests list the
plugin distributions found the same way."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import pytest

import optim as opt
from optim import plugins


def test_core_submodules_are_lazy_attributes():
    for name in ("rendering", "accentuation", "checks", "plugins", "cli"):
        module = getattr(opt, name)
        assert isinstance(module, types.ModuleType) and module.__name__ == f"optim.{name}"
        assert name in dir(opt)
    assert opt.rendering.render is opt.render
    assert opt.accentuation.accentuate is opt.accentuate
    assert opt.checks.check_int(3, "n") == 3


def test_a_third_party_module_entry_point_adds_an_attribute(fake_module_dist):
    assert opt.fakeshapes.SIDES == 4
    assert "fakeshapes" in dir(opt)
    assert plugins.plugin_distributions()["fakeshapes"] == "2.5"


PROBE = textwrap.dedent(
    """
    from importlib import metadata
    real = metadata.entry_points
    # As if no plugin distribution were installed: no optim.modules entry points.
    metadata.entry_points = lambda **kw: [] if kw.get("group") == "optim.modules" else real(**kw)
    import optim as opt
    for name in ("reducer", "models", "circuits", "dataset", "nope", "modles"):
        try:
            getattr(opt, name)
        except ImportError as exc:
            print(name, "ImportError", exc)
        except AttributeError as exc:
            print(name, "AttributeError", exc)
        else:
            print(name, "found")
    print("rendering", opt.rendering.__name__)
    """
)


def test_missing_plugin_names_the_pip_install_and_typos_stay_attribute_errors():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    for name in ("reducer", "models", "circuits", "dataset"):
        assert lines[name].startswith("ImportError"), lines[name]
        assert f"pip install optim-{name}" in lines[name]
    assert lines["nope"].startswith("AttributeError") and "no attribute 'nope'" in lines["nope"]
    assert lines["rendering"] == "optim.rendering"


def test_a_typo_suggests_the_closest_attribute():
    with pytest.raises(AttributeError, match="Did you mean: models"):
        opt.modles  # noqa: B018
