"""mkdocs hook: the API reference pages, generated from the packages' ``__all__`` lists.

A page containing ``<!-- optim-api: optim.rendering -->`` gets, in its place, the mkdocstrings
directives for that package: the package itself (every name of its ``__all__``), then each
public submodule with the public names the package does not re-export (a submodule's
``__all__``, or the public names it defines). So every public name of every package is on
exactly one page, and a name added to the code appears without editing the docs.

``<!-- optim-api: optim -->`` (on the API index) becomes the table of the top-level ``opt.<name>``
shortcuts, each linking to the page of the object it stands for.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import griffe
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

MARKER = re.compile(r"<!-- optim-api: (?P<module>[\w.]+) -->")

_SOURCES = Path("build", "docs-api")  # api_sources.py links the packages' sources there


@cache
def _optim(root: str) -> griffe.Module:
    return griffe.load("optim", search_paths=[str(Path(root) / _SOURCES)], resolve_aliases=False)


def public_names(module: griffe.Module) -> list[str]:
    """``module.__all__`` in order, or the public names it defines (not imports)."""
    if module.exports is not None:
        return [name if isinstance(name, str) else name.name for name in module.exports]
    return [
        name
        for name, member in module.members.items()
        if not name.startswith("_") and not member.is_alias and not member.is_module
    ]


def _directive(path: str, heading_level: int, members: list[str] | None = None) -> str:
    lines = [f"::: {path}", "    options:", f"      heading_level: {heading_level}"]
    if members is not None:
        lines.append(f"      members: [{', '.join(members)}]")
    return "\n".join(lines)


def package_reference(package: griffe.Module) -> str:
    """The directives of one package page: the package, then its submodules' other names."""
    documented = set(public_names(package))
    blocks = [_directive(package.path, 1)]
    submodules = [
        member
        for name, member in package.members.items()
        if not member.is_alias and member.is_module and not name.startswith("_")
    ]
    extra = []
    for submodule in sorted(submodules, key=lambda module: module.name):
        names = [name for name in public_names(submodule) if name not in documented]
        if names:
            extra.append(_directive(submodule.path, 3, names))
    if extra:
        blocks.append(
            f"## Submodules\n\nPublic names of `{package.path}`'s modules that the package "
            "itself does not re-export."
        )
        blocks += extra
    return "\n\n".join(blocks)


def shortcuts_table(optim: griffe.Module) -> str:
    """The ``opt.<name>`` shortcuts (optim-core's lazy top-level attributes) as a table."""
    lazy = ast.literal_eval(str(optim.members["_LAZY_ATTRIBUTES"].value))
    rows = ["| `opt.` name | is |", "|---|---|"]
    for name, target in lazy.items():
        module, attribute = target.split(":")
        rows.append(f"| `opt.{name}` | [`{module}.{attribute}`][{module}.{attribute}] |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    root = str(Path(config.config_file_path).parent)

    def expand(match: re.Match[str]) -> str:
        path = match["module"]
        optim = _optim(root)
        if path == "optim":
            return shortcuts_table(optim)
        return package_reference(optim[path.removeprefix("optim.")])

    return MARKER.sub(expand, markdown)


def on_pre_build(config: MkDocsConfig) -> None:
    _optim.cache_clear()  # `mkdocs serve` rebuilds: read the sources again
