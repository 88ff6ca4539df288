"""``optim model``: render many layers of a model into one static site.

Writes ``index.html`` (the model page: each layer with its channel count and a thumbnail),
``site.json``, and one gallery per layer (``<layer>/index.html``, as ``optim layer`` writes
it). Running the same command again into the same folder renders only what is missing; under
``torchrun`` the batches of every layer are shared out to the ranks.

Example:
    $ optim model efficientnet_lite0 --layers _blocks.4,_blocks.10 --channels 0-3 --out site
    $ torchrun --nproc-per-node 4 -m optim.cli model efficientnet_lite0 --all --device cuda
"""

from __future__ import annotations

import argparse

from optim.cli.errors import CLIError
from optim.cli.render_options import (
    add_channel_options,
    add_model_options,
    add_render_options,
    check_output_dir,
    job_spec,
)
from optim.rendering.spec import LAYER_JOB

__all__ = ["DEFAULTS", "add_parser", "run"]

DEFAULTS = LAYER_JOB
"""The settings of every layer of ``optim model`` (the channels: those of each layer)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "model",
        help="render many layers of a model into a static site",
        description="Render channels of several layers (each its own gallery) and a model "
        "page linking them. Re-running into the same folder resumes.",
    )
    parser.add_argument(
        "model", nargs="?", default=DEFAULTS.model, help=f"registered model; {DEFAULTS.model}"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--layers", default=None, help="comma-separated layer names (`optim layers MODEL`)"
    )
    which.add_argument(
        "--all",
        action="store_true",
        help="every block: the model's children, containers replaced by their children",
    )
    add_channel_options(parser, DEFAULTS, "channels of each layer (as far as it has them)")
    add_render_options(parser, DEFAULTS)
    add_model_options(parser)
    parser.add_argument("--out", default=None, help="site folder; default site-<model>")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from optim.cli.jobs import finish, model_job

    if args.layers is None and not args.all:
        raise CLIError(
            "say which layers to render: --layers A,B,... (`optim layers "
            f"{args.model}` lists them) or --all."
        )
    layers = None
    if args.layers is not None:
        layers = [name.strip() for name in args.layers.split(",") if name.strip()]
        if not layers:
            raise CLIError(f"--layers names no layer: {args.layers!r}; write e.g. --layers a,b.")
    spec = job_spec(args, DEFAULTS)
    folder = args.model.replace("/", "_")
    out = check_output_dir(args.out or f"site-{folder}")
    job, source = model_job(
        spec, layers, out, show_progress=not args.no_progress, force=args.force,
        own_size=args.size is None,
    )  # fmt: skip
    finish(job, f"the site {out / 'index.html'} ({len(job.layers)} layers)")
    if job.index is not None:
        rendered = sum(len(layer.rendered) for layer in job.layers)
        kept = sum(len(layer.kept) for layer in job.layers)
        channels = sum(layer.channels_done for layer in job.layers)
        print(
            f"wrote {job.index} ({len(job.layers)} layers of {source.name}, {channels} "
            f"channels: {rendered} batches rendered, {kept} kept; {job.wall_time_s:.1f} s)"
        )
    return 0
