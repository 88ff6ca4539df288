"""``optim plugins``: every registered name per kind, with its distribution and version.

Namespaces (``torchvision/<name>``: any name resolved by the namespace's plugin) are listed
after the names of their kind; in ``--json`` they are rows with a ``"namespace"`` key.
Plugins that failed to load, names registered twice (the first registration is kept; the
row of the kept name lists the skipped ones under ``"clashes"`` in ``--json``) and a disabled
autoload (``OPTIM_DISABLE_PLUGIN_AUTOLOAD``) are reported after the names.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from optim.plugins import registry
from optim.plugins.entries import Clash, Entry, Namespace
from optim.plugins.errors import describe_error
from optim.plugins.registry import AUTOLOAD_DISABLED_NOTE


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
    clashes = [c for c in registry.clashes if args.kind in (None, c.kind)]
    if args.json:
        _print_json(entries, namespaces, clashes, with_failed=args.kind is None)
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
    for clash in clashes:
        kept = clash.kept
        print(
            f"clash: the {clash.what} is registered by {kept.distribution} {kept.version} "
            f"(plugin {kept.plugin!r}, kept) and by {clash.skipped_distribution} "
            f"{clash.skipped_version} (plugin {clash.skipped_plugin!r}, skipped)"
        )
    for plugin, dist, version, exc in registry.failed:
        print(f"failed: {plugin} ({dist} {version}): {describe_error(exc)}")
    if registry.autoload_disabled:
        print(f"plugin autoload is disabled: {AUTOLOAD_DISABLED_NOTE}")
    return 0


def _print_json(
    entries: list[Entry], namespaces: list[Namespace], clashes: list[Clash], *, with_failed: bool
) -> None:
    """One row per name and namespace; skipped registrations under the kept row's
    ``"clashes"``; without ``--kind``, one row per failed plugin (``"failed"``: the error)."""
    skipped: dict[tuple[str, str, bool], list[dict[str, str]]] = {}
    for clash in clashes:
        key = (clash.kind, clash.name, clash.is_namespace)
        skipped.setdefault(key, []).append(clash.as_dict())
    rows: list[dict[str, Any]] = []
    listed: list[tuple[Entry | Namespace, str, bool]] = [(e, e.name, False) for e in entries]
    listed += [(n, n.namespace, True) for n in namespaces]
    for item, name, is_namespace in listed:
        row: dict[str, Any] = item.as_dict()
        if (item.kind, name, is_namespace) in skipped:
            row["clashes"] = skipped[(item.kind, name, is_namespace)]
        rows.append(row)
    if with_failed:
        rows += [
            {"kind": None, "name": plugin, "target": None, "distribution": dist,
             "version": version, "plugin": plugin, "description": "",
             "failed": describe_error(exc)}
            for plugin, dist, version, exc in registry.failed
        ]  # fmt: skip
    print(json.dumps(rows, indent=2))
    if registry.autoload_disabled:
        print(f"optim plugins: {AUTOLOAD_DISABLED_NOTE}", file=sys.stderr)
