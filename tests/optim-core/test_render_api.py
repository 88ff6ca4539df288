"""opt.render and opt.render_layer on a tiny model defined here."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

import optim as opt

SIZE = 32
STEPS = 8


def tiny_net() -> nn.Module:
    """conv1 (8 ch, 32 px) -> relu1 -> conv2 (16 ch, 15 px) -> relu2 -> pool -> fc."""
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 8, 3, padding=1),
            relu1=nn.ReLU(),
            conv2=nn.Conv2d(8, 16, 3, stride=2),
            relu2=nn.ReLU(),
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            fc=nn.Linear(16, 10),
        )
    )
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return model.eval()


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return tiny_net()


def _render(model, target="conv2:3", **kwargs):
    settings = {
        "size": SIZE,
        "steps": STEPS,
        "seed": 1,
        "show_progress": False,
        "transforms": opt.transforms.RandomSpatialJitter(3),
        **kwargs,
    }
    return opt.render(model, target, **settings)


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_render_raises_the_target_channel(model):
    result = _render(model, "conv1:2", steps=24)
    assert result.images.shape == (1, 3, SIZE, SIZE)
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert result.history.shape == (24,)
    assert result.history[-1] > result.history[0]
    # The final objective is measured independently of the loop: conv1 channel 2 on the image.
    with torch.no_grad():
        expected = model.conv1(result.images)[:, 2].mean()
        initial = _render(model, "conv1:2", steps=1)
    assert result.final_objective == pytest.approx(float(expected), rel=1e-5)
    assert result.final_objective > initial.final_objective
    assert _no_hooks(model)


def test_same_seed_is_bitwise_reproducible_and_leaves_global_rng_alone(model):
    state = torch.get_rng_state()
    first, second = _render(model), _render(model)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.history, second.history)
    assert not torch.equal(first.images, _render(model, seed=2).images)


def test_seed_is_drawn_and_recorded_when_not_given(model):
    drawn = _render(model, seed=None)
    assert isinstance(drawn.seed, int) and drawn.settings["seed"] == drawn.seed
    assert torch.equal(_render(model, seed=drawn.seed).images, drawn.images)


def test_neuron_target_and_loss_target(model):
    neuron = _render(model, "conv2:5:1:13", transforms="transformation_robustness", steps=4)
    assert neuron.settings["transforms_keep_size"]
    assert neuron.settings["target"] == "conv2:5:1:13"
    with torch.no_grad():
        expected = model.relu1(model.conv1(neuron.images))
        expected = model.conv2(expected)[0, 5, 13, 1]  # x is the column, y the row
    assert neuron.final_objective == pytest.approx(float(expected), rel=1e-5)

    loss = opt.loss.ChannelActivation(model.conv2, 1) - opt.loss.ChannelActivation(model.conv2, 2)
    combined = _render(model, loss, batch=2, parameterization="pixel_image", transforms="none")
    assert combined.images.shape == (2, 3, SIZE, SIZE)
    assert combined.history[-1] > combined.history[0]


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("conv3:0", ValueError, "Closest valid names: 'conv2'"),
        ("conv2:16", ValueError, "has 16 channels: use 0..15"),
        ("conv2:0:15:0", ValueError, r"use x in 0..14 and y in 0..14"),
        ("fc:0:0:0", ValueError, "needs a 4-D"),
        ("conv2:zero", ValueError, "whole number"),
        (3, TypeError, "target must be"),
    ],
)
def test_bad_targets_fail_before_optimising(model, target, error, message):
    with pytest.raises(error, match=message):
        _render(model, target)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps must be a whole number >= 1"),
        ({"size": 4}, "at least 8 px"),
        ({"lr": -1.0}, "lr must be a positive"),
        ({"seed": -3}, "seed must be a whole number"),
        ({"parameterization": "fft_imag"}, "Did you mean: fft_image"),
        ({"transforms": "jitter"}, "No transforms named 'jitter'"),
        ({"transforms": "random_spatial_jitter"}, "cannot be built without arguments"),
    ],
)
def test_bad_settings_are_explained(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _render(model, **kwargs)


def test_hooks_are_removed_when_the_objective_fails(model):
    class Exploding(opt.loss.BaseLoss):
        def __call__(self, targets_to_values):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _render(model, Exploding(model.conv2))
    assert _no_hooks(model)


def _layer(model, channels, batch_size, **settings):
    return opt.render_layer(
        model, "conv2", channels, batch_size=batch_size, size=SIZE, steps=STEPS, seed=4,
        show_progress=False, **settings,
    )  # fmt: skip


def test_render_layer_channel_depends_on_its_seed_not_on_its_batch(model):
    channels = [0, 3, 5, 9, 12]
    layer = _layer(model, channels, 2, transforms=opt.transforms.RandomSpatialJitter(3))
    assert layer.batches == [[0, 3], [5, 9], [12]]
    assert layer.images.shape == (5, 3, SIZE, SIZE)
    assert layer.history.shape == (STEPS, 5)
    assert torch.equal(layer.image(9), layer.images[3:4])
    # Other neighbours, other slots, other batch sizes: the same render, up to float32
    # summation order (the bound: objectives within 1e-4 relative).
    for other in (
        _layer(model, [12, 9, 0, 5, 3], 2, transforms=opt.transforms.RandomSpatialJitter(3)),
        _layer(model, channels, 1, transforms=opt.transforms.RandomSpatialJitter(3)),
        _layer(model, channels, 4, transforms=opt.transforms.RandomSpatialJitter(3)),
    ):
        for channel in channels:
            mine, theirs = layer.channels.index(channel), other.channels.index(channel)
            a, b = layer.final_objectives[mine], other.final_objectives[theirs]
            assert abs(a - b) <= 1e-4 * abs(a), (channel, a, b)
            gap = (layer.image(channel) - other.image(channel)).abs().max().item()
            assert gap < 1 / 255, f"channel {channel}: max pixel difference {gap:.2e}"
    # Every channel starts from its own noise: the images differ between channels.
    assert not torch.allclose(layer.image(0), layer.image(3), atol=0.05)
    assert _no_hooks(model)


def test_render_layer_defaults_to_every_channel(model):
    layer = opt.render_layer(
        model, "conv1", size=SIZE, steps=2, seed=0, transforms="none", show_progress=False
    )
    assert layer.channels == list(range(8)) and layer.batches == [list(range(8))]
    assert layer.settings["batch_size"] == 8 and layer.settings["layer"] == "conv1"


@pytest.mark.parametrize(
    ("channels", "error", "message"),
    [
        ([0, 8], ValueError, "has 8 channels: use 0..7"),
        ([1, 1], ValueError, "more than once"),
        ([], ValueError, "channels is empty"),
        (3, TypeError, "for one channel write"),
    ],
)
def test_render_layer_channel_errors(model, channels, error, message):
    with pytest.raises(error, match=message):
        opt.render_layer(model, "conv1", channels, size=SIZE, steps=1, show_progress=False)


def test_render_layer_rejects_unknown_layer(model):
    with pytest.raises(ValueError, match="Closest valid names: 'conv2', 'conv1'"):
        opt.render_layer(model, "conv", size=SIZE, steps=1, show_progress=False)


@pytest.mark.parametrize("shape", [(3, 6, 5, 4), (3, 6)])
def test_render_layer_gathers_each_slots_channel_like_channel_activation(shape):
    from optim.loss import ActivationLayout
    from optim.rendering.layer_render import _slots_objective
    from optim.rendering.objective import LayerView

    layer = nn.Identity()
    values = {layer: torch.randn(shape, dtype=torch.float64)}
    channels = [4, 0, 5]
    view = LayerView("layer", layer, shape, ActivationLayout())
    gathered = _slots_objective(view, channels, None)(values)
    reference = torch.stack(
        [
            opt.loss.ChannelActivation(layer, c, batch_index=slot)(values).mean()
            for slot, c in enumerate(channels)
        ]
    )
    assert gathered.shape == (3,)
    torch.testing.assert_close(gathered, reference, rtol=1e-12, atol=0)
    named = _slots_objective(view, channels, "channel_activation")(values)
    torch.testing.assert_close(named, reference, rtol=1e-12, atol=0)


def test_render_layer_same_seed_is_bitwise_equal_and_records_its_spec(model):
    settings = dict(size=SIZE, steps=3, seed=9, batch_size=2, show_progress=False)
    first = opt.render_layer(model, "conv2", [2, 7, 11], **settings)
    second = opt.render_layer(model, "conv2", [2, 7, 11], **settings)
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.history, second.history)
    assert first.spec == opt.rendering.RenderSpec(
        model=first.spec.model, target="conv2", channels=(2, 7, 11), size=SIZE, steps=3,
        seed=9, batch_size=2, device="cpu", objective="channel_activation",
    )  # fmt: skip
    assert first.spec.model.startswith("python:")  # a Python model object: not rebuildable
    assert not first.spec.rebuildable and first.ran["cuda_graph"] is False


@pytest.mark.parametrize(
    ("call", "extra"),
    [
        (opt.render, {"steps": 3}),
        (opt.render, {"seed": 2}),
        (opt.render, {"fast_path": opt.optimization.FastPath.off()}),
        (opt.render_layer, {"channels": [1]}),
        (opt.render_layer, {"transforms": "none"}),
    ],
)
def test_settings_beside_a_spec_are_refused_not_ignored(model, call, extra):
    spec = opt.rendering.RenderSpec(target="conv2", channels=(0,), size=SIZE, steps=1)
    if call is opt.render:
        spec = spec.replace(target="conv2:1", channels=None)
    name = next(iter(extra))
    with pytest.raises(TypeError, match=rf"got a RenderSpec and also {name}"):
        call(model, spec, **extra)
