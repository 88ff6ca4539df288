"""``optim plugins``: every registered name per kind, with its distribution and version."""

from __future__ import annotations

import argparse
import json

from optim.plugins import registry


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins", help="list registered parameterizations, transforms, objectives, models, ..."
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--kind", choices=registry.kinds(), help="only this kind")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    entries = registry.entries(args.kind)
    if args.json:
        print(json.dumps([e.as_dict() for e in entries], indent=2))
        return 0
    kinds = [args.kind] if args.kind else registry.kinds()
    for kind in kinds:
        rows = [e for e in entries if e.kind == kind]
        print(f"{kind} ({len(rows)})")
        width = max((len(e.name) for e in rows), default=0)
        for e in rows:
            source = f"{e.distribution} {e.version}"
            print(f"  {e.name:<{width}}  {source:<24}  {e.description}")
    for plugin, dist, version, exc in registry.failed:
        print(f"failed: {plugin} ({dist} {version}): {type(exc).__name__}: {exc}")
    return 0
