"""CPPNImage: Lucid's coordinates-to-colour network, redrawable at any resolution."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import optim as opt
from optim.images import CPPNImage, NaturalImage


def _trained(seed: int = 0) -> CPPNImage:
    """A CPPN whose last layer is no longer zero (as after some optimisation)."""
    cppn = CPPNImage((16, 16), batch=2, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        cppn.weights[-1].normal_(0, 0.3, generator=torch.Generator().manual_seed(seed + 1))
    return cppn


def test_it_starts_as_a_flat_grey_image_and_each_batch_image_has_its_own_network():
    image = NaturalImage((16, 24), batch=2, parameterization=CPPNImage)
    pixels = image()
    assert pixels.shape == (2, 3, 16, 24)
    torch.testing.assert_close(pixels, torch.full_like(pixels, 0.5))  # sigmoid(KLT(0))
    cppn = _trained()
    drawn = cppn()
    assert drawn.shape == (2, 3, 16, 16) and not torch.allclose(drawn[0], drawn[1])


def test_the_first_layer_matches_lucids_composite_activation_by_hand():
    cppn = CPPNImage((2, 2), layers=1, hidden=1)
    with torch.no_grad():
        cppn.weights[0].copy_(torch.tensor([[[1.0, 0.0]]]))  # hidden unit = x coordinate
        cppn.weights[1].copy_(torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]))
    out = cppn.at_size((1, 2))  # x at -sqrt(3) and sqrt(3)
    x = torch.atan(torch.tensor([-math.sqrt(3), math.sqrt(3)]))
    torch.testing.assert_close(out[0, 0, 0], x / 0.67)
    torch.testing.assert_close(out[0, 1, 0], x * x / 0.6)


def test_a_redraw_sampled_back_on_the_small_grid_is_the_small_image():
    # linspace grids: pixel k of n px sits at -r + 2rk/(n-1), so bilinear sampling with
    # align_corners=True of the 4x grid lands exactly on the small grid's coordinates; what
    # remains is the interpolation error, at most (h^2 max|f_xx| + h^2 max|f_yy|) / 8, where
    # h^2 f'' is measured as the large image's second differences (x2 for that estimate).
    cppn = _trained()
    with torch.no_grad():
        small, large = cppn(), cppn.at_size((64, 64))
    back = F.interpolate(large, size=(16, 16), mode="bilinear", align_corners=True)
    d_xx = (large[..., 2:] - 2 * large[..., 1:-1] + large[..., :-2]).abs().max()
    d_yy = (large[..., 2:, :] - 2 * large[..., 1:-1, :] + large[..., :-2, :]).abs().max()
    bound = 2 * (d_xx + d_yy) / 8
    assert (back - small).abs().max() <= bound, ((back - small).abs().max(), bound)
    assert bound < 0.1 * small.abs().max()  # the bound is tight enough to mean something


def test_renders_use_it_by_name_and_natural_image_redraws_it():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    settings = dict(size=16, steps=12, lr=0.01, seed=0, transforms="none", show_progress=False)
    result = opt.render(model, "0:1", parameterization="cppn", **settings)
    assert result.history[-1] > result.history[0]
    image = NaturalImage((8, 8), parameterization=CPPNImage)
    assert image.at_size((20, 30)).shape == (1, 3, 20, 30)
    with pytest.raises(TypeError, match="cannot be redrawn"):
        NaturalImage((8, 8), parameterization=opt.images.PixelImage).at_size(16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": (8, 8), "init": torch.zeros(1, 3, 8, 8)}, "no pixels to start from"),
        ({"size": None}, "needs size"),
        ({"size": 8, "layers": 0}, "layers must be"),
        ({"size": 8, "hidden": 1.5}, "hidden must be"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        CPPNImage(**kwargs)
