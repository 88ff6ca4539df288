"""``optim render``: render one unit of a registered model to a PNG and its JSON manifest.

With no arguments it renders the default unit of the offline EfficientNet-Lite0 in about a
minute on two CPU cores (the defaults are :class:`~optim.rendering.RenderSpec`'s).
``--spec manifest.json`` re-runs a manifest (from ``optim render`` or ``optim layer``) and
checks that the PNG comes out byte-identical.

Example:
    $ optim render --out out/render.png
    $ optim render --target _blocks.5:17 --size 224 --steps 256 --seed 3 --out unit.png
    $ optim render --spec out/render.json
"""

from __future__ import annotations

import argparse

from optim.cli.errors import CLIError
from optim.cli.render_options import (
    DEFAULT_OUT,
    RENDER_OPTIONS,
    add_model_options,
    add_render_options,
    check_output_file,
    spec_from_args,
)
from optim.rendering.spec import RenderSpec

__all__ = ["DEFAULTS", "add_parser", "run"]

DEFAULTS = RenderSpec()
"""What ``optim render`` renders with no arguments: a recognisable unit in about a minute."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render one unit of a model to a PNG + JSON manifest",
        description="Render the image that maximises one unit of a registered model. "
        "Writes the PNG and, beside it, a JSON manifest with every setting and the seed.",
    )
    parser.add_argument(
        "--model", default=None, help=f"registered model name; default {DEFAULTS.model}"
    )
    parser.add_argument(
        "--target",
        default=None,
        help="LAYER:CHANNEL or LAYER:CHANNEL:X:Y (`optim layers MODEL` lists layers); "
        f"default {DEFAULTS.target}",
    )
    add_render_options(parser, DEFAULTS)
    add_model_options(parser)
    parser.add_argument("--out", default=None, help=f"PNG path; default {DEFAULT_OUT}")
    parser.add_argument(
        "--spec",
        default=None,
        metavar="MANIFEST",
        help="run a RenderSpec JSON file, or re-run a manifest written by `optim render` or "
        "`optim layer` and check that the PNGs are byte-identical",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.spec is not None:
        given = [
            f"--{name.replace('_', '-')}"
            for name in (*RENDER_OPTIONS, "target", "random_weights")
            if getattr(args, name)
        ]
        if given:
            raise CLIError(
                f"--spec re-runs a manifest exactly; drop {', '.join(given)} (only --out, "
                "--force and --no-progress go with --spec)."
            )
        from optim.cli.rerun_manifest import rerun_manifest

        return rerun_manifest(
            args.spec, args.out, show_progress=not args.no_progress, force=args.force
        )

    from optim.cli.jobs import finish, render_job, report_render

    spec = spec_from_args(args, DEFAULTS, (*RENDER_OPTIONS, "target"))
    out = check_output_file(args.out or DEFAULT_OUT)
    result, source, manifest_path = render_job(
        spec, out, show_progress=not args.no_progress, force=args.force,
        own_size=args.size is None,
    )  # fmt: skip
    finish(result, f"{out} and {manifest_path}")
    report_render(result, source, out, manifest_path)
    return 0
