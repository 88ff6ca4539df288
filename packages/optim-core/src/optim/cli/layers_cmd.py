"""``optim layers MODEL``: the dotted layer names of a model with their output shapes.

The names are what ``--target LAYER:CHANNEL`` and ``optim layer LAYER`` accept. Shapes come
from one forward pass at ``--size`` (random weights: no weights are loaded for this). Token
layers (``[B, tokens, features]``) and channels-last maps say how a target reads them: the
class/register tokens and the patch grid, or the channels-last grid.

Example:
    $ optim layers efficientnet_lite0 --size 224
    $ optim layers torchvision/resnet50 --json
    $ optim layers torchvision/vit_b_16
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from optim.checks import check_size
from optim.cli.render_options import add_model_options, load_model, user_errors
from optim.rendering.spec import MIN_SIZE, RenderSpec

if TYPE_CHECKING:
    from torch import nn

    from optim.model_utils.layers import Shape

__all__ = ["add_parser", "run"]

DEFAULT_MODEL = RenderSpec().model
DEFAULT_SIZE = 224


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
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help=f"input size in px; the model's own if it takes one size only, else {DEFAULT_SIZE}",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_model_options(parser, weights=False)
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="accepted like the other commands': the shapes never need weights, none are loaded",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from optim.model_utils import get_model_layer_shapes
    from optim.rendering.input_size import render_size

    with user_errors():
        if args.size is not None:
            check_size(args.size, "--size", minimum=MIN_SIZE, hint=f"Use at least {MIN_SIZE} px.")
        spec = RenderSpec(model=args.model, pretrained=False, device=args.device)
    model, _ = load_model(spec)
    kinds = {name: type(module).__name__ for name, module in model.named_modules() if name}
    with user_errors():
        size = render_size(model, args.size, default=(DEFAULT_SIZE, DEFAULT_SIZE))
        try:
            shapes = get_model_layer_shapes(model, input_size=size)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"{args.model} does not run at {size[0]}x{size[1]} px ({first}); try a larger "
                "--size."
            ) from None
    rows = [
        (name, kinds[name], shape, _layout(model, name, shape, size))
        for name, shape in shapes.items()
    ]
    if args.json:
        listed = [{"name": n, "type": t, "output_shape": s, "layout": lay} for n, t, s, lay in rows]
        print(json.dumps(listed, indent=2))
        return 0
    width = max((len(name) for name, *_ in rows), default=0)
    kind_width = max((len(kind) for _, kind, *_ in rows), default=0)
    shown = [_shape_text(shape) for _, _, shape, _ in rows]
    shape_width = max(map(len, shown), default=0)
    for (name, kind, _, layout), text in zip(rows, shown, strict=True):
        line = f"{name:<{width}}  {kind:<{kind_width}}  {text:<{shape_width}}  {layout or ''}"
        print(line.rstrip())
    return 0


def _shape_text(shape: Shape | tuple[Shape, ...] | None) -> str:
    if shape is None:
        return "not run"
    if isinstance(shape[0], tuple):
        return ", ".join("x".join(map(str, s)) for s in shape)
    return "x".join(map(str, shape))


def _layout(
    model: nn.Module, name: str, shape: Shape | tuple[Shape, ...] | None, size: tuple[int, int]
) -> str | None:
    """How targets read a token or channels-last output (``None`` for ``[B, C, ...]``)."""
    from optim.rendering.layer_layout import layer_layout

    if shape is None or isinstance(shape[0], tuple) or len(shape) not in (3, 4):
        return None
    try:
        layout = layer_layout(model, name, shape, size)
    except ValueError:
        return "tokens: no patch grid"
    return layout.describe(shape) or None
