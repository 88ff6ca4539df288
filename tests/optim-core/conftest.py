"""Fixtures shared by optim-core's tests."""

from __future__ import annotations

import sys
import textwrap

import pytest

from optim import plugins


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
