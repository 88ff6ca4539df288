"""``optim layer``: render every channel of a layer into a static HTML gallery.

Writes ``index.html`` (open it from disk), ``grid.png``, ``manifest.json`` and one PNG + JSON
manifest per channel under ``channels/``. Channels are optimised ``--batch-size`` at a time,
one batch slot each.

Example:
    $ optim layer                                   # default layer of EfficientNet-Lite0
    $ optim layer _blocks.4 --channels 0-15 --size 64 --steps 64 --out gallery
"""

from __future__ import annotations

import argparse
from typing import Any

from optim.cli.render_options import (
    add_model_options,
    add_render_options,
    check_output_dir,
    fast_path_from_args,
    load_model,
    parse_channels,
    user_errors,
)

__all__ = ["DEFAULTS", "add_parser", "run"]

DEFAULTS: dict[str, Any] = {
    "model": "efficientnet_lite0",
    "layer": "_blocks.10",
    "channels": "0-15",
    "batch_size": 8,
    "size": 96,
    "steps": 64,
    "lr": 0.05,
    "parameterization": "fft_image",
    "transforms": "transformation_robustness",
    "objective": None,
}
"""What ``optim layer`` does with no arguments."""


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
        help=f"dotted layer name (`optim layers MODEL`); default {DEFAULTS['layer']}",
    )
    parser.add_argument(
        "--model", default=None, help=f"registered model name; default {DEFAULTS['model']}"
    )
    parser.add_argument(
        "--channels",
        default=None,
        help=f"channels to render: 'all', 0-15, 0,3,7 or 0-3,8; default {DEFAULTS['channels']}",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"channels optimised together; default {DEFAULTS['batch_size']}",
    )
    add_render_options(parser)
    add_model_options(parser)
    parser.add_argument("--out", default=None, help="gallery folder; default gallery-<layer>")
    parser.set_defaults(run=run)


def _setting(args: argparse.Namespace, name: str) -> Any:
    value = getattr(args, name)
    return DEFAULTS[name] if value is None else value


def run(args: argparse.Namespace) -> int:
    from optim.rendering import render_layer, write_gallery

    layer = _setting(args, "layer")
    out = check_output_dir(args.out or f"gallery-{layer}")
    channels_text = _setting(args, "channels")
    channels = None if channels_text == "all" else parse_channels(channels_text)
    model, source = load_model(
        _setting(args, "model"), pretrained=not args.random_weights, device=args.device
    )
    with user_errors():
        result = render_layer(
            model,
            layer,
            channels,
            batch_size=_setting(args, "batch_size"),
            size=_setting(args, "size"),
            steps=_setting(args, "steps"),
            lr=_setting(args, "lr"),
            seed=args.seed,
            parameterization=_setting(args, "parameterization"),
            transforms=_setting(args, "transforms"),
            objective=_setting(args, "objective"),
            device=args.device,
            show_progress=not args.no_progress,
            fast_path=fast_path_from_args(args),
        )
    paths = write_gallery(result, out, model=source)
    print(
        f"wrote {paths.index} ({len(result.channels)} channels of {source.name} {layer} in "
        f"{len(result.batches)} batches, {result.wall_time_s:.1f} s, "
        f"{result.channel_steps_per_s:.1f} channel-steps/s, seed {result.seed})"
    )
    return 0
