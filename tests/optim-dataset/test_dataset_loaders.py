"""Loaders over image folders and in-memory arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from optim.dataset import (
    ArrayImageDataset,
    array_image_loader,
    image_folder_loader,
    resize_and_crop,
)


def test_folder_loader_reads_rgb_grey_and_rgba_files(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "b.png")
    (tmp_path / "sub").mkdir()
    Image.fromarray(np.dstack([rgb, np.full((30, 40), 7, np.uint8)])).save(tmp_path / "sub/c.png")
    (tmp_path / "notes.txt").write_text("not an image")

    loader = image_folder_loader(tmp_path, size=(30, 40), batch_size=2)
    batches = list(loader)
    assert [b.shape[0] for b in batches] == [2, 1]
    images = torch.cat(batches)
    expected = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    assert torch.allclose(images[0], expected)  # no resize needed: exact pixels
    assert torch.allclose(images[1], expected[0].expand(3, -1, -1))  # grey -> 3 channels
    assert torch.allclose(images[2], expected)  # alpha dropped
    assert len(image_folder_loader(tmp_path, recursive=False).dataset) == 2


def test_folder_loader_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder_loader(tmp_path / "missing")
    with pytest.raises(ValueError, match="No image files"):
        image_folder_loader(tmp_path)


def test_resize_and_crop_covers_the_target_and_keeps_aspect():
    image = torch.zeros(3, 40, 80)
    image[:, :, 20:60] = 1.0  # a centred square of ones
    out = resize_and_crop(image, 20)
    assert out.shape == (3, 20, 20)
    # The crop is the centred square (the outermost columns blend with the antialias filter).
    assert torch.allclose(out[..., 1:-1], torch.ones(3, 20, 18))
    assert bool((out[..., [0, -1]] > 0.5).all())


def test_array_loader_accepts_uint8_float_and_tensors(real_photos):
    loader = array_image_loader(real_photos[:2] + [torch.rand(20, 30, 3)], size=16, batch_size=3)
    batch = next(iter(loader))
    assert batch.shape == (3, 3, 16, 16)
    assert batch.dtype == torch.float32
    assert batch.min() >= 0.0 and batch.max() <= 1.0


def test_array_dataset_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        ArrayImageDataset([])
    with pytest.raises(ValueError, match="colour channels"):
        ArrayImageDataset([np.zeros((4, 4, 2), np.uint8)])
    with pytest.raises(ValueError, match="size"):
        ArrayImageDataset([np.zeros((4, 4, 3), np.uint8)], size=(4, 0))
    with pytest.raises(TypeError, match="uint8 or float"):
        ArrayImageDataset([np.zeros((4, 4, 3), np.int64)])
