"""Spatial transforms against numpy references: jitter, centre crop, scale, rotation, crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optim.transforms import (
    CenterCrop,
    RandomCrop,
    RandomRotation,
    RandomScale,
    RandomScaleAffine,
    RandomSpatialJitter,
    center_crop,
)


def _image(*shape: int) -> torch.Tensor:
    return torch.arange(float(np.prod(shape))).view(shape)


# --- RandomSpatialJitter ------------------------------------------------------------------


def test_translate_tensor_matches_numpy_reflect_pad_and_crop():
    x = torch.rand(2, 3, 7, 6, generator=torch.Generator().manual_seed(0))
    jitter = RandomSpatialJitter(2)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    for left in range(5):
        for top in range(5):
            expected = padded[..., top : top + 7, left : left + 6]
            np.testing.assert_array_equal(jitter.translate_tensor(x, (left, top)).numpy(), expected)


def test_jitter_draws_every_shift_in_symmetric_range():
    x = torch.rand(1, 1, 8, 8)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    windows = {
        (left, top): padded[..., top : top + 8, left : left + 8]
        for left in range(3)
        for top in range(3)
    }
    jitter = RandomSpatialJitter(1, generator=torch.Generator().manual_seed(0))
    seen = set()
    for _ in range(60):
        out = jitter(x).numpy()
        matches = [k for k, w in windows.items() if np.array_equal(w, out)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == set(windows)


def test_jitter_zero_is_identity_and_large_translate_fails():
    x = torch.rand(1, 3, 4, 4)
    assert torch.equal(RandomSpatialJitter(0)(x), x)
    with pytest.raises(ValueError, match="lower translate"):
        RandomSpatialJitter(4)(x)
    with pytest.raises(ValueError, match="non-negative int"):
        RandomSpatialJitter(-1)


# --- center_crop ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "size", "rows", "cols"),
    [
        ((5, 5), 3, slice(1, 4), slice(1, 4)),
        ((6, 6), 3, slice(1, 4), slice(1, 4)),
        ((6, 7), (2, 4), slice(2, 4), slice(1, 5)),
        ((6, 6), [4], slice(1, 5), slice(1, 5)),
    ],
)
def test_center_crop_matches_slices(shape, size, rows, cols):
    x = _image(1, 2, *shape)
    np.testing.assert_array_equal(center_crop(x, size).numpy(), x.numpy()[..., rows, cols])
    np.testing.assert_array_equal(center_crop(x[0], size).numpy(), x[0].numpy()[..., rows, cols])


def test_center_crop_offset_left_moves_uneven_crop():
    x = _image(1, 1, 6, 6)
    np.testing.assert_array_equal(
        center_crop(x, 3, offset_left=True).numpy(), x.numpy()[..., 2:5, 2:5]
    )


def test_center_crop_pixels_from_edges():
    x = _image(1, 1, 8, 8)
    np.testing.assert_array_equal(
        center_crop(x, 2, pixels_from_edges=True).numpy(), x.numpy()[..., 1:7, 1:7]
    )
    with pytest.raises(ValueError, match="remove fewer"):
        center_crop(x, 8, pixels_from_edges=True)


def test_center_crop_pads_like_numpy_when_larger():
    x = _image(1, 1, 3, 4)
    out = center_crop(x, (6, 7), padding_value=-1.0)
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 2), (1, 2)), constant_values=-1.0)
    np.testing.assert_array_equal(out.numpy(), expected)
    reflected = center_crop(x, (5, 6), padding_mode="reflect")
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    np.testing.assert_array_equal(reflected.numpy(), expected)


def test_center_crop_module_and_bad_sizes():
    x = _image(1, 1, 6, 6)
    assert torch.equal(CenterCrop(4)(x), center_crop(x, 4))
    for bad in [(1, 2, 3), "4", -1]:
        with pytest.raises(ValueError, match="size"):
            center_crop(x, bad)
    with pytest.raises(ValueError, match="CHW or NCHW"):
        center_crop(torch.zeros(4, 4), 2)


# --- RandomScale / RandomScaleAffine ---------------------------------------------------


def test_random_scale_nearest_doubling_repeats_pixels():
    x = torch.rand(1, 2, 3, 4)
    out = RandomScale([2.0], mode="nearest")(x)
    expected = x.numpy().repeat(2, axis=2).repeat(2, axis=3)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_random_scale_changes_size_and_draws_from_list():
    x = torch.rand(1, 3, 20, 20)
    scale = RandomScale([0.5, 1.0, 1.5], generator=torch.Generator().manual_seed(0))
    sizes = {scale(x).shape[-1] for _ in range(40)}
    assert sizes == {10, 20, 30}


def test_random_scale_distribution_and_validation():
    x = torch.rand(1, 3, 10, 10)
    torch.manual_seed(0)
    out = RandomScale(torch.distributions.Uniform(0.5, 0.6))(x)
    assert out.shape[-1] in (5, 6)
    with pytest.raises(ValueError, match="mode"):
        RandomScale([1.0], mode="linear")
    with pytest.raises(ValueError, match="positive"):
        RandomScale([0.0])
    with pytest.raises(ValueError, match="at least one"):
        RandomScale([])


def test_random_scale_affine_identity_and_zoom_out_padding():
    x = torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(RandomScaleAffine([1.0])(x), x)
    zoomed_out = RandomScaleAffine([2.0])(torch.ones(1, 1, 8, 8))
    assert zoomed_out.shape == (1, 1, 8, 8)
    assert zoomed_out[0, 0, 0, 0] == 0 and zoomed_out[0, 0, 4, 4] == 1


# --- RandomRotation ----------------------------------------------------------------------


def test_rotation_by_90_degrees_matches_numpy_rot90():
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    out = RandomRotation([90.0])(x)
    np.testing.assert_allclose(out.numpy(), np.rot90(x.numpy(), 1, axes=(2, 3)), atol=1e-10)


@pytest.mark.parametrize("align_corners", [False, True])
def test_rotation_of_a_non_square_image_is_rigid(align_corners):
    """The central square of an 8x12 image turns like a square image (np.rot90), and a
    radially symmetric image stays the same at any angle (the unscaled matrix shears it)."""
    x = torch.rand(1, 2, 8, 12, dtype=torch.float64)
    rotate = RandomRotation([90.0], align_corners=align_corners)
    out = rotate(x)
    expected = np.rot90(x[..., 2:10].numpy(), 1, axes=(2, 3))
    np.testing.assert_allclose(out[..., 2:10].numpy(), expected, atol=1e-10)

    rows = torch.arange(40, dtype=torch.float64)[:, None] - 19.5
    columns = torch.arange(80, dtype=torch.float64)[None, :] - 39.5
    disk = torch.exp(-(rows**2 + columns**2) / 40.0).expand(1, 1, 40, 80)  # ~1e-4 at edges
    turned = RandomRotation([30.0], align_corners=align_corners)(disk)
    assert (turned - disk).abs().max() < 0.02  # bilinear error 0.01; sheared 0.26


def test_rotation_zero_is_identity_and_validation():
    x = torch.rand(1, 3, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(RandomRotation([0.0])(x), x)
    with pytest.raises(ValueError, match="padding_mode"):
        RandomRotation([1.0], padding_mode="wrap")
    with pytest.raises(ValueError, match="4-D"):
        RandomRotation([1.0])(torch.rand(3, 5, 5))


# --- RandomCrop ---------------------------------------------------------------------------


def test_random_crop_returns_wrapped_window():
    x = _image(1, 1, 6, 6)
    tiled = np.tile(x.numpy(), (1, 1, 2, 2))
    windows = [tiled[..., r : r + 4, c : c + 4] for r in range(6) for c in range(6)]
    crop = RandomCrop(4, generator=torch.Generator().manual_seed(0))
    for _ in range(10):
        out = crop(x).numpy()
        assert out.shape == (1, 1, 4, 4)
        assert any(np.array_equal(out, w) for w in windows)


def test_random_crop_larger_than_input_fails():
    with pytest.raises(ValueError, match="larger than the input"):
        RandomCrop(8)(torch.rand(1, 1, 4, 4))
