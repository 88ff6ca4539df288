"""Image utilities: hue_to_rgb, nchannels_to_rgb, heatmaps, grids, saving, neuron positions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import optim as opt
from optim.image_utils import get_neuron_pos

SPEC_HUES_WARPED = [[1, 0, 0], [0.5334, 0.8459, 0], [0, 0.7071, 0.7071], [0.5334, 0, 0.8459]]
WHEEL = np.array(
    [[1, 0, 0], [0.7071, 0.7071, 0], [0, 1, 0], [0, 0.7071, 0.7071], [0, 0, 1], [0.7071, 0, 0.7071]]
)


def test_hue_to_rgb_spec_reference_values():
    for i, expected in enumerate(SPEC_HUES_WARPED):
        np.testing.assert_allclose(opt.hue_to_rgb(360 * i / 4).numpy(), expected, atol=1e-4)


def test_hue_to_rgb_without_warp_is_linear_interpolation():
    expected = 0.5 * WHEEL[1] + 0.5 * WHEEL[2]
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(opt.hue_to_rgb(90, warp=False).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(opt.hue_to_rgb(360.0).numpy(), WHEEL[0], atol=1e-6)
    with pytest.raises(ValueError, match="finite"):
        opt.hue_to_rgb(float("nan"))


def _numpy_nchannels_to_rgb(x: np.ndarray, warp: bool, eps: float = 1e-4) -> np.ndarray:
    if (x < 0).any():
        x = np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=1)
    channels = x.shape[1]
    rgb = np.zeros((x.shape[0], 3, *x.shape[2:]))
    for i in range(channels):
        hue = opt.hue_to_rgb(360 * i / channels, warp=warp).double().numpy()
        rgb += x[:, i : i + 1] * hue[None, :, None, None]
    rgb += x.sum(1, keepdims=True) - x.max(1, keepdims=True)
    rgb /= eps + np.sqrt((rgb**2).sum(1, keepdims=True))
    return rgb * np.sqrt((x**2).sum(1, keepdims=True))


@pytest.mark.parametrize("warp", [True, False])
def test_nchannels_to_rgb_matches_numpy_loop(warp):
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = _numpy_nchannels_to_rgb(x.numpy(), warp)
    np.testing.assert_allclose(opt.nchannels_to_rgb(x, warp=warp).numpy(), expected, atol=1e-6)
    positive = x.abs()
    np.testing.assert_allclose(
        opt.nchannels_to_rgb(positive[0], warp=warp).numpy(),
        _numpy_nchannels_to_rgb(positive[:1].numpy(), warp),
        atol=1e-6,
    )


def _hex(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) / 255 for i in (0, 2, 4)])


def test_heatmap_anchor_colours_and_interpolation():
    weight = torch.tensor([[-1.0, -0.5, 0.0], [0.25, 1.0, 3.0]])
    heatmap = opt.weights_to_heatmap_2d(weight)
    assert heatmap.shape == (3, 2, 3)
    pixels = heatmap.permute(1, 2, 0).numpy()
    np.testing.assert_allclose(pixels[0, 0], _hex("0571b0"), atol=1e-6)
    np.testing.assert_allclose(pixels[0, 1], _hex("92c5de"), atol=1e-6)
    np.testing.assert_allclose(pixels[0, 2], _hex("f7f7f7"), atol=1e-6)
    np.testing.assert_allclose(pixels[1, 0], (_hex("f7f7f7") + _hex("f4a582")) / 2, atol=1e-6)
    np.testing.assert_allclose(pixels[1, 1], _hex("ca0020"), atol=1e-6)
    np.testing.assert_allclose(pixels[1, 2], _hex("ca0020"), atol=1e-6)


def test_heatmap_matches_numpy_interp_and_validates():
    weight = torch.linspace(-1, 1, 17).view(1, 17)
    anchors = np.array([-1, -0.5, 0, 0.5, 1])
    palette = np.stack([_hex(c) for c in ["0571b0", "92c5de", "f7f7f7", "f4a582", "ca0020"]])
    expected = np.stack([np.interp(weight.numpy()[0], anchors, palette[:, c]) for c in range(3)])
    np.testing.assert_allclose(opt.weights_to_heatmap_2d(weight)[:, 0].numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="2-D"):
        opt.weights_to_heatmap_2d(torch.zeros(3))
    with pytest.raises(ValueError, match="5 hex"):
        opt.weights_to_heatmap_2d(torch.zeros(2, 2), colors=["ffffff"])


def test_make_grid_image_layout():
    tiles = torch.arange(5.0).view(5, 1, 1, 1).expand(5, 2, 3, 4)
    grid = opt.make_grid_image(tiles, images_per_row=3, padding=1, pad_value=-1.0)
    assert grid.shape == (1, 2, (3 + 1) * 2 + 1, (4 + 1) * 3 + 1)
    assert grid[0, 0, 1, 1] == 0 and grid[0, 0, 1, 6] == 1 and grid[0, 0, 5, 6] == 4
    assert grid[0, 0, 0, 0] == -1 and grid[0, 0, 5, 11] == -1  # empty sixth cell
    listed = opt.make_grid_image([tiles[:2], tiles[2]], images_per_row=3, padding=1)
    assert listed.shape == (1, 2, 5, 16)
    with pytest.raises(ValueError, match="NCHW"):
        opt.make_grid_image(torch.zeros(3, 4))


def test_make_grid_image_scripts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated in 2.x
        scripted = torch.jit.script(opt.make_grid_image)
    tiles = torch.rand(3, 2, 4, 4)
    assert torch.equal(scripted(tiles, 2, 1, 0.5), opt.make_grid_image(tiles, 2, 1, 0.5))
    assert torch.equal(scripted([tiles[0], tiles[1:]], 4, 2, 0.0), opt.make_grid_image(tiles))


def test_save_tensor_as_image_modes(tmp_path):
    rgba = torch.rand(4, 3, 3)
    opt.save_tensor_as_image(rgba, tmp_path / "a.png")
    assert Image.open(tmp_path / "a.png").mode == "RGBA"
    batch = torch.zeros(3, 3, 4, 4)
    opt.save_tensor_as_image(batch, tmp_path / "b.png", images_per_row=2, padding=1)
    assert Image.open(tmp_path / "b.png").size == (11, 11)
    with pytest.raises(ValueError, match="nchannels_to_rgb"):
        opt.save_tensor_as_image(torch.rand(5, 3, 3), tmp_path / "c.png")
    with pytest.raises(ValueError, match="CHW or NCHW"):
        opt.show(torch.rand(3, 3))


def test_get_neuron_pos():
    assert get_neuron_pos(7, 8) == (4, 3)
    assert get_neuron_pos(7, 8, x=1, y=6) == (1, 6)
    with pytest.raises(ValueError, match=r"valid range is \[0, 7\]"):
        get_neuron_pos(7, 8, x=8)
