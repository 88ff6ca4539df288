"""Every objective against hand-computed values or numpy references on a 1x1-conv model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import optim as opt
from optim.hooks import collect_activations
from optim.loss import (
    L1,
    L2,
    ActivationInterpolation,
    ActivationWeights,
    Alignment,
    AngledNeuronDirection,
    ChannelActivation,
    DeepDream,
    Direction,
    Diversity,
    FacetLoss,
    L2Mean,
    LayerActivation,
    NeuronActivation,
    NeuronDirection,
    TensorDirection,
    TotalVariation,
    VectorLoss,
)
from optim.plugins.builtin import OBJECTIVES


def _tiny_model() -> nn.Sequential:
    """A 1x1 conv: out0 = x0, out1 = x1, out2 = x0 - x1 + 0.5; then a ReLU."""
    conv = nn.Conv2d(2, 3, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]).view(3, 2, 1, 1))
        conv.bias.copy_(torch.tensor([0.0, 0.0, 0.5]))
    return nn.Sequential(conv, nn.ReLU())


MODEL = _tiny_model()
X = torch.arange(24, dtype=torch.float32).view(2, 2, 2, 3) / 4 - 2.0
X_NP = X.numpy()
# Numpy oracle of the conv output.
CONV_NP = np.stack([X_NP[:, 0], X_NP[:, 1], X_NP[:, 0] - X_NP[:, 1] + 0.5], axis=1)


def _values(*targets):
    return collect_activations(MODEL, list(targets), X)


def test_oracle_matches_model():
    np.testing.assert_allclose(_values("0")["0"].detach().numpy(), CONV_NP, rtol=1e-6)


def test_layer_channel_deepdream():
    values = _values("0")
    np.testing.assert_allclose(LayerActivation("0")(values).detach(), CONV_NP, rtol=1e-6)
    np.testing.assert_allclose(ChannelActivation("0", 2)(values).detach(), CONV_NP[:, 2])
    np.testing.assert_allclose(DeepDream("0", batch_index=1)(values).detach(), CONV_NP[1:] ** 2)
    # Channel 2 everywhere is x0 - x1 + 0.5 = -6/4*... : x1 - x0 = 6/4, so -1.0 at every pixel.
    assert torch.all(ChannelActivation("0", 2)(values) == -1.0)


def test_channel_activation_on_linear_output():
    layer = nn.Linear(2, 4)
    assert ChannelActivation(layer, 3)({layer: torch.arange(8.0).view(2, 4)}).tolist() == [3.0, 7.0]


def test_channel_index_out_of_range_names_the_range():
    with pytest.raises(
        IndexError, match=r"channel_index 3 .* 3 channels; the valid range is 0\.\.2"
    ):
        ChannelActivation("0", 3)(_values("0"))
    with pytest.raises(TypeError, match="channel_index must be an int"):
        ChannelActivation("0", "1")


def test_neuron_activation_x_is_column_y_is_row():
    values = _values("0")
    value = NeuronActivation("0", 1, x=2, y=0)(values)
    assert value.shape == (2, 1, 1)
    np.testing.assert_allclose(value.detach().flatten(), CONV_NP[:, 1, 0, 2])
    centre = NeuronActivation("0", 0)(values)  # H=2, W=3 -> row 1, column 1
    np.testing.assert_allclose(centre.detach().flatten(), CONV_NP[:, 0, 1, 1])
    with pytest.raises(IndexError, match=r"x=3 is outside the target's width 3; use 0\.\.2"):
        NeuronActivation("0", 0, x=3)(values)
    with pytest.raises(IndexError, match=r"y=2 is outside the target's height 2"):
        NeuronActivation("0", 0, y=2)(values)


def test_total_variation_l1_l2_by_hand():
    image = nn.Identity()
    x = torch.tensor([[[[0.0, 1.0, 3.0], [2.0, 2.0, 0.0]]]])
    # vertical |2-0| + |2-1| + |0-3| = 6 ; horizontal |1-0| + |3-1| + |2-2| + |0-2| = 5
    assert TotalVariation(image)({image: x}).item() == 11.0
    # |x - 1| = 1, 0, 2, 1, 1, 1
    assert L1(image, constant=1.0)({image: x}).item() == 6.0
    # (x - 1)^2 = 1, 0, 4, 1, 1, 1 -> sqrt(8 + 1e-6)
    assert L2(image, constant=1.0)({image: x}).item() == pytest.approx(8.000001**0.5)


def _gram_np(features):
    flat = features.reshape(features.shape[0], features.shape[1], -1)
    grams = flat @ flat.transpose(0, 2, 1)
    return grams / np.linalg.norm(grams, axis=(1, 2), keepdims=True)


def test_diversity_matches_numpy():
    rng = np.random.default_rng(0)
    acts = rng.standard_normal((3, 4, 2, 2)).astype(np.float32)
    grams = _gram_np(acts)
    expected = -sum((grams[i] * grams[j]).sum() for i in range(3) for j in range(3) if i != j) / 3
    layer = nn.Identity()
    assert Diversity(layer)({layer: torch.from_numpy(acts)}).item() == pytest.approx(
        expected, rel=1e-5
    )
    same = torch.from_numpy(np.repeat(acts[:1], 2, axis=0))
    assert Diversity(layer)({layer: same}).item() == pytest.approx(-1.0)


def test_activation_interpolation_channel_zero_is_a_channel():
    one, two = nn.Identity(), nn.Identity()
    a1 = torch.zeros(3, 2, 1, 1)
    a1[:, 0] = 1.0  # channel 0 = 1, channel 1 = 0
    a2 = torch.full((3, 2, 1, 1), 4.0)
    loss = ActivationInterpolation(one, 0, two, 1)
    # weights 0, .5, 1: (1 + .5 + 0) * 1 + (0 + .5 + 1) * 4 = 7.5
    assert loss({one: a1, two: a2}).item() == pytest.approx(7.5)
    # whole layer: mean of a1 per sample is 0.5 -> 1.5 * .5 + 1.5 * 4 = 6.75
    assert ActivationInterpolation(one, None, two, None)({one: a1, two: a2}).item() == 6.75
    assert loss.target == [one, two]
    with pytest.raises(ValueError, match="at least 2"):
        loss({one: a1[:1], two: a2[:1]})


def test_alignment_matches_numpy():
    rng = np.random.default_rng(1)
    acts = rng.standard_normal((6, 2, 3)).astype(np.float32)
    expected = -sum(
        np.mean((acts[i] - acts[i + d]) ** 2) / 3.0**d for d in range(1, 5) for i in range(6 - d)
    )
    layer = nn.Identity()
    value = Alignment(layer, decay_ratio=3.0)({layer: torch.from_numpy(acts)})
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_direction_dot_and_cosine():
    values = _values("0")
    vec = torch.tensor([1.0, -2.0, 0.5])
    expected_dot = np.einsum("bchw,c->bhw", CONV_NP, vec.numpy())
    np.testing.assert_allclose(Direction("0", vec)(values).detach(), expected_dot, rtol=1e-5)
    norms = np.linalg.norm(CONV_NP, axis=1) * np.linalg.norm(vec.numpy())
    cos = np.clip(expected_dot / norms, 0.1, None)
    np.testing.assert_allclose(
        Direction("0", vec, cossim_pow=2.0)(values).detach(), expected_dot * cos**2, rtol=1e-5
    )
    with pytest.raises(ValueError, match="vec has 2 entries but the target has 3 channels"):
        Direction("0", vec[:2])(values)


def test_neuron_direction_at_position_and_channel():
    values = _values("0")
    vec = torch.tensor([1.0, 2.0, 3.0])
    value = NeuronDirection("0", vec, x=0, y=1)(values)
    assert value.shape == (2, 1, 1)
    np.testing.assert_allclose(
        value.detach().flatten(), CONV_NP[:, :, 1, 0] @ vec.numpy(), rtol=1e-6
    )
    one_channel = NeuronDirection("0", vec, x=0, y=1, channel_index=2)(values)
    np.testing.assert_allclose(one_channel.detach().flatten(), CONV_NP[:, 2, 1, 0] * 3.0, rtol=1e-6)


def test_angled_neuron_direction():
    layer = nn.Identity()
    acts = torch.tensor([[3.0, 4.0]])
    vec = torch.tensor([1.0, 0.0])
    # dot = mean([3, 0]) = 1.5 ; cos = 1.5 / (1e-4 + 5) ; value = 1.5 * cos ** 4
    expected = 1.5 * (1.5 / (1e-4 + 5.0)) ** 4
    assert AngledNeuronDirection(layer, vec)({layer: acts}).item() == pytest.approx(expected)
    whitening = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # swaps the direction to [0, 1]
    expected_w = 2.0 * max(2.0 / (1e-4 + 5.0), 0.1) ** 4
    loss = AngledNeuronDirection(layer, vec, vec_whitened=whitening)
    assert loss({layer: acts}).item() == pytest.approx(expected_w)
    conv = torch.zeros(1, 2, 3, 3)
    conv[0, :, 1, 1] = acts[0]
    assert AngledNeuronDirection(layer, vec)({layer: conv}).item() == pytest.approx(expected)


def test_tensor_direction_centre_crop():
    values = _values("0")
    vec = torch.tensor([1.0, 0.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 2, 1).contiguous()
    # centre crop of W=3 to 1 -> column 1
    expected = CONV_NP[:, 0, :, 1:2] - CONV_NP[:, 2, :, 1:2]
    np.testing.assert_allclose(TensorDirection("0", vec)(values).detach(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="exceeds"):
        TensorDirection("0", torch.ones(1, 3, 3, 3))(values)


def test_activation_weights_three_modes():
    values = _values("0")
    weights = torch.tensor([2.0, 0.0, -1.0])
    w = weights.numpy()
    np.testing.assert_allclose(
        ActivationWeights("0", weights)(values).detach(), CONV_NP * w[None, :, None, None]
    )
    neuron = ActivationWeights("0", weights, x=2, y=1)(values)
    np.testing.assert_allclose(neuron.detach(), CONV_NP[:, :, 1, 2] * w)
    window = ActivationWeights("0", weights, x=1, y=0, wx=2, wy=1)(values)
    np.testing.assert_allclose(window.detach(), CONV_NP[:, :, 0:1, 1:3] * w[None, :, None, None])
    with pytest.raises(ValueError, match="x, y, wx and wy together"):
        ActivationWeights("0", weights, wx=2)
    with pytest.raises(TypeError, match="needs weights"):
        ActivationWeights("0")


def test_l2_mean_and_vector_loss():
    values = _values("0")
    np.testing.assert_allclose(
        L2Mean("0", channel_index=1)(values).item(), np.mean((CONV_NP[:, 1] - 0.5) ** 2), rtol=1e-6
    )
    np.testing.assert_allclose(L2Mean("0")(values).item(), np.mean((CONV_NP - 0.5) ** 2), rtol=1e-6)
    vec = torch.tensor([1.0, 2.0, -1.0])
    projected = np.einsum("bchw,c->bhw", np.maximum(CONV_NP, 0), vec.numpy())
    np.testing.assert_allclose(VectorLoss("0", vec)(values).item(), projected.mean(), rtol=1e-5)


def test_facet_loss_by_hand():
    layer, head = nn.Identity(), nn.Identity()
    x = torch.tensor([[1.0, 2.0], [3.0, 5.0]]).view(2, 2, 1, 1).expand(2, 2, 2, 2).contiguous()
    x.requires_grad_(True)
    vec = torch.tensor([1.0, -1.0])
    # head = 2 x (positive); d mean_hw(relu(head) @ vec) / d x_c = 2 vec_c / 4
    # attr summed over HW = x_c * relu(2 vec_c / 4) * 4 = 2 x_c relu(vec_c) -> channel 0 only
    weights = torch.tensor([[3.0, 7.0]])
    values = {layer: x, head: 2 * x}
    assert FacetLoss(vec, head, layer, weights)(values).item() == pytest.approx((2 + 6) * 3)
    # strength [1, 3] over the batch: sample 0 x1, sample 1 x3
    scaled = FacetLoss(vec, head, layer, weights, strength=[1.0, 3.0])(values)
    assert scaled.item() == pytest.approx(2 * 3 + 6 * 3 * 3)
    assert FacetLoss(vec, head, layer, weights, batch_index=1)(values).item() == pytest.approx(18)


def test_every_registered_objective_is_exported():
    exported = set(opt.loss.__all__)
    for name, (target, _) in OBJECTIVES.items():
        module_name, attr = target.split(":")
        assert module_name == "optim.loss" and attr in exported, name
        assert opt.plugins.get("objectives", name) is getattr(opt.loss, attr)
