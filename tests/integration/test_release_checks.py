"""tools/release_checks.py: what `nox -s build` refuses before building a distribution."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("release_checks", ROOT / "tools/release_checks.py")
release_checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(release_checks)
ReleaseError = release_checks.ReleaseError


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    package = tmp_path / "packages" / "optim-toy"
    package.mkdir(parents=True)
    (package / "pyproject.toml").write_text('[project]\nname = "optim-toy"\nversion = "1.2.0"\n')
    (package / "CHANGELOG.md").write_text("# Changelog\n\n## 1.2.0 — 2026-11-30\n\nFirst.\n")
    (package / "code.py").write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "toy")
    return tmp_path


def test_an_untagged_version_with_a_changelog_entry_passes(repo):
    assert release_checks.check_release(repo, repo / "packages/optim-toy") == "1.2.0"


def test_the_tagged_sources_themselves_can_be_rebuilt(repo):
    _git(repo, "tag", "optim-toy-v1.2.0")
    assert release_checks.check_release(repo, repo / "packages/optim-toy") == "1.2.0"


def test_a_tagged_version_whose_package_changed_is_refused(repo):
    _git(repo, "tag", "optim-toy-v1.2.0")
    (repo / "packages/optim-toy/code.py").write_text("x = 2\n")
    with pytest.raises(
        ReleaseError,
        match=r"optim-toy 1.2.0 is already released \(tag optim-toy-v1.2.0\).*bump the version",
    ):
        release_checks.check_release(repo, repo / "packages/optim-toy")


def test_another_packages_tag_does_not_count(repo):
    _git(repo, "tag", "optim-other-v1.2.0")
    (repo / "packages/optim-toy/code.py").write_text("x = 2\n")
    assert release_checks.check_release(repo, repo / "packages/optim-toy") == "1.2.0"


def test_a_version_without_a_changelog_entry_is_refused(repo):
    changelog = repo / "packages/optim-toy/CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## 1.1.0\n\nOlder.\n## 1.2.01\n")
    with pytest.raises(ReleaseError, match=r"no entry for version 1.2.0: add a '## 1.2.0' section"):
        release_checks.check_release(repo, repo / "packages/optim-toy")
    changelog.unlink()
    with pytest.raises(ReleaseError, match=r"has no CHANGELOG\.md"):
        release_checks.check_release(repo, repo / "packages/optim-toy")


def test_outside_a_git_checkout_the_tags_cannot_be_checked(tmp_path):
    package = tmp_path / "optim-toy"
    package.mkdir()
    (package / "pyproject.toml").write_text('[project]\nname = "optim-toy"\nversion = "1.0"\n')
    (package / "CHANGELOG.md").write_text("## 1.0\n")
    with pytest.raises(ReleaseError, match="not a git checkout"):
        release_checks.check_release(tmp_path, package)


@pytest.mark.parametrize("package", sorted(p.name for p in (ROOT / "packages").iterdir()))
def test_every_package_has_a_changelog_entry_for_its_version(package):
    package_dir = ROOT / "packages" / package
    release_checks.check_changelog(package_dir, release_checks.package_version(package_dir))
    assert (package_dir / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
