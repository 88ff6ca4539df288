"""CI sessions: one test session per package (tests + docstring examples), integration, docs,
typecheck, build (release distributions), lint, and a dev environment.

nox            # all of them but dev (what CI runs)
nox -l         # list sessions
nox -s dev     # editable install of everything into .venv for daily work
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ["optim-core", "optim-models", "optim-reducer", "optim-circuits", "optim-dataset"]
CONSTRAINTS = ["-c", str(ROOT / "constraints.txt")]
# Real photos for tests and tutorials (scikit-image, scikit-learn).
PHOTO_DEPS = ["scikit-image>=0.22", "scikit-learn>=1.3"]
# Test-only dependencies: the photos and the test runner.
TEST_DEPS = ["pytest>=8", *PHOTO_DEPS]
# The documentation site (mkdocs.yml): theme, API pages from docstrings, executed notebooks.
DOCS_DEPS = [
    "mkdocs>=1.6,<2",
    "mkdocs-material>=9.6",
    "mkdocstrings-python>=2.0",
    "mkdocs-jupyter>=0.26",
    "jupytext>=1.16",
    "ipykernel>=6.29",
    "ruff>=0.6",  # mkdocstrings formats the API pages' signatures with it
]
PYTHON = "3.11"
# Optional extras a package's own tests exercise (timm models come with optim-models[timm]).
TEST_EXTRAS = {"optim-models": "[timm]"}
# torch + torchvision (~6 GB) are installed once into this shared layer and made visible to each
# test session through a .pth file; every session still installs its own optim packages and test
# dependencies, so what a package declares is what its session sees of optim.
TORCH_LAYER = ROOT / ".nox" / "_torch-layer"
# The type checker (the version [tool.mypy] in pyproject.toml was written for) and the stubs of
# the libraries optim imports that ship no types of their own (torchvision has none: ignored).
TYPECHECK_DEPS = ["mypy>=2.4", "types-tqdm>=4.66"]

nox.options.sessions = [f"tests-{p}" for p in PACKAGES] + [
    "integration",
    "docs",
    "typecheck",
    "build",
    "lint",
]
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = True


def _package(name: str) -> str:
    return str(ROOT / "packages" / name)


def _import_name(package: str) -> str:
    """The module a distribution owns: ``optim`` (optim-core), ``optim.models`` (optim-models)."""
    return "optim" if package == "optim-core" else "optim." + package.removeprefix("optim-")


def _cleanup(session: nox.Session) -> None:
    """On CI, drop a passed session's virtualenv (a torch venv is ~6 GB)."""
    if os.environ.get("CI") and isinstance(session.virtualenv, nox.virtualenv.VirtualEnv):
        shutil.rmtree(session.virtualenv.location, ignore_errors=True)


def _install_torch_layer(session: nox.Session, python: str = "python") -> None:
    """Make the shared torch/torchvision layer importable in ``python``'s environment.

    ``python`` defaults to the session's own interpreter.
    """
    layer_python = TORCH_LAYER / "bin" / "python"
    if not layer_python.exists():
        session.run("python", "-m", "venv", str(TORCH_LAYER))
        session.run(
            str(layer_python),
            "-m",
            "pip",
            "install",
            "-q",
            *CONSTRAINTS,
            "torch",
            "torchvision",
            external=True,
        )
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    layer_site = session.run(str(layer_python), "-c", code, silent=True, external=True).strip()
    session_site = session.run(python, "-c", code, silent=True, external=True).strip()
    Path(session_site, "_optim_torch_layer.pth").write_text(layer_site + "\n")


def _pytest(session: nox.Session, *paths: str) -> None:
    session.run(
        "python",
        "-m",
        "pytest",
        "--durations=8",
        *paths,
        *session.posargs,
        env={"MPLBACKEND": "Agg"},
    )


def _make_test_session(package: str) -> None:
    @nox.session(name=f"tests-{package}", python=PYTHON)
    def tests(session: nox.Session) -> None:
        # Built wheels, not editable: core + this package + test deps only.
        own = _package(package) + TEST_EXTRAS.get(package, "")
        wheels = [_package("optim-core")] + ([] if package == "optim-core" else [own])
        _install_torch_layer(session)
        session.install(*CONSTRAINTS, *wheels, *TEST_DEPS)
        # Plus the docstring examples of the modules this package owns, imported from the
        # installed wheel: `optim` holds only optim-core's modules in optim-core's session.
        _pytest(session, f"tests/{package}", "--doctest-modules", "--pyargs", _import_name(package))
        _cleanup(session)

    tests.__doc__ = (
        f"Run tests/{package} and the docstring examples of {package} against built wheels of "
        f"optim-core and {package}."
    )


for _package_name in PACKAGES:
    _make_test_session(_package_name)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """All packages together, plus the third-party plugin fixtures in tests/integration."""
    _install_torch_layer(session)
    session.install(
        *CONSTRAINTS, *map(_package, PACKAGES), *TEST_DEPS, *DOCS_DEPS, "hatchling", "selenium"
    )
    _pytest(session, "tests/integration")
    _cleanup(session)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy over the five installed packages (wheels, as the tests use them), per [tool.mypy]."""
    _install_torch_layer(session)
    wheels = [_package(p) + TEST_EXTRAS.get(p, "") for p in PACKAGES]
    session.install(*CONSTRAINTS, *wheels, *TYPECHECK_DEPS)
    # From an empty folder, so that the `optim` mypy finds is the installed one, not a source
    # tree. The wheels put all five packages in one site-packages/optim: `-p optim` is all of
    # them (the config's list of five is for the editable layout, where they are apart).
    session.chdir(session.create_tmp())
    config = str(ROOT / "pyproject.toml")
    session.run("mypy", "--config-file", config, "-p", "optim", *session.posargs)
    _cleanup(session)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    _cleanup(session)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ with warnings as errors, tutorials executed.

    ``nox -s docs -- --dirty`` and other arguments go to ``mkdocs build``; with
    ``OPTIM_DOCS_EXECUTE=false`` the tutorials are shown without running them.
    """
    _install_torch_layer(session)
    session.install(*CONSTRAINTS, *map(_package, PACKAGES), *DOCS_DEPS, *PHOTO_DEPS)
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        *session.posargs,
        env={
            "NO_MKDOCS_2_WARNING": "1",  # material's banner about a future MkDocs 2.0
            # One thread per tutorial: on a busy 2-core machine the notebooks took up to
            # 9 minutes with two threads each (waiting OpenMP threads spin), about 1.5 with one.
            "OMP_NUM_THREADS": "1",
        },
    )
    session.log(f"Built {ROOT / 'site'}; preview: python -m http.server -d site")
    _cleanup(session)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Build each distribution into dist/, check it strictly, install each wheel alone, import it.

    Refuses a package whose version is already tagged (``<package>-v<version>``) when the package
    changed since, or whose CHANGELOG.md has no entry for the version (tools/release_checks.py).
    """
    sys.path.insert(0, str(ROOT / "tools"))
    from release_checks import ReleaseError, check_release

    try:
        versions = {p: check_release(ROOT, ROOT / "packages" / p) for p in PACKAGES}
    except ReleaseError as error:
        session.error(str(error))
    session.install("build>=1.2", "twine>=6")
    dist = ROOT / "dist"
    built: dict[str, list[Path]] = {}
    for package, version in versions.items():
        out = Path(session.create_tmp()) / package
        shutil.rmtree(out, ignore_errors=True)
        session.run("python", "-m", "build", "--outdir", str(out), _package(package))
        built[package] = sorted(out.iterdir())
        stem = package.replace("-", "_") + "-" + version
        names = sorted(f.name for f in built[package])
        if names != [f"{stem}-py3-none-any.whl", f"{stem}.tar.gz"]:
            session.error(f"{package}: expected an sdist and a wheel of {version}, got {names}")
    files = [f for fs in built.values() for f in fs]
    session.run("twine", "check", "--strict", *map(str, files))
    core_wheel = _wheel(built["optim-core"])
    for package in PACKAGES:
        # Alone: a fresh environment with the torch layer, this wheel and what it declares.
        env = Path(session.create_tmp()) / f"alone-{package}"
        shutil.rmtree(env, ignore_errors=True)
        session.run("python", "-m", "venv", str(env))
        python = str(env / "bin" / "python")
        _install_torch_layer(session, python)
        wheels = {core_wheel, _wheel(built[package])}
        pip = [python, "-m", "pip", "install", "-q", *CONSTRAINTS]
        session.run(*pip, *map(str, wheels), external=True)
        check = (
            "import importlib, importlib.metadata as m, optim; "
            f"importlib.import_module({_import_name(package)!r}); "
            f"assert m.version({package!r}) == {versions[package]!r}, m.version({package!r}); "
            "ours = sorted(d.name for d in m.distributions() if d.name.startswith('optim-')); "
            f"assert ours == {sorted({'optim-core', package})!r}, ours; "
            f"print({package!r}, 'imports with', ours)"
        )
        session.run(python, "-c", check, external=True)
        shutil.rmtree(env, ignore_errors=True)
    dist.mkdir(exist_ok=True)
    for f in files:  # into dist/ last, so a failed check leaves dist/ as it was
        os.replace(f, dist / f.name)
    session.log(f"{len(files)} files in {dist}: " + ", ".join(f.name for f in files))
    _cleanup(session)


def _wheel(files: list[Path]) -> Path:
    return next(f for f in files if f.suffix == ".whl")


@nox.session(python=PYTHON, venv_backend="none")
def dev(session: nox.Session) -> None:
    """Editable install of every package (plus test/dev tools) into .venv."""
    venv = ROOT / ".venv"
    if not venv.exists():
        session.run("python3", "-m", "venv", str(venv), external=True)
    pip = str(venv / "bin" / "pip")
    editable = [arg for p in PACKAGES for arg in ("-e", _package(p) + TEST_EXTRAS.get(p, ""))]
    session.run(
        pip,
        "install",
        *CONSTRAINTS,
        *editable,
        *TEST_DEPS,
        *DOCS_DEPS,
        *TYPECHECK_DEPS,
        "ruff",
        "nox",
        "hatchling",
        "selenium",
        external=True,
    )
    session.log(f"Activate with: source {venv}/bin/activate")
