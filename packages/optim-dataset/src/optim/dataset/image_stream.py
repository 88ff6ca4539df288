"""The images :func:`~optim.dataset.top_exemplars` streams: a folder, a tensor or batches.

A folder is read in sorted path order, one batch at a time; unreadable files and non-images
are skipped with a warning naming them, grey and RGBA images converted to RGB.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError

from optim.dataset._batches import batch_images
from optim.dataset.loaders import IMAGE_EXTENSIONS, _to_float_chw, resize_and_crop

__all__ = ["image_stream"]


def _folder_batches(
    folder: Path, size: tuple[int, int], batch_size: int
) -> Iterator[tuple[torch.Tensor, list[str]]]:
    """Batches of a folder's images (sorted paths); unreadable files are skipped with a
    warning naming them, grey and RGBA images converted to RGB."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    others = [p for p in files if p not in images and not p.name.startswith(".")]
    if others:
        listed = ", ".join(str(p) for p in others[:5]) + (", ..." if len(others) > 5 else "")
        warnings.warn(f"Skipped {len(others)} file(s) that are not images: {listed}", stacklevel=3)
    if not images:
        raise ValueError(
            f"The folder {str(folder)!r} has no images ({', '.join(IMAGE_EXTENSIONS)}); point "
            "--images at a folder of photos."
        )
    batch: list[torch.Tensor] = []
    names: list[str] = []
    for path in images:
        try:
            with Image.open(path) as image:
                tensor = _to_float_chw(image)
        except (UnidentifiedImageError, OSError, ValueError, TypeError) as exc:
            warnings.warn(f"Skipped {str(path)!r}: not a readable image ({exc}).", stacklevel=3)
            continue
        batch.append(resize_and_crop(tensor, size))
        names.append(str(path))
        if len(batch) == batch_size:
            yield torch.stack(batch), names
            batch, names = [], []
    if batch:
        yield torch.stack(batch), names


def image_stream(
    images: Any, size: tuple[int, int], batch_size: int
) -> tuple[Iterable[tuple[torch.Tensor, list[str] | None]], str, int | None]:
    """``(batches of (images, file names or None), a description, the image count if known)``
    for a folder, a tensor ``[N, 3, H, W]`` or an iterable of batches.

    Example:
        >>> batches, source, count = image_stream(torch.rand(5, 3, 8, 8), (8, 8), 2)
        >>> [len(b) for b, _ in batches], source, count
        ([2, 2, 1], 'tensor of 5 images', 5)
    """
    if isinstance(images, str | os.PathLike):
        folder = Path(images)
        if not folder.is_dir():
            raise ValueError(f"Image folder {str(folder)!r} does not exist or is not a folder.")
        return _folder_batches(folder, size, batch_size), str(folder), None
    if isinstance(images, torch.Tensor):
        batch = batch_images(images)
        chunks = ((batch[i : i + batch_size], None) for i in range(0, len(batch), batch_size))
        return chunks, f"tensor of {len(batch)} images", len(batch)
    if isinstance(images, Iterable):
        count = len(images) if isinstance(images, Sized) else None
        return ((batch_images(b), None) for b in images), type(images).__name__, count
    raise TypeError(
        f"images must be a folder path, a tensor [N, 3, H, W] or an iterable of batches "
        f"(a DataLoader), got {type(images).__name__}."
    )
