"""A torch.Tensor subclass with image I/O helpers."""

from __future__ import annotations

import io
import os
import urllib.request
from typing import Any

import numpy as np
import torch
from PIL import Image

from optim.image_utils import display as _display
from optim.image_utils import saving as _saving
from optim.image_utils._to_pil import to_pil

_USER_AGENT = "optim"  # some hosts (e.g. Wikimedia) refuse requests without one


class ImageTensor(torch.Tensor):
    """A tensor that can show, export and load images; results of ops stay ImageTensors.

    Any device and dtype is a real ImageTensor (captum returned plain tensors for CUDA or
    non-float32 data). Notebooks display it through ``_repr_png_``.

    Example:
        >>> image = ImageTensor(torch.rand(1, 3, 8, 8))
        >>> isinstance(image * 2, ImageTensor)
        True
    """

    @staticmethod
    def __new__(cls, x: Any = ()) -> ImageTensor:
        if isinstance(x, torch.Tensor):
            return x.as_subclass(cls)
        if isinstance(x, np.ndarray):
            return torch.from_numpy(x).as_subclass(cls)
        return torch.as_tensor(x, dtype=torch.get_default_dtype()).as_subclass(cls)

    # mypy reads a dunder method's keyword-only argument as positional-only, and then finds
    # this signature (the same as Tensor.__repr__'s) incompatible with Tensor's.
    def __repr__(self, *, tensor_contents: Any = None) -> str:  # type: ignore[override]
        text = repr(self.as_subclass(torch.Tensor))
        return "ImageTensor(" + text.removeprefix("tensor(").replace("\n", "\n" + " " * 5)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], scale: float = 255.0, mode: str = "RGB"
    ) -> ImageTensor:
        """Load an image file or http(s) URL as a CHW tensor divided by ``scale``.

        Example:
            >>> import tempfile
            >>> from pathlib import Path
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     Image.new("RGB", (64, 48), (255, 128, 0)).save(Path(tmp, "photo.png"))
            ...     image = ImageTensor.load(Path(tmp, "photo.png"))
            >>> image.shape
            torch.Size([3, 48, 64])
            >>> image[:, 0, 0]  # 255 / 255, 128 / 255, 0 / 255
            ImageTensor([1.0000, 0.5020, 0.0000])
        """
        path_str = os.fspath(path)
        if path_str.startswith(("http://", "https://")):
            request = urllib.request.Request(path_str, headers={"User-Agent": _USER_AGENT})
            with urllib.request.urlopen(request) as response:
                image = Image.open(io.BytesIO(response.read()))
        else:
            if not os.path.exists(path_str):
                raise FileNotFoundError(f"No image file at {path_str!r}.")
            image = Image.open(path_str)
        array = np.asarray(image.convert(mode), dtype=np.float32)
        if array.ndim == 2:
            array = array[..., None]
        tensor = torch.from_numpy(array.copy()).permute(2, 0, 1) / scale
        return cls(tensor)

    open = load

    def show(
        self,
        figsize: tuple[float, float] | None = None,
        scale: float = 255.0,
        images_per_row: int | None = None,
        padding: int = 2,
        pad_value: float = 0.0,
    ) -> None:
        """Display with :func:`optim.image_utils.show`."""
        _display.show(self, figsize, scale, images_per_row, padding, pad_value)

    def export(
        self,
        filename: str | os.PathLike[str],
        scale: float = 255.0,
        mode: str | None = None,
        images_per_row: int | None = None,
        padding: int = 2,
        pad_value: float = 0.0,
    ) -> None:
        """Save with :func:`optim.image_utils.save_tensor_as_image`."""
        _saving.save_tensor_as_image(
            self, filename, scale, mode, images_per_row, padding, pad_value
        )

    def _repr_png_(self) -> bytes | None:
        if self.dim() not in (3, 4) or self.shape[-3] not in (1, 3, 4) or self.numel() == 0:
            return None
        buffer = io.BytesIO()
        to_pil(self).save(buffer, format="PNG")
        return buffer.getvalue()
