"""A CPPN render of EfficientNet-Lite0, redrawn at four times the resolution.

Lucid's compositional pattern-producing network (``opt.images.CPPNImage``) is a function from
pixel coordinates to colour: the image is optimised at ``--size`` px and, being a function,
redrawn at ``--redraw`` px with ``image.at_size(...)`` without any upsampling. The output
puts the two side by side. Everything runs offline on the shipped ImageNet weights.

    python examples/cppn.py --target _blocks.10:2 --size 96 --steps 384 --output cppn.png
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import optim as opt


def render_cppn(
    model: torch.nn.Module, target: str, size: int, steps: int, lr: float, seed: int
) -> tuple[opt.images.NaturalImage, torch.Tensor]:
    """Optimise a CPPN image for ``target`` (``"layer:channel"``); returns it and the
    objective at every step."""
    layer, channel = target.rsplit(":", 1)
    torch.manual_seed(seed)
    image = opt.images.NaturalImage((size, size), parameterization=opt.images.CPPNImage)
    objective = opt.loss.ChannelActivation(layer, int(channel))
    run = opt.InputOptimization(model, objective, image, opt.transforms.TransformationRobustness())
    losses = run.optimize(opt.optimization.n_steps(steps, show_progress=False), lr=lr)
    return image, -losses.reshape(len(losses), -1).mean(dim=1)  # the loss is -objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="_blocks.10:2")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--redraw", type=int, default=384)
    parser.add_argument("--steps", type=int, default=384)
    parser.add_argument("--lr", type=float, default=0.01, help="CPPNs want a small rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="cppn.png")
    args = parser.parse_args()

    model = opt.models.efficientnet_lite0(pretrained=True).eval()
    image, history = render_cppn(model, args.target, args.size, args.steps, args.lr, args.seed)
    with torch.no_grad():
        small = image().as_subclass(torch.Tensor)
        large = image.at_size(args.redraw).as_subclass(torch.Tensor)
    shown = F.interpolate(small, size=args.redraw, mode="nearest")  # the pixels, enlarged
    opt.save_tensor_as_image(torch.cat([shown, large]), args.output, images_per_row=2)
    print(
        f"wrote {args.output}: {args.target}, objective {history[0]:.3g} -> {history[-1]:.3g} "
        f"over {args.steps} steps; left {args.size} px enlarged, right redrawn at {args.redraw} px"
    )


if __name__ == "__main__":
    main()
