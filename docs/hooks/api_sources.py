"""mkdocs hook: lay the five packages' sources out as one ``optim`` tree for mkdocstrings.

``optim`` is one import package spread over five distributions (optim-core owns
``optim/__init__.py``; the others add ``optim/models``, ``optim/reducer``, ...). Installed, they
share one folder; in the source tree they do not, and griffe (mkdocstrings' static reader) only
merges namespace packages without an ``__init__.py``. So the build links every package's
``src/optim/*`` into ``build/docs-api/optim/`` (the ``paths`` mkdocstrings reads), which is
what an install of all five looks like.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig

TREE = Path("build", "docs-api")
"""Where the merged tree goes, relative to the folder of mkdocs.yml (``build/`` is ignored)."""


def merge_sources(root: Path) -> Path:
    """Link ``root/packages/*/src/optim/*`` into ``root/build/docs-api/optim``; returns it."""
    target = root / TREE / "optim"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for package in sorted((root / "packages").glob("*/src/optim")):
        for entry in sorted(package.iterdir()):
            if entry.name == "__pycache__":
                continue
            link = target / entry.name
            if link.exists() or link.is_symlink():
                raise RuntimeError(
                    f"{entry} and {link.resolve()} both provide optim/{entry.name}: two "
                    "distributions cannot ship the same part of the optim package."
                )
            link.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    if not (target / "__init__.py").exists():
        raise RuntimeError(f"no packages/*/src/optim/__init__.py under {root}: is this optim?")
    return target


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    merge_sources(Path(config.config_file_path).parent)
    return config
