"""Neuron groups: NMF of one layer's activations on a photo, as in "The Building Blocks of
Interpretability" (Olah et al., Distill 2018).

EfficientNet-Lite0 looks at scikit-image's cat photo (``chelsea``). The activations of one
layer, one vector per position, are factorised with NMF into ``k`` groups: each group has a
spatial map (where it fires) and a channel direction (what it is), rendered with the
Direction objective. The output shows the photo, the group maps coloured by group, and one
render per group. Everything runs offline.

    python examples/neuron_groups.py --groups 6 --output neuron_groups.png
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

import optim as opt


@dataclass(frozen=True)
class NeuronGroups:
    """What :func:`main` produced.

    Attributes:
        photo: The input photo, ``[1, 3, S, S]``.
        spatial: Each group's activation map, ``[k, h, w]``.
        directions: Each group's channel direction, ``[k, C]``.
        renders: One render per group, ``[k, 3, render_size, render_size]``.
        figure: Photo, coloured group maps and renders side by side, ``[1, 3, H, W]``.
    """

    photo: torch.Tensor
    spatial: torch.Tensor
    directions: torch.Tensor
    renders: torch.Tensor
    figure: torch.Tensor


def load_chelsea(size: int) -> torch.Tensor:
    """scikit-image's cat photo, centre-cropped to a square and resized: ``[1, 3, size, size]``."""
    import skimage.data

    image = TF.to_dtype(TF.to_image(skimage.data.chelsea()), torch.float32, scale=True)
    side = min(image.shape[-2:])
    image = TF.center_crop(image, [side, side])
    return TF.resize(image, [size, size], antialias=True).clamp(0, 1)[None]  # no overshoot


def factorise(
    activations: torch.Tensor, groups: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """NMF of ``[1, C, h, w]`` activations into ``groups`` spatial maps and directions.

    Signed activations are split with ``posneg`` first and the two halves of each
    direction folded back (positive part minus negative part).
    """
    channels = activations.shape[1]
    signed = bool((activations < 0).any())
    features = opt.reducer.posneg(activations, dim=1) if signed else activations
    reducer = opt.reducer.ChannelReducer(
        groups, "NMF", init="nndsvda", max_iter=1000, random_state=seed
    )
    spatial = reducer.fit_transform(features)[0]  # [k, h, w]
    directions = reducer.components  # [k, C] or [k, 2C]
    if signed:
        directions = directions[:, :channels] - directions[:, channels:]
    return spatial, directions


def render_directions(
    model: torch.nn.Module, layer: str, directions: torch.Tensor, size: int, steps: int
) -> torch.Tensor:
    """One image per direction, maximising the Direction objective at ``layer``."""
    device = next(model.parameters()).device
    image = opt.images.NaturalImage((size, size), batch=directions.shape[0]).to(device)
    loss = opt.loss.sum_loss_list(
        [
            opt.loss.Direction(layer, vec.to(device), batch_index=i)
            for i, vec in enumerate(directions)
        ]
    )
    transforms = opt.transforms.TransformationRobustness()
    opt.InputOptimization(model, loss, image, transforms).optimize(
        opt.optimization.n_steps(steps, show_progress=False), lr=0.05
    )
    return torch.as_tensor(image()).detach().cpu()


def main(
    layer: str = "_blocks.10._expand_relu",
    groups: int = 6,
    image_size: int = 224,
    render_size: int = 128,
    steps: int = 256,
    seed: int = 0,
    output: Path | None = Path("neuron_groups.png"),
) -> NeuronGroups:
    """Factorise ``layer`` on the cat photo into ``groups`` groups and render them."""
    torch.manual_seed(seed)
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    model = opt.models.efficientnet_lite0(pretrained=True).to(device).eval()
    photo = load_chelsea(image_size)
    with torch.no_grad():
        activations = opt.collect_activations(model, layer, photo)[layer].cpu()
    spatial, directions = factorise(activations, groups, seed)
    renders = render_directions(model, layer, directions, render_size, steps)

    # Colour each position by its groups (one hue per group), at the photo's size.
    group_colours = opt.nchannels_to_rgb(spatial[None])
    group_colours = group_colours / group_colours.max().clamp(min=1e-8)
    group_map = F.interpolate(group_colours, size=(render_size, render_size), mode="nearest")
    photo_small = F.interpolate(photo, size=(render_size, render_size), mode="bilinear")
    tiles = torch.cat([photo_small, group_map, renders])
    figure = opt.make_grid_image(tiles, images_per_row=tiles.shape[0], padding=2, pad_value=1.0)
    if output is not None:
        opt.save_tensor_as_image(figure, str(output))
    return NeuronGroups(photo, spatial, directions, renders, figure)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="_blocks.10._expand_relu", help="layer to factorise")
    parser.add_argument("--groups", type=int, default=6, help="number of NMF groups (6)")
    parser.add_argument("--image-size", type=int, default=224, help="photo size in px (224)")
    parser.add_argument("--render-size", type=int, default=128, help="render size in px (128)")
    parser.add_argument("--steps", type=int, default=256, help="optimisation steps (256)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--output", type=Path, default=Path("neuron_groups.png"))
    args = parser.parse_args()
    main(
        layer=args.layer,
        groups=args.groups,
        image_size=args.image_size,
        render_size=args.render_size,
        steps=args.steps,
        seed=args.seed,
        output=args.output,
    )
    print(f"Saved {args.output}")
