"""Internal: pull the image tensor out of whatever a DataLoader yields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch


def batch_images(batch: object) -> torch.Tensor:
    """Return the NCHW image tensor of one loader batch.

    A batch may be a tensor, or a tuple/list whose first item is the image tensor
    (``(images, labels)`` as torchvision datasets yield).

    Example:
        >>> batch_images((torch.zeros(2, 3, 4, 4), torch.zeros(2))).shape
        torch.Size([2, 3, 4, 4])
    """
    images = batch[0] if isinstance(batch, (tuple, list)) and len(batch) > 0 else batch
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            "Expected the loader to yield an image tensor or a (images, labels) pair, got "
            f"{type(images).__name__}. Build one with optim.dataset.image_folder_loader(...) "
            "or optim.dataset.array_image_loader(...)."
        )
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4:
        raise ValueError(
            f"Expected image batches of shape [N, C, H, W], got shape {tuple(images.shape)}."
        )
    if not images.is_floating_point():
        raise TypeError(
            f"Expected floating-point images (values in [0, 1]), got dtype {images.dtype}. "
            "Convert with torchvision.transforms.v2.functional.to_dtype(x, torch.float32, "
            "scale=True)."
        )
    return images


def iterate_images(
    loader: Iterable[object], device: torch.device | str = "cpu"
) -> Iterator[torch.Tensor]:
    """Yield each batch's NCHW image tensor, moved to ``device``.

    Example:
        >>> [x.shape[0] for x in iterate_images([torch.zeros(2, 3, 4, 4)])]
        [2]
    """
    for batch in loader:
        yield batch_images(batch).to(device)
