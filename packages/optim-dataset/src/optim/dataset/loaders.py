"""DataLoaders over image files in a folder, or over in-memory image arrays."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as TF

from optim.checks import check_int, check_size

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def resize_and_crop(image: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """Resize so the image covers ``size`` (aspect kept, antialiased), then centre-crop.

    Args:
        image: a [C, H, W] or [N, C, H, W] float image.
        size: output (height, width), or one int for a square.

    Example:
        >>> resize_and_crop(torch.rand(3, 40, 60), 32).shape
        torch.Size([3, 32, 32])
    """
    height, width = check_size(size)
    in_h, in_w = image.shape[-2:]
    scale = max(height / in_h, width / in_w)
    new_size = [max(height, round(in_h * scale)), max(width, round(in_w * scale))]
    if new_size != [in_h, in_w]:
        image = TF.resize(image, new_size, antialias=True)
    return TF.center_crop(image, [height, width])


def _to_float_chw(array: np.ndarray | torch.Tensor | Image.Image) -> torch.Tensor:
    if isinstance(array, Image.Image):
        array = np.asarray(array.convert("RGB"))
    tensor = array if isinstance(array, torch.Tensor) else torch.tensor(np.asarray(array))
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(-1).expand(-1, -1, 3)
    if tensor.dim() != 3:
        raise ValueError(
            f"Expected an H x W x C (or H x W grey) image, got shape {tuple(tensor.shape)}."
        )
    if tensor.shape[-1] == 4:
        tensor = tensor[..., :3]
    if tensor.shape[-1] == 1:
        tensor = tensor.expand(-1, -1, 3)
    if tensor.shape[-1] != 3:
        raise ValueError(
            f"Expected 1, 3 or 4 colour channels in the last dimension, got {tensor.shape[-1]}."
        )
    tensor = tensor.permute(2, 0, 1).contiguous()
    if tensor.dtype == torch.uint8:
        return TF.to_dtype(tensor, torch.float32, scale=True)
    if not tensor.is_floating_point():
        raise TypeError(f"Expected uint8 or float images in [0, 1], got dtype {tensor.dtype}.")
    return tensor.to(torch.float32)


class ImageFileDataset(Dataset):
    """Image files of a folder as [3, H, W] float tensors in [0, 1].

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     Image.new("RGB", (300, 200)).save(Path(tmp, "photo.png"))
        ...     _ = Path(tmp, "notes.txt").write_text("not an image")
        ...     dataset = ImageFileDataset(tmp, size=224)
        ...     len(dataset), dataset[0].shape
        (1, torch.Size([3, 224, 224]))
    """

    def __init__(
        self, folder: str | os.PathLike, size: int | Sequence[int] = 224, recursive: bool = True
    ) -> None:
        root = Path(folder)
        if not root.is_dir():
            raise FileNotFoundError(f"Image folder {str(root)!r} does not exist or is no folder.")
        pattern = "**/*" if recursive else "*"
        self.files = sorted(
            p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not self.files:
            raise ValueError(
                f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found in {str(root)!r}"
                + ("" if recursive else "; pass recursive=True to search sub-folders")
                + "."
            )
        self.size = check_size(size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        with Image.open(self.files[index]) as image:
            tensor = _to_float_chw(image)
        return resize_and_crop(tensor, self.size)


class ArrayImageDataset(Dataset):
    """In-memory images (H x W x C uint8 arrays, e.g. ``skimage.data.chelsea()``) as tensors.

    Example:
        >>> dataset = ArrayImageDataset([np.zeros((40, 50, 3), np.uint8)], size=32)
        >>> dataset[0].shape
        torch.Size([3, 32, 32])
    """

    def __init__(
        self,
        images: Sequence[np.ndarray | torch.Tensor | Image.Image],
        size: int | Sequence[int] = 224,
    ) -> None:
        if len(images) == 0:
            raise ValueError("ArrayImageDataset needs at least one image.")
        self.size = check_size(size)
        self.images = [resize_and_crop(_to_float_chw(image), self.size) for image in images]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


def image_folder_loader(
    folder: str | os.PathLike,
    size: int | Sequence[int] = 224,
    batch_size: int = 16,
    recursive: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader over the image files of a folder (resized and centre-cropped to ``size``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for i in range(3):
        ...         Image.new("RGB", (160, 120)).save(Path(tmp, f"photo{i}.jpg"))
        ...     loader = image_folder_loader(tmp, size=64, batch_size=2)
        ...     [batch.shape for batch in loader]
        [torch.Size([2, 3, 64, 64]), torch.Size([1, 3, 64, 64])]
    """
    check_int(batch_size, "batch_size", minimum=1)
    dataset = ImageFileDataset(folder, size=size, recursive=recursive)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)


def array_image_loader(
    images: Sequence[np.ndarray | torch.Tensor | Image.Image],
    size: int | Sequence[int] = 224,
    batch_size: int = 16,
) -> DataLoader:
    """A DataLoader over in-memory images, e.g. scikit-image or scikit-learn sample photos.

    Example:
        >>> import skimage.data
        >>> loader = array_image_loader([skimage.data.chelsea(), skimage.data.coffee()], 64)
        >>> next(iter(loader)).shape
        torch.Size([2, 3, 64, 64])
    """
    check_int(batch_size, "batch_size", minimum=1)
    return DataLoader(ArrayImageDataset(images, size=size), batch_size=batch_size, shuffle=False)
