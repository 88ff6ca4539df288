"""Fixtures shared by optim-core's tests."""

from __future__ import annotations

import sys

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
