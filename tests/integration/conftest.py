"""Shared fixtures for integration tests: built wheels of the third-party plugin fixtures,
and a folder of real photos."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def _build_wheel(project: Path, out: Path) -> Path:
    """Build ``project`` (a folder with a pyproject.toml) into a wheel in ``out``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(project)],
        check=True,
    )  # fmt: skip
    return next(out.glob(f"{project.name.replace('-', '_')}-*.whl"))


@pytest.fixture(scope="session")
def build_wheel():
    """``build_wheel(project_dir, out_dir) -> wheel path``, with this interpreter's hatchling."""
    return _build_wheel


@pytest.fixture(scope="session")
def fixture_wheels(tmp_path_factory) -> dict[str, Path]:
    """Build each fixture package into a wheel once per session: {dist name: wheel path}."""
    out = tmp_path_factory.mktemp("wheels")
    projects = sorted(p for p in FIXTURES.iterdir() if (p / "pyproject.toml").exists())
    return {project.name: _build_wheel(project, out) for project in projects}


@pytest.fixture
def install_beside_core(tmp_path, fixture_wheels):
    """Install fixture wheels into a fresh folder and return a runner for `python` with it on
    sys.path, the way a site-packages holding core and the plugin would look."""

    def install(*dists: str):
        target = tmp_path / ("site-" + "-".join(dists))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--no-deps",
                "-q",
                "--target",
                str(target),
                *(str(fixture_wheels[d]) for d in dists),
            ],
            check=True,
        )

        def run(*args: str, env: dict[str, str] | None = None, check: bool = False):
            full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIM_")}
            full_env["PYTHONPATH"] = os.pathsep.join([str(target), full_env.get("PYTHONPATH", "")])
            full_env.update(env or {})
            return subprocess.run(
                [sys.executable, *args], capture_output=True, text=True, env=full_env, check=check
            )

        return run

    return install


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """A folder of the eight real photos of scikit-image and scikit-learn, as PNG files."""
    skimage_data = pytest.importorskip("skimage.data")
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        Image.fromarray(getattr(skimage_data, name)()).save(folder / f"{name}.png")
    samples = sklearn_datasets.load_sample_images()
    for filename, image in zip(samples.filenames, samples.images):
        Image.fromarray(image).save(folder / Path(filename).with_suffix(".png").name)
    return folder
