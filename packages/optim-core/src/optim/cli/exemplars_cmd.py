"""``optim exemplars``: the images of a folder that excite each channel of a layer most.

Streams the folder once through the model and writes one file with, per channel, the top-k
images (paths, activations, positions) and the crops of the unit's receptive field around
each maximum (optim-dataset's ``top_exemplars``). ``optim layer ... --exemplars FILE`` shows
them beside the renders.

Example:
    $ optim exemplars _blocks.10 --images photos/ --out blocks10.exemplars
    $ optim exemplars efficientnet_lite0 _fc --images photos/ --channels 281-285 --k 4
"""

from __future__ import annotations

import argparse
import time

from optim.checks import parse_int_list
from optim.cli.errors import CLIError
from optim.cli.render_options import add_model_options, check_output_file, user_errors
from optim.rendering.spec import RenderSpec

__all__ = ["add_parser", "run"]

DEFAULT_MODEL = RenderSpec().model


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "exemplars",
        help="find the images that excite each channel of a layer most",
        description="Stream a folder of images through a model and keep, per channel of a "
        "layer, the top-k images and their receptive-field crops (needs optim-dataset).",
    )
    parser.add_argument(
        "names", nargs="+", metavar="[MODEL] LAYER", help=f"model (default {DEFAULT_MODEL}) "
        "and layer (`optim layers MODEL`)",
    )  # fmt: skip
    parser.add_argument("--images", required=True, help="folder of images (searched recursively)")
    parser.add_argument("--k", type=int, default=9, help="exemplars per channel; 9")
    parser.add_argument("--size", type=int, default=224, help="input size in px; 224")
    parser.add_argument("--channels", default=None, help="channels: 0-15, 0,3,7; default all")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward; 32")
    parser.add_argument("--out", default=None, help="the file; default exemplars-<layer>.pt")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from optim.cli.render_options import load_model, plugin_module
    from optim.rendering.files import check_new

    if len(args.names) > 2:
        raise CLIError(f"give [MODEL] LAYER, got {' '.join(args.names)!r}.")
    model_name, layer = args.names if len(args.names) == 2 else (DEFAULT_MODEL, args.names[0])
    channels = None
    with user_errors():
        if args.channels is not None and args.channels != "all":
            channels = parse_int_list(args.channels, "--channels")
        spec = RenderSpec(
            model=model_name, target=layer, pretrained=not args.random_weights,
            device=args.device, seed=0,
        )  # fmt: skip
        dataset = plugin_module("dataset")  # an ImportError naming optim-dataset if missing
    out = check_output_file(args.out or f"exemplars-{layer}.pt", suffix=".pt")
    with user_errors():
        check_new([out], force=args.force)
    model, source = load_model(spec)
    started = time.perf_counter()
    with user_errors():
        found = dataset.top_exemplars(
            model, layer, args.images, channels=channels, k=args.k, size=args.size,
            batch_size=args.batch_size, show_progress=not args.no_progress,
            model_name=source.name, weights_sha256=source.state_dict_sha256,
        )  # fmt: skip
    found.save(out)
    height, width = found.field.size
    print(
        f"wrote {out}: top {found.k} of {found.images_seen} images for {len(found.channels)} "
        f"channels of {source.name} {layer} in {time.perf_counter() - started:.1f} s; "
        f"receptive field {height}x{width} px"
    )
    return 0
