"""Circuits: the weights from a dog-head detector to a dog-body detector in InceptionV1.

The project overview's circuits example, as written: a linear InceptionV1 gives the expanded
weights from mixed4a_relu to mixed4b_relu (cropped to 5x5); the heatmap of the connection
from channel 308 (dog head) to channel 443 (dog body) sits between renders of both units.

Needs the InceptionV1 weights (downloaded once into the torch hub cache by
``googlenet(pretrained=True)``, or already there). Run:

    python examples/circuits.py --output circuits.png
    python examples/circuits.py --steps 16 --output quick.png   # a quick look
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

import optim as opt


def main(
    steps: int = 256, output: Path | None = None, show: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Extract W_4a_4b, render both units, and show (and optionally save) the grid.

    Returns the ``[3, 3, 224, 224]`` image set (render of 4a:308, heatmap, render of
    4b:443) and the expanded weights ``W_4a_4b`` (``[512, 508, 5, 5]``).
    """
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")

    # Load InceptionV1 model with nonlinear layers replaced by their linear equivalents
    linear_model = (
        opt.models.googlenet(pretrained=True, use_linear_modules_only=True).to(device).eval()
    )
    model = opt.models.googlenet(pretrained=True).to(device).eval()

    def visualize(model, loss_fn, image):
        transforms = opt.transforms.TransformationRobustness()
        obj = opt.InputOptimization(model, loss_fn, image, transforms)
        obj.optimize(opt.optimization.n_steps(steps, True), lr=0.024)
        return image().detach()

    # Extract expanded weights
    W_4a_4b = opt.circuits.extract_expanded_weights(
        linear_model, linear_model.mixed4a_relu, linear_model.mixed4b_relu, 5
    )

    # Create heatmap image
    W_4a_4b_hm = opt.weights_to_heatmap_2d(W_4a_4b[443, 308, ...] / W_4a_4b[443, ...].max())
    hm_img = F.interpolate(W_4a_4b_hm[None, :], size=(224, 224), mode="nearest-exact")

    image = opt.images.NaturalImage((224, 224), batch=2).to(device)
    loss_fn = opt.loss.NeuronActivation(model.mixed4a, 308, batch_index=0)
    loss_fn += opt.loss.NeuronActivation(model.mixed4b_relu, 443, batch_index=1)
    img = visualize(model, loss_fn, image)
    img_set = torch.cat([img[0:1], hm_img, img[1:2]])

    if show:
        opt.show(img_set, images_per_row=3, figsize=(15, 10))
    if output is not None:
        opt.save_tensor_as_image(img_set, str(output), images_per_row=3)
    return img_set, W_4a_4b


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=256, help="optimisation steps (256)")
    parser.add_argument("--output", type=Path, help="also save the image grid to this PNG")
    parser.add_argument("--no-show", action="store_true", help="do not open a window")
    args = parser.parse_args()
    torch.manual_seed(0)
    main(steps=args.steps, output=args.output, show=not args.no_show)
