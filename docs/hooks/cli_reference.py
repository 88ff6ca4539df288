"""mkdocs hook: the CLI reference, generated from the real argparse parsers at build time.

A page containing the marker ``<!-- optim-cli-reference -->`` gets, in its place, one section
per ``optim`` subcommand: its one-line help, its description, its usage line and every
argument with its help, all read from :func:`optim.cli.build_parser`. Nothing is copied by
hand, so the page cannot drift from ``optim --help``.
"""

from __future__ import annotations

import argparse
import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

MARKER = "<!-- optim-cli-reference -->"
WIDTH = 88
"""Columns of the usage lines."""

_CODE_SPAN = re.compile(r"(`[^`]*`)")
_MARKDOWN_SPECIALS = re.compile(r"([\\*_\[\]<>])")


def markdown_text(text: str) -> str:
    """``text`` with Markdown's special characters escaped outside its `code spans`.

    Help strings already mark commands and options with backticks; everything else (layer
    names such as ``_blocks.10``, ``[B, tokens, features]``) must come out as written.
    """
    parts = _CODE_SPAN.split(" ".join(text.split()))
    return "".join(
        part if part.startswith("`") else _MARKDOWN_SPECIALS.sub(r"\\\1", part) for part in parts
    )


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, one-line help, parser)`` of every subcommand, in ``optim --help`` order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _name(action: argparse.Action) -> str:
    return action.option_strings[0] if action.option_strings else action.dest


def _argument(formatter: argparse.HelpFormatter, action: argparse.Action) -> str:
    invocation = formatter._format_action_invocation(action)
    help_text = formatter._expand_help(action) if action.help else ""
    if action.required and action.option_strings:
        help_text = f"{help_text} (required)".strip()
    line = f"- `{invocation}`"
    return f"{line}: {markdown_text(help_text)}" if help_text else line


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    """The parser's own formatter at a fixed width (not the terminal's: the page is the same
    wherever it is built)."""
    return parser.formatter_class(prog=parser.prog, width=WIDTH)


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    formatter = _formatter(parser)
    lines = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if a.help is not argparse.SUPPRESS]
        if not actions:
            continue
        lines += ["", f"**{group.title.capitalize()}**", ""]
        lines += [_argument(formatter, action) for action in actions]
        if group.description:
            lines += ["", markdown_text(group.description)]
    exclusive = [
        " / ".join(f"`{_name(action)}`" for action in group._group_actions)
        for group in parser._mutually_exclusive_groups
    ]
    if exclusive:
        lines += ["", "Only one of: " + "; ".join(exclusive) + "."]
    return lines


def _usage(parser: argparse.ArgumentParser) -> list[str]:
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    prefix = "usage: "
    first, *rest = formatter.format_help().strip().removeprefix(prefix).splitlines()
    return ["```text", first, *(line.removeprefix(" " * len(prefix)) for line in rest), "```"]


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """The Markdown of the whole reference (the top-level parser, then each subcommand)."""
    if parser is None:
        from optim.cli import build_parser

        parser = build_parser()
    lines = [
        markdown_text(parser.description or ""),
        "",
        *_usage(parser),
        *_arguments(parser),
    ]
    for name, summary, sub in _subcommands(parser):
        lines += ["", f"## `optim {name}`", ""]
        if summary:
            summary = summary[:1].upper() + summary[1:]
            lines += [markdown_text(summary if summary.endswith(".") else summary + "."), ""]
        if sub.description:
            lines += [markdown_text(sub.description), ""]
        lines += _usage(sub)
        lines += _arguments(sub)
        if sub.epilog:
            lines += ["", markdown_text(sub.epilog)]
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())
