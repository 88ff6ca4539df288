"""The `optim` namespace across distributions, for wheel installs and for editable installs.

Each layout gets a fresh virtualenv without torch: resolving `optim.<plugin>` needs only
optim-core's `optim/__init__.py`, which imports nothing heavy.
"""

from __future__ import annotations

import subprocess
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"

PROBE = """
import importlib.util, optim
for name in ("models", "circuits"):
    print(name, importlib.util.find_spec("optim." + name).origin)
try:
    optim.reducer
except ImportError as exc:
    print("reducer-error", exc)
"""


def _venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


def _pip_install(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *args], check=True)


def _probe(python: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(python), "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


@pytest.mark.slow
def test_wheel_install_of_core_and_two_plugins(tmp_path, build_wheel):
    python = _venv(tmp_path / "venv")
    wheels = tmp_path / "wheels"
    for dist in ("optim-core", "optim-models", "optim-circuits"):
        build_wheel(PACKAGES / dist, wheels)
    for wheel in wheels.glob("optim_[mc]*.whl"):
        names = zipfile.ZipFile(wheel).namelist()
        if "optim_core" not in wheel.name:
            assert "optim/__init__.py" not in names, f"{wheel.name} must not own optim/__init__.py"
    _pip_install(python, *map(str, sorted(wheels.glob("*.whl"))))

    found = _probe(python)
    site = str(tmp_path / "venv")
    assert found["models"].startswith(site) and found["models"].endswith("optim/models/__init__.py")
    assert found["circuits"].startswith(site)
    assert "pip install optim-reducer" in found["reducer-error"]


@pytest.mark.slow
def test_editable_installs_side_by_side(tmp_path):
    python = _venv(tmp_path / "venv")
    _pip_install(
        python,
        *(
            arg
            for dist in ("optim-core", "optim-models", "optim-circuits")
            for arg in ("-e", str(PACKAGES / dist))
        ),
    )
    found = _probe(python)
    assert found["models"] == str(PACKAGES / "optim-models/src/optim/models/__init__.py")
    assert found["circuits"] == str(PACKAGES / "optim-circuits/src/optim/circuits/__init__.py")
    assert "pip install optim-reducer" in found["reducer-error"]
