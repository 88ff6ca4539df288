"""``optim render``: render one unit of a registered model to a PNG and its JSON manifest.

With no arguments it renders the default unit of the offline EfficientNet-Lite0 in about a
minute on two CPU cores. ``--spec manifest.json`` re-runs a manifest (from ``optim render``
or one channel of ``optim layer``) and checks that the PNG comes out byte-identical.

Example:
    $ optim render --out out/render.png
    $ optim render --target _blocks.5:17 --size 224 --steps 256 --seed 3 --out unit.png
    $ optim render --spec out/render.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from optim.cli.errors import CLIError
from optim.cli.render_options import (
    add_model_options,
    add_render_options,
    check_output_file,
    fast_path_from_args,
    load_model,
    user_errors,
)

__all__ = ["DEFAULTS", "add_parser", "run"]

DEFAULTS: dict[str, Any] = {
    "model": "efficientnet_lite0",
    "target": "_blocks.10:2",
    "size": 160,
    "steps": 256,
    "lr": 0.05,
    "parameterization": "fft_image",
    "transforms": "transformation_robustness",
    "objective": None,
    "out": "render.png",
}
"""What ``optim render`` does with no arguments: a recognisable unit in about a minute on CPU."""

_SPEC_EXCLUSIVE = (
    "model",
    "target",
    "size",
    "steps",
    "lr",
    "seed",
    "parameterization",
    "transforms",
    "objective",
    "device",
    "random_weights",
    "precision",
    "cuda_graph",
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render one unit of a model to a PNG + JSON manifest",
        description="Render the image that maximises one unit of a registered model. "
        "Writes the PNG and, beside it, a JSON manifest with every setting and the seed.",
    )
    parser.add_argument(
        "--model", default=None, help=f"registered model name; default {DEFAULTS['model']}"
    )
    parser.add_argument(
        "--target",
        default=None,
        help="LAYER:CHANNEL or LAYER:CHANNEL:X:Y (`optim layers MODEL` lists layers); "
        f"default {DEFAULTS['target']}",
    )
    add_render_options(parser)
    add_model_options(parser)
    parser.add_argument("--out", default=None, help=f"PNG path; default {DEFAULTS['out']}")
    parser.add_argument(
        "--spec",
        default=None,
        metavar="MANIFEST",
        help="re-run a manifest written by `optim render` or `optim layer` and check the PNG",
    )
    parser.set_defaults(run=run)


def _setting(args: argparse.Namespace, name: str) -> Any:
    value = getattr(args, name)
    return DEFAULTS[name] if value is None else value


def run(args: argparse.Namespace) -> int:
    if args.spec is not None:
        given = [f"--{n.replace('_', '-')}" for n in _SPEC_EXCLUSIVE if getattr(args, n)]
        if given:
            raise CLIError(
                f"--spec re-runs a manifest exactly; drop {', '.join(given)} (only --out and "
                "--no-progress go with --spec)."
            )
        from optim.cli.rerun_manifest import rerun_manifest

        return rerun_manifest(args.spec, args.out, show_progress=not args.no_progress)

    from optim.rendering import render, render_manifest, write_manifest
    from optim.rendering.objective import check_unit, objective_for
    from optim.rendering.parse_target import parse_target

    out = check_output_file(_setting(args, "out"))
    model, source = load_model(
        _setting(args, "model"), pretrained=not args.random_weights, device=args.device
    )
    size = _setting(args, "size")
    with user_errors():
        unit = parse_target(_setting(args, "target"))
        if not isinstance(size, int) or size < 8:
            raise ValueError(f"--size must be at least 8 px, got {size}.")
        layer = check_unit(model, unit, size)
        objective = objective_for(layer, unit, _setting(args, "objective"))
        result = render(
            model,
            objective,
            size=size,
            steps=_setting(args, "steps"),
            lr=_setting(args, "lr"),
            seed=args.seed,
            parameterization=_setting(args, "parameterization"),
            transforms=_setting(args, "transforms"),
            device=args.device,
            show_progress=not args.no_progress,
            fast_path=fast_path_from_args(args),
        )
    result.settings["target"] = str(unit)
    manifest_path = out.with_suffix(".json")
    result.save(out)
    manifest = render_manifest(result, source, out, manifest_path, _setting(args, "objective"))
    write_manifest(manifest_path, manifest)
    print(
        f"wrote {out} and {manifest_path}: {source.name} {unit}, objective "
        f"{result.final_objective:.4g}, {len(result.history)} steps in "
        f"{result.wall_time_s:.1f} s ({result.steps_per_s:.2f} steps/s), seed {result.seed}"
    )
    return 0


def report_reproduction(label: str, written: Path, expected_sha: str, actual_sha: str) -> bool:
    """Print whether ``written`` matches the manifest's sha256; returns True when it does."""
    if actual_sha == expected_sha:
        print(f"{label}: {written} is byte-identical to the original (sha256 {actual_sha[:16]}…)")
        return True
    print(
        f"{label}: {written} differs from the original (sha256 {actual_sha[:16]}… vs "
        f"{expected_sha[:16]}…); see the manifest's environment for what changed",
        file=sys.stderr,
    )
    return False
