"""SPEC §2.4 (loss objectives) and §2.5 (optimization and hooks), row by row.

Direction and weight objectives: a single weight or vector entry broadcasts over every
channel, as the rows' formulas (``a · w.view(1, -1, 1, 1)``) do in torch.

Oracles: the formulas written out in numpy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import optim as opt

LAYER = nn.Identity()
ACTS = torch.randn(2, 5, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
A = ACTS.numpy()


def _value(loss) -> np.ndarray:
    return loss({LAYER: ACTS}).numpy()


def test_activation_weights_single_weight():  # row: channel mode a · w.view(1, -1, 1, 1)
    got = _value(opt.loss.ActivationWeights(LAYER, torch.tensor([2.5], dtype=torch.float64)))
    np.testing.assert_array_equal(got, A * 2.5)


def test_activation_weights_single_weight_neuron_mode():  # row: a[..., y, x] · w
    loss = opt.loss.ActivationWeights(LAYER, torch.tensor([3.0], dtype=torch.float64), x=1, y=2)
    np.testing.assert_array_equal(_value(loss), A[:, :, 2, 1] * 3.0)


def test_direction_single_entry():  # row: sum over channels of vec · a
    got = _value(opt.loss.Direction(LAYER, torch.tensor([0.5], dtype=torch.float64)))
    np.testing.assert_allclose(got, (A * 0.5).sum(axis=1), rtol=1e-15)


def test_neuron_direction_single_entry_with_and_without_a_channel():
    vec = torch.tensor([2.0], dtype=torch.float64)
    whole = _value(opt.loss.NeuronDirection(LAYER, vec, x=3, y=0))
    np.testing.assert_allclose(whole[:, 0, 0], (A[:, :, 0, 3] * 2.0).sum(axis=1), rtol=1e-15)
    one = _value(opt.loss.NeuronDirection(LAYER, vec, x=3, y=0, channel_index=4))
    np.testing.assert_array_equal(one[:, 0, 0], A[:, 4, 0, 3] * 2.0)


def test_tensor_direction_single_channel():  # row: centre crop to vec's h x w, then the dot
    vec = torch.arange(4.0, dtype=torch.float64).view(1, 1, 2, 2)
    got = _value(opt.loss.TensorDirection(LAYER, vec))
    expected = (A[:, :, 1:3, 1:3] * vec.numpy()).sum(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-15)


@pytest.mark.parametrize(
    "make",
    [
        lambda: opt.loss.ActivationWeights(LAYER, torch.ones(3, dtype=torch.float64)),
        lambda: opt.loss.Direction(LAYER, torch.ones(3, dtype=torch.float64)),
        lambda: opt.loss.NeuronDirection(LAYER, torch.ones(2, dtype=torch.float64)),
        lambda: opt.loss.TensorDirection(LAYER, torch.ones(1, 3, 1, 1, dtype=torch.float64)),
    ],
)
def test_a_count_that_cannot_broadcast_is_still_an_error(make):
    with pytest.raises(ValueError, match=r"5 channels; give one (entry|weight) per channel"):
        make()({LAYER: ACTS})
