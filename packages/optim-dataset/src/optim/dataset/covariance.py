"""Per-pixel colour covariance of images and of whole datasets."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from tqdm.auto import tqdm

from optim.dataset._batches import iterate_images


def image_cov(x: torch.Tensor) -> torch.Tensor:
    """Channel covariance of each image, summed over the batch.

    Every pixel of an image is one observation of a C-dimensional colour; the covariance is
    taken over the H*W pixels of each image (unbiased, divided by H*W - 1) around that
    image's mean colour, and the per-image matrices are summed.

    Args:
        x: images of shape [N, C, H, W] (or [C, H, W]).

    Returns:
        A [C, C] tensor: the sum over the batch of the per-image covariances.

    Example:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> image_cov(x).shape
        torch.Size([3, 3])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"image_cov expects a torch.Tensor, got {type(x).__name__}.")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"image_cov expects [N, C, H, W] images, got shape {tuple(x.shape)}.")
    batch, channels, height, width = x.shape
    if height * width < 2:
        raise ValueError(
            f"image_cov needs at least 2 pixels per image to estimate a covariance, got "
            f"{height}x{width}."
        )
    pixels = x.permute(0, 2, 3, 1).reshape(batch, height * width, channels)
    centred = pixels - pixels.mean(dim=1, keepdim=True)
    per_image = centred.transpose(1, 2) @ centred / (height * width - 1)
    return per_image.sum(dim=0)


def dataset_cov_matrix(
    loader: Iterable[object],
    show_progress: bool = False,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Mean per-image colour covariance over every image a loader yields.

    Args:
        loader: yields image batches [N, C, H, W] in [0, 1], or (images, labels) pairs.
        show_progress: show a tqdm progress bar counting images.
        device: where the computation runs.

    Returns:
        The [C, C] covariance matrix, float64.

    Example:
        >>> loader = [torch.rand(4, 3, 16, 16)]
        >>> dataset_cov_matrix(loader).shape
        torch.Size([3, 3])
    """
    total: torch.Tensor | None = None
    count = 0
    with tqdm(disable=not show_progress, unit=" images", desc="colour covariance") as bar:
        for images in iterate_images(loader, device):
            cov = image_cov(images.to(torch.float64))
            total = cov if total is None else total + cov
            count += images.shape[0]
            bar.update(images.shape[0])
    if total is None or count == 0:
        raise ValueError("The loader yielded no images; give it at least one image batch.")
    return total / count
