"""``optim layers MODEL``: the dotted layer names of a model with their output shapes.

The names are what ``--target LAYER:CHANNEL`` and ``optim layer LAYER`` accept. Shapes come
from one forward pass at ``--size`` (random weights: no weights are loaded for this).

Example:
    $ optim layers efficientnet_lite0 --size 224
    $ optim layers torchvision/resnet50 --json
"""

from __future__ import annotations

import argparse
import json

from optim.checks import check_size
from optim.cli.render_options import add_model_options, load_model, user_errors
from optim.rendering.spec import MIN_SIZE, RenderSpec

__all__ = ["add_parser", "run"]

DEFAULT_MODEL = RenderSpec().model


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "layers",
        help="list a model's layer names with their output shapes",
        description="List the dotted layer names of a registered model and the output shape "
        "of each at a given input size.",
    )
    parser.add_argument(
        "model", nargs="?", default=DEFAULT_MODEL, help=f"registered model; {DEFAULT_MODEL}"
    )
    parser.add_argument("--size", type=int, default=224, help="input size in px; 224")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_model_options(parser, weights=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from optim.model_utils import get_model_layers

    with user_errors():
        check_size(args.size, "--size", minimum=MIN_SIZE, hint=f"Use at least {MIN_SIZE} px.")
        spec = RenderSpec(model=args.model, pretrained=False, device=args.device)
    model, _ = load_model(spec)
    kinds = {name: type(module).__name__ for name, module in model.named_modules() if name}
    with user_errors():
        try:
            shapes = get_model_layers(model, input_size=args.size)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"{args.model} does not run at {args.size} px ({first}); try a larger --size."
            ) from None
    rows = [(name, kinds[name], shape) for name, shape in shapes.items()]
    if args.json:
        print(json.dumps([{"name": n, "type": t, "output_shape": s} for n, t, s in rows], indent=2))
        return 0
    width = max((len(name) for name, _, _ in rows), default=0)
    kind_width = max((len(kind) for _, kind, _ in rows), default=0)
    for name, kind, shape in rows:
        shown = "not run" if shape is None else "x".join(map(str, shape))
        if shape is not None and isinstance(shape[0], tuple):
            shown = ", ".join("x".join(map(str, s)) for s in shape)
        print(f"{name:<{width}}  {kind:<{kind_width}}  {shown}")
    return 0
