"""opt.accentuate on a tiny hand-built model whose target is a known function of the pixels."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import optim as opt

NO_TRANSFORM = nn.Sequential()


def _redness_model() -> nn.Sequential:
    """Channel 0 of layer "0" is R - (G + B) / 2 at every pixel; layer "2" is a smoothing."""
    model = nn.Sequential(nn.Conv2d(3, 1, 1), nn.ReLU(), nn.Conv2d(1, 1, 3, padding=1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([1.0, -0.5, -0.5]).view(1, 3, 1, 1))
        model[0].bias.zero_()
        model[2].weight.fill_(1 / 9)
        model[2].bias.zero_()
    return model.eval()


def _redness(image: torch.Tensor) -> float:
    image = image.reshape(3, *image.shape[-2:])
    return float((image[0] - (image[1] + image[2]) / 2).mean())


def _seed() -> torch.Tensor:
    # In [0.05, 0.95]: no clamping, so the parameterization reproduces it exactly.
    return 0.05 + 0.9 * torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0))


def _rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.reshape(b.shape) - b).pow(2).mean().sqrt())


def _round_trip_bound(seed: torch.Tensor) -> float:
    """The largest relative distance float32 rounding alone puts between the seed and the
    image that starts at it.

    The image is sigmoid(KLT @ irfft2(rfft2(KLT^-1 @ logit(seed)))). In L2 norm, each FFT is
    off by at most about log2(n) u of its input (u = eps / 2) and each 3x3 colour mix or
    elementwise function by a few u; the two colour mixes carry the error through
    cond(KLT); the sigmoid shrinks it by its slope, at most 1/4, and the distance divides by
    |seed| rather than |logit(seed)|. Doubled (eps, not u) for the margin.
    """
    klt = opt.transforms.ToRGB.klt_transform().double()
    logits = torch.logit(seed.double())
    n = seed.shape[-1] * seed.shape[-2]
    roundings = 4 * math.log2(n) + 10  # two FFTs, two colour mixes, logit, sigmoid
    size_ratio = float(logits.norm() / seed.double().norm())
    relative = 0.25 * size_ratio * float(torch.linalg.cond(klt)) * roundings + 2
    return relative * torch.finfo(torch.float32).eps


def test_starts_exactly_at_the_seed():
    seed = _seed()
    _, history = opt.accentuate(
        _redness_model(), "0", seed, 0, steps=2, transform=NO_TRANSFORM, show_progress=False
    )
    assert history["distance"][0] < _round_trip_bound(seed)  # measured before the first update
    assert history["distance"][1] > 100 * _round_trip_bound(seed)  # one update moves it


def test_raises_the_target_and_keeps_close_to_the_seed_unlike_an_unconstrained_run():
    seed = _seed()
    kwargs = dict(steps=40, lr=0.05, transform=NO_TRANSFORM, show_progress=False)
    accentuated, history = opt.accentuate(
        _redness_model(), "0", seed, 0, regularization_weight=0.5, **kwargs
    )
    unconstrained, _ = opt.accentuate(
        _redness_model(), "0", seed, 0, regularization_weight=0.0, **kwargs
    )
    assert _redness(accentuated) > _redness(seed) + 0.05  # independent pixel-space oracle
    assert history["target"][-1] > history["target"][0]
    assert _rms(accentuated, seed) < 0.5 * _rms(unconstrained, seed)
    assert torch.allclose(
        history["objective"], history["target"] - 0.5 * history["distance"], atol=1e-6
    )


def test_layer_regularisation_and_hooks_are_removed():
    model = _redness_model()
    image, history = opt.accentuate(
        model,
        model[2],
        _seed(),
        0,
        regularization_layer="1",
        steps=5,
        transform=NO_TRANSFORM,
        show_progress=False,
    )
    assert image.shape == (1, 3, 24, 24) and 0 <= float(image.min()) <= float(image.max()) <= 1
    assert {k: v.shape for k, v in history.items()} == {
        "target": (5,),
        "distance": (5,),
        "objective": (5,),
    }
    assert all(not m._forward_hooks for m in model.modules())


def test_a_loss_target_and_default_transforms():
    torch.manual_seed(0)
    loss = opt.loss.ChannelActivation("0", 0, batch_index=0)
    image, history = opt.accentuate(_redness_model(), loss, _seed(), steps=3, show_progress=False)
    assert image.shape == (1, 3, 24, 24) and history["target"].shape == (3,)


def test_errors_say_what_to_fix():
    model, seed = _redness_model(), _seed()
    with pytest.raises(ValueError, match="no submodule named 'O'"):
        opt.accentuate(model, "O", seed, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        opt.accentuate(model, "0", seed * 255, 0)
    with pytest.raises(ValueError, match="one RGB image"):
        opt.accentuate(model, "0", torch.rand(2, 3, 8, 8), 0)
    with pytest.raises(ValueError, match="channel_index only applies"):
        opt.accentuate(model, opt.loss.LayerActivation("0"), seed, 0)
    with pytest.raises(ValueError, match="regularization_weight"):
        opt.accentuate(model, "0", seed, 0, regularization_weight=-1.0)


def test_channel_out_of_range_names_the_valid_range_and_leaves_no_hooks():
    model = _redness_model()
    with pytest.raises(IndexError, match=r"valid range is 0\.\.0"):
        opt.accentuate(model, "0", _seed(), 3, steps=1, transform=NO_TRANSFORM, show_progress=False)
    assert all(not m._forward_hooks for m in model.modules())


def test_same_seed_is_bitwise_equal_and_leaves_the_callers_rng_alone():
    kwargs = dict(steps=6, lr=0.05, regularization_layer="1", show_progress=False)
    kwargs["transform"] = opt.transforms.TransformationRobustness(translate=(2, 2))
    model, image = _redness_model(), _seed()
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first = opt.accentuate(model, "2", image, 0, seed=7, **kwargs)
    after = torch.rand(3)
    second = opt.accentuate(model, "2", image, 0, seed=7, **kwargs)
    other = opt.accentuate(model, "2", image, 0, seed=8, **kwargs)
    assert torch.equal(before, after)  # the render drew from its own, seeded RNG
    assert torch.equal(first.image, second.image)
    for name in ("target", "distance", "objective"):
        assert torch.equal(first.history[name], second.history[name])
    assert not torch.equal(first.image, other.image)  # the seed reaches the transforms
    with pytest.raises(ValueError, match="seed must be a whole number"):
        opt.accentuate(_redness_model(), "2", _seed(), 0, seed=-1, **kwargs)
