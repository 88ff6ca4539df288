"""Release checks for the five distributions: a CHANGELOG entry per version, no re-release.

Each package under ``packages/`` carries its own version (``pyproject.toml``) and CHANGELOG.md;
a release of version ``V`` of package ``P`` is the git tag ``P-vV`` (``optim-core-v0.1.0``).
``nox -s build`` calls :func:`check_release` for every package before building it.

>>> tag_name("optim-core", "0.1.0")
'optim-core-v0.1.0'
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path


class ReleaseError(RuntimeError):
    """A package cannot be built as a release: the message says what to change."""


def tag_name(package: str, version: str) -> str:
    """The git tag a release of ``package`` at ``version`` gets."""
    return f"{package}-v{version}"


def package_version(package_dir: Path) -> str:
    """The ``[project] version`` of the package in ``package_dir``."""
    with open(package_dir / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def check_changelog(package_dir: Path, version: str) -> None:
    """Fail unless CHANGELOG.md has a ``## <version>`` heading (``## 0.1.0 — 2026-11-30``)."""
    changelog = package_dir / "CHANGELOG.md"
    if not changelog.is_file():
        raise ReleaseError(
            f"{package_dir.name} has no CHANGELOG.md: add one with a '## {version}' entry"
        )
    heading = re.compile(rf"^##\s+\[?{re.escape(version)}\]?(\s|$)", re.MULTILINE)
    if not heading.search(changelog.read_text(encoding="utf-8")):
        raise ReleaseError(
            f"{changelog} has no entry for version {version}: add a '## {version}' section "
            "saying what changed"
        )


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def check_not_released(repo: Path, package_dir: Path, version: str) -> None:
    """Fail if ``version`` is already tagged and the package changed since that tag.

    Rebuilding the tagged commit itself is allowed (that is the release build); building
    changed sources under a published version number is not.
    """
    package = package_dir.name
    tag = tag_name(package, version)
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise ReleaseError(f"{repo} is not a git checkout: the release tags cannot be checked")
    if _git(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}").returncode != 0:
        return
    relative = package_dir.resolve().relative_to(repo.resolve()).as_posix()
    changed = _git(repo, "diff", "--quiet", tag, "--", relative).returncode
    if changed != 0:
        raise ReleaseError(
            f"{package} {version} is already released (tag {tag}) and {relative} changed since: "
            f"bump the version in {relative}/pyproject.toml and add a CHANGELOG.md entry for it"
        )


def check_release(repo: Path, package_dir: Path) -> str:
    """Run every check for one package; returns its version."""
    version = package_version(package_dir)
    check_changelog(package_dir, version)
    check_not_released(repo, package_dir, version)
    return version
