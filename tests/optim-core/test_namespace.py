"""`import optim as opt`: lazy submodules, and the pip hint for missing distributions."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

import optim as opt

PLUGIN_DISTRIBUTIONS = {
    "models": "optim-models",
    "reducer": "optim-reducer",
    "circuits": "optim-circuits",
    "dataset": "optim-dataset",
}


def _installed(dist: str) -> bool:
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_version_matches_distribution_metadata():
    assert opt.__version__ == metadata.version("optim-core")


@pytest.mark.parametrize("name", sorted(PLUGIN_DISTRIBUTIONS))
def test_plugin_submodule_resolves_or_names_the_pip_install(name):
    """Run in a fresh interpreter so earlier imports cannot mask the lazy path."""
    dist = PLUGIN_DISTRIBUTIONS[name]
    code = (
        "import optim as opt\n"
        "try:\n"
        f"    module = opt.{name}\n"
        "except ImportError as exc:\n"
        "    print('IMPORTERROR', exc)\n"
        "else:\n"
        "    print('MODULE', module.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    if _installed(dist):
        assert out.strip() == f"MODULE optim.{name}"
    else:
        assert out.startswith("IMPORTERROR")
        assert f"pip install {dist}" in out


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        opt.nope  # noqa: B018


def test_dir_lists_lazy_names():
    assert {"images", "loss", "models", "InputOptimization", "show"} <= set(dir(opt))
