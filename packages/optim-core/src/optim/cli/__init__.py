"""The ``optim`` command line.

Each subcommand lives in its own module under ``optim.cli`` and exposes
``add_parser(subparsers)``, which registers an argparse sub-parser whose ``run(args)``
returns the exit code. Add a command by adding its module name to ``COMMANDS``.

Example:
    $ optim --version
    $ optim plugins --json
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from optim.cli.errors import CLIError

COMMANDS = ["plugins", "render", "layer", "model", "exemplars", "layers"]

__all__ = ["COMMANDS", "CLIError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand."""
    from optim import __version__

    parser = argparse.ArgumentParser(
        prog="optim", description="Optimization-based interpretability for PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"optim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"optim.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"optim.cli.{name}_cmd":
                continue  # command not shipped yet in this version
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optim`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    rank_logs = logging.getLogger("optim.rendering.ranks")  # `[rank r/N] ...` of torchrun jobs
    handler = logging.StreamHandler(sys.stderr)
    rank_logs.addHandler(handler)
    rank_logs.setLevel(logging.INFO)
    try:
        return int(args.run(args) or 0)
    except CLIError as exc:
        print(f"optim {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `optim layers MODEL | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0
    finally:
        rank_logs.removeHandler(handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
