"""ImageTensor: subclass behaviour, repr, loading, export and notebook display."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

import optim as opt
from optim.images import ImageTensor


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.uint8])
def test_every_dtype_is_a_real_subclass_and_ops_keep_it(dtype):
    image = ImageTensor(torch.ones(1, 3, 2, 2, dtype=dtype))
    assert isinstance(image, ImageTensor) and image.dtype == dtype
    assert isinstance(image + 1, ImageTensor)
    assert isinstance(image[:, :1], ImageTensor)


@pytest.mark.gpu
def test_cuda_tensor_is_a_real_subclass():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    image = ImageTensor(torch.ones(1, 3, 2, 2, device="cuda"))
    assert isinstance(image, ImageTensor) and image.is_cuda
    assert isinstance(image.cpu(), ImageTensor)


def test_construction_from_lists_arrays_and_default():
    assert ImageTensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]]
    assert ImageTensor(np.zeros((3, 2, 2), dtype=np.float64)).dtype == torch.float64
    assert ImageTensor().shape == (0,)


def test_keeps_autograd_graph_and_storage():
    base = torch.rand(1, 3, 2, 2, requires_grad=True)
    image = ImageTensor(base * 2)
    image.sum().backward()
    assert torch.equal(base.grad, torch.full_like(base, 2.0))


def test_repr_prefix():
    assert repr(ImageTensor(torch.zeros(2))).startswith("ImageTensor([0., 0.]")


def test_export_and_load_round_trip(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    path = tmp_path / "image.png"
    ImageTensor(torch.from_numpy(pixels).permute(2, 0, 1) / 255.0).export(path)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pixels)
    loaded = ImageTensor.open(str(path))
    assert isinstance(loaded, ImageTensor) and loaded.shape == (3, 5, 6)
    np.testing.assert_allclose(loaded.permute(1, 2, 0).numpy() * 255, pixels, atol=1e-4)
    grey = ImageTensor.load(path, scale=1.0, mode="L")
    assert grey.shape == (1, 5, 6) and grey.max() > 1


def test_load_real_photo(tmp_path):
    data = pytest.importorskip("skimage.data")
    photo = data.chelsea()
    path = tmp_path / "chelsea.png"
    Image.fromarray(photo).save(path)
    loaded = ImageTensor.load(path)
    assert loaded.shape == (3, *photo.shape[:2])
    np.testing.assert_allclose(loaded[:, 10, 20].numpy() * 255, photo[10, 20], atol=1e-3)


def test_load_missing_file_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="No image file"):
        ImageTensor.load(tmp_path / "missing.png")


def test_repr_png_is_a_decodable_png_of_the_batch_grid():
    png = ImageTensor(torch.rand(2, 3, 4, 5))._repr_png_()
    decoded = Image.open(io.BytesIO(png))
    assert decoded.size == (2 * 5 + 3 * 2, 4 + 2 * 2)
    assert ImageTensor(torch.rand(2, 5, 4, 4))._repr_png_() is None


def test_show_method_draws_uint8_image(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gca().images[-1].get_array()))
    ImageTensor(torch.full((3, 4, 4), 0.5)).show(figsize=(2, 2))
    assert shown[0].shape == (4, 4, 3) and shown[0].dtype == np.uint8
    assert int(shown[0][0, 0, 0]) == 128
    plt.close("all")


def test_images_module_reexports_show_and_save():
    assert opt.images.show is opt.show
    assert opt.images.save_tensor_as_image is opt.save_tensor_as_image
    assert opt.ImageTensor is ImageTensor
