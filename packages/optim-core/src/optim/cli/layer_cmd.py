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
"""What ``optim layer`` renders with no arguments."""


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
    add_channel_options(parser, DEFAULTS, "channels to render")
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

    spec = job_spec(args, DEFAULTS, target=args.layer)
    out = check_output_dir(args.out or f"gallery-{spec.target}")
    job, source = layer_job(
        spec, out, show_progress=not args.no_progress, force=args.force,
        exemplars=args.exemplars, own_size=args.size is None,
    )  # fmt: skip
    if not job.ranks.is_main:
        return finish(job, f"the channels of rank {job.ranks.rank}")
    finish(
        job, f"the gallery {job.paths.index if job.paths else out} ({job.channels_done} channels)"
    )
    print(report_layer(job, source))
    return 0
