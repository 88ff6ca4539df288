"""``optim plugins``: every registered name per kind, with its distribution and version.

Namespaces (``torchvision/<name>``: any name resolved by the namespace's plugin) are listed
after the names of their kind; in ``--json`` they are rows with a ``"namespace"`` key.
"""

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
    namespaces = registry.namespaces(args.kind)
    if args.json:
        rows = [e.as_dict() for e in entries] + [ns.as_dict() for ns in namespaces]
        print(json.dumps(rows, indent=2))
        return 0
    kinds = [args.kind] if args.kind else registry.kinds()
    for kind in kinds:
        rows = [
            (e.name, e.distribution, e.version, e.description) for e in entries if e.kind == kind
        ]
        count = len(rows)
        rows += [
            (ns.pattern, ns.distribution, ns.version, ns.description)
            for ns in namespaces
            if ns.kind == kind
        ]
        print(f"{kind} ({count})")
        width = max((len(row[0]) for row in rows), default=0)
        for name, dist, version, description in rows:
            source = f"{dist} {version}"
            print(f"  {name:<{width}}  {source:<24}  {description}")
    for plugin, dist, version, exc in registry.failed:
        print(f"failed: {plugin} ({dist} {version}): {type(exc).__name__}: {exc}")
    return 0
