"""Feature visualization of a vision transformer: features of a ViT block's patch tokens and
of its class token.

A ViT block outputs one feature vector per token (``[B, 1 + 14 * 14, 768]`` for ViT-B/16 at
its 224 px). optim reads the patch tokens as a 14x14 grid, so ``"layer:channel"`` is feature
``channel`` averaged over the patches (and ``"layer:channel:x:y"`` one patch);
``token="class"`` targets the class token instead. The model's own input size is used and the
transforms crop/pad back to it.

Offline it uses torchvision's ViT-B/16 with random weights (the images then show what the
architecture alone favours); with the weights in the torch hub cache it uses them
(``$TORCH_HOME/hub/checkpoints/vit_b_16-c867db91.pth``). Any timm ViT works the same way,
e.g. ``--model timm/vit_tiny_patch16_224`` with ``pip install 'optim-models[timm]'``.

    python examples/vit_features.py --channels 0 1 2 3 --steps 64 --output vit_features.png
"""

from __future__ import annotations

import argparse
import sys

import torch

import optim as opt
from optim.models import WeightsUnavailableError


def load(name: str) -> torch.nn.Module:
    """The pretrained model when its weights are cached, else the architecture at random."""
    try:
        return opt.models.get_model(name, pretrained=True).eval()
    except WeightsUnavailableError as exc:
        print(f"{exc}\n-> using random weights", file=sys.stderr)
        torch.manual_seed(0)
        return opt.models.get_model(name, pretrained=False).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="torchvision/vit_b_16")
    parser.add_argument("--layer", default="encoder.layers.encoder_layer_8")
    parser.add_argument("--channels", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="vit_features.png")
    args = parser.parse_args()

    model = load(args.model)
    common = dict(steps=args.steps, seed=args.seed, show_progress=True)
    patches = opt.render_layer(model, args.layer, args.channels, **common)
    classes = opt.render_layer(model, args.layer, args.channels, token="class", **common)
    opt.save_tensor_as_image(
        torch.cat([patches.images, classes.images]), args.output, images_per_row=len(args.channels)
    )
    size = patches.spec.size
    print(f"wrote {args.output} ({size[0]}x{size[1]} px, the model's own size)")
    for name, result in (("patch tokens", patches), ("class token", classes)):
        finals = ", ".join(f"{value:.3g}" for value in result.final_objectives)
        print(f"  {name} (row {1 if result is patches else 2}): objectives {finals}")


if __name__ == "__main__":
    main()
