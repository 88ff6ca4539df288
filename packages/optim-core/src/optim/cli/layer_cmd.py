"""``optim layer``: render every channel of a layer into a static HTML gallery.

Writes ``index.html`` (open it from disk), ``grid.png``, ``manifest.json`` and one PNG + JSON
manifest per channel under ``channels/``. Channels are optimised ``--batch-size`` at a time,
one batch slot each. The defaults are :data:`~optim.rendering.LAYER_JOB`'s.

Example:
    $ optim layer                                   # default layer of EfficientNet-Lite0
    $ optim layer _blocks.4 --channels 0-15 --size 64 --steps 64 --out gallery
"""

from __future__ import annotations

import argparse

from optim.checks import parse_int_list
from optim.cli.render_options import (
    RENDER_OPTIONS,
    add_model_options,
    add_render_options,
    check_output_dir,
    spec_from_args,
    user_errors,
)
from optim.rendering.spec import LAYER_JOB

__all__ = ["DEFAULTS", "add_parser", "run"]

DEFAULTS = LAYER_JOB
"""What ``optim layer`` renders with no arguments."""


def _channels_text(channels: tuple[int, ...] | None) -> str:
    if not channels:
        return "all"
    return f"{channels[0]}-{channels[-1]}"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "layer",
        help="render every channel of a layer into an HTML gallery",
        description="Render channels of one layer, batch by batch, into a folder with "
        "index.html, grid.png, per-channel PNGs and JSON manifests.",
    )
    parser.add_argument(
        "layer",
        nargs="?",
        default=None,
        help=f"dotted layer name (`optim layers MODEL`); default {DEFAULTS.target}",
    )
    parser.add_argument(
        "--model", default=None, help=f"registered model name; default {DEFAULTS.model}"
    )
    parser.add_argument(
        "--channels",
        default=None,
        help="channels to render: 'all', 0-15, 0,3,7 or 0-3,8; default "
        + _channels_text(DEFAULTS.channels),
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"channels optimised together; default {DEFAULTS.batch_size}",
    )
    parser.add_argument(
        "--exemplars",
        default=None,
        metavar="DIR|FILE",
        help="show each channel's dataset exemplars and the ratio render / exemplar: a folder "
        "of images (needs optim-dataset) or a file written by `optim exemplars`",
    )
    add_render_options(parser, DEFAULTS)
    add_model_options(parser)
    parser.add_argument(
        "--out",
        default=None,
        help="gallery folder; default gallery-<layer>. Running again into the same folder "
        "renders only the batches that are missing or whose settings changed",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from optim.cli.jobs import finish, layer_job, report_layer

    given = {"target": args.layer, "batch_size": args.batch_size}
    if args.channels is not None and args.channels != "all":
        with user_errors():
            given["channels"] = tuple(parse_int_list(args.channels, "--channels"))
    spec = spec_from_args(args, DEFAULTS, RENDER_OPTIONS, **given)
    if args.channels == "all":
        spec = spec.replace(channels=None)
    out = check_output_dir(args.out or f"gallery-{spec.target}")
    job, source = layer_job(
        spec, out, show_progress=not args.no_progress, force=args.force, exemplars=args.exemplars
    )
    if not job.ranks.is_main:
        return finish(job, f"the channels of rank {job.ranks.rank}")
    finish(
        job, f"the gallery {job.paths.index if job.paths else out} ({job.channels_done} channels)"
    )
    print(report_layer(job, source))
    return 0
