"""Griffe extension: Sphinx roles in optim's docstrings become cross-references in the site.

optim's docstrings are Google style with Sphinx roles (``:class:`~optim.loss.Loss```,
``:func:`render```), which read well in ``help()`` but mean nothing to Markdown. Each role
becomes an optional mkdocs-autorefs reference: a link when the target is documented in the
site, its name in code font otherwise (``:class:`torch.Tensor``` has no page here), so no role
can break the strict build. Short names are resolved in the docstring's own scope (the names
its module defines or imports), as Sphinx does. RST's ``::`` before a literal block becomes
``:``, the Markdown code block after it being indented already, and an ``Example:`` section is
read as Google style's ``Examples:`` (its doctests rendered as code, not as quoted text).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj|const):`(?P<target>[^`]+)`")
_LITERAL_BLOCK = re.compile(r"(?<=\S)::(?=\n\s*\n)")
_CALLABLE_ROLES = (":func:", ":meth:")
_EXAMPLE_SECTION = re.compile(r"^Example:[ \t]*$", re.MULTILINE)


def _identifier(obj: griffe.Object, target: str) -> str:
    """The dotted path ``target`` names from ``obj``'s scope (``target`` itself if unknown)."""
    if target.startswith("optim."):
        return target
    head, _, rest = target.partition(".")
    try:
        resolved = obj.resolve(head)
    except (griffe.NameResolutionError, griffe.AliasResolutionError, KeyError):
        return target
    return f"{resolved}.{rest}" if rest else resolved


def rewrite(obj: griffe.Object, text: str) -> str:
    """``text`` with its roles as optional autorefs, ``::`` before literal blocks as ``:`` and
    ``Example:`` sections as ``Examples:``."""

    def reference(match: re.Match[str]) -> str:
        target = match["target"].strip()
        shown = target.lstrip("~.")
        if target.startswith("~"):
            shown = shown.rsplit(".", 1)[-1]
        if match.group(0).startswith(_CALLABLE_ROLES) and not shown.endswith(")"):
            shown += "()"
        identifier = _identifier(obj, target.lstrip("~."))
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(shown)}</code></autoref>"
        )

    text = _EXAMPLE_SECTION.sub("Examples:", text)
    return _LITERAL_BLOCK.sub(":", _ROLE.sub(reference, text))


def _documented(obj: griffe.Object) -> Iterator[griffe.Object]:
    """``obj`` and every object defined under it (aliases point elsewhere: skipped)."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _documented(member)


class SphinxRoles(griffe.Extension):
    """Rewrite the docstrings of every object of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: object) -> None:
        for obj in _documented(pkg):
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj, obj.docstring.value)
