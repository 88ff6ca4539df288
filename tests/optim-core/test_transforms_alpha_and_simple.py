"""BlendAlpha, IgnoreAlpha, ScaleInputRange, RGBToBGR, NChannelsToRGB."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optim.image_utils import nchannels_to_rgb
from optim.transforms import (
    BlendAlpha,
    IgnoreAlpha,
    NChannelsToRGB,
    RGBToBGR,
    ScaleInputRange,
)


def test_blend_alpha_matches_numpy_formula():
    rgba = torch.rand(2, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    background = torch.rand(1, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    x, bg = rgba.numpy(), background.numpy()
    expected = x[:, 3:4] * x[:, :3] + (1 - x[:, 3:4]) * bg
    np.testing.assert_allclose(BlendAlpha(background)(rgba).numpy(), expected, rtol=1e-6)


def test_blend_alpha_random_background_is_seedable():
    rgba = torch.zeros(1, 4, 4, 4)  # alpha 0: the output is the background
    first = BlendAlpha(generator=torch.Generator().manual_seed(5))(rgba)
    second = BlendAlpha(generator=torch.Generator().manual_seed(5))(rgba)
    assert torch.equal(first, second)
    assert torch.equal(first, torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(5)))


@pytest.mark.parametrize("module", [BlendAlpha(), IgnoreAlpha()])
def test_alpha_transforms_need_four_channels(module):
    with pytest.raises(ValueError, match="4 channels"):
        module(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="4-D"):
        module(torch.rand(4, 4, 4))


def test_ignore_alpha_keeps_rgb():
    x = torch.rand(1, 4, 2, 2)
    assert torch.equal(IgnoreAlpha()(x), x[:, :3])


def test_scale_input_range_and_rgb_to_bgr():
    x = torch.rand(1, 3, 2, 2)
    assert torch.equal(ScaleInputRange(255.0)(x), x * 255.0)
    np.testing.assert_array_equal(RGBToBGR()(x).numpy(), x.numpy()[:, [2, 1, 0]])
    with pytest.raises(ValueError, match="3 channels"):
        RGBToBGR()(torch.rand(1, 4, 2, 2))


def test_nchannels_module_uses_warp_false():
    x = torch.rand(1, 5, 3, 3)
    assert torch.equal(NChannelsToRGB()(x), nchannels_to_rgb(x, warp=False))
    assert torch.equal(NChannelsToRGB(warp=True)(x), nchannels_to_rgb(x, warp=True))
