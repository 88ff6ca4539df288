"""Install hints name both ways to get a first-party distribution (issue 16): from the package
index, and from a clone of this repository, which ships them under ``packages/``."""

from __future__ import annotations

import pytest

import optim
import optim.rendering.model_source as model_source
from optim.rendering.model_source import load_registered_model

CLONE = "from a clone of the optim repository: pip install ./packages/optim-{name}"


@pytest.mark.parametrize("name", ["models", "reducer", "circuits", "dataset"])
def test_a_missing_first_party_module_names_pypi_and_the_clone_path(name):
    message = str(optim._missing(name))
    assert f"pip install optim-{name}" in message
    assert CLONE.format(name=name) in message


def test_a_broken_install_hint_names_both_ways_and_third_parties_only_pypi():
    hint = optim._pip_install("optim-models", "--force-reinstall ")
    assert "pip install --force-reinstall optim-models" in hint
    assert "pip install --force-reinstall ./packages/optim-models" in hint
    assert optim._pip_install("someone-elses-plugin") == "pip install someone-elses-plugin"


def test_missing_optim_models_names_both_ways(monkeypatch):
    monkeypatch.setattr(model_source.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LookupError) as info:
        load_registered_model("efficientnet_lite9")
    assert "pip install optim-models" in str(info.value)
    assert CLONE.format(name="models") in str(info.value)
