"""Top connections and connection heatmaps on hand-built expanded weights."""

from __future__ import annotations

import pytest
import torch

import optim as opt
from optim.circuits import connection_heatmap, connections_by_norm, strongest_connections


def _weights() -> torch.Tensor:
    """[2, 5, 2, 2] weights; net (summed) weights into channel 1: [4, -2, 0, 1, -6]."""
    weights = torch.zeros(2, 5, 2, 2)
    weights[1, 0] = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    weights[1, 1] = torch.tensor([[-1.0, -1.0], [0.0, 0.0]])
    weights[1, 2] = torch.tensor([[3.0, -3.0], [0.0, 0.0]])  # net 0, large norm
    weights[1, 3] = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    weights[1, 4] = torch.tensor([[-3.0, -3.0], [0.0, 0.0]])
    weights[0] = 10.0  # another output channel must not leak into channel 1's ranking
    return weights


def test_strongest_connections_by_sign() -> None:
    top = strongest_connections(_weights(), channel=1, k=2)
    assert top.channel == 1
    assert top.positive.tolist() == [0, 3]
    assert top.positive_strength.tolist() == [4.0, 1.0]
    assert top.negative.tolist() == [4, 1]
    assert top.negative_strength.tolist() == [-6.0, -2.0]


def test_strongest_connections_keeps_only_signed_channels() -> None:
    top = strongest_connections(_weights(), channel=1, k=10)
    assert top.positive.tolist() == [0, 3]  # channel 2 nets to zero: neither list
    assert top.negative.tolist() == [4, 1]


def test_connections_by_norm_is_unsigned() -> None:
    # norms: ch0 2, ch1 sqrt2, ch2 sqrt18, ch3 1, ch4 sqrt18 -> ties broken by topk.
    ranked = connections_by_norm(_weights(), channel=1, k=3)
    assert set(ranked[:2].tolist()) == {2, 4} and ranked[2].item() == 0


def test_connection_errors_give_valid_ranges() -> None:
    with pytest.raises(ValueError, match=r"use 0\.\.1"):
        strongest_connections(_weights(), channel=2)
    with pytest.raises(ValueError, match="k must be a positive int"):
        connections_by_norm(_weights(), channel=0, k=0)
    with pytest.raises(ValueError, match=r"\[C2, C1, H, W\]"):
        strongest_connections(torch.zeros(3), channel=0)


def test_heatmap_normalises_by_the_output_channels_maximum() -> None:
    weights = _weights()
    heatmap = connection_heatmap(weights, 1, 4)
    # Channel 1's largest weight is 3, so the kernel [[-3, -3], [0, 0]] maps to [[-1, -1], [0, 0]].
    expected = opt.weights_to_heatmap_2d(torch.tensor([[-1.0, -1.0], [0.0, 0.0]]))[None]
    torch.testing.assert_close(heatmap, expected)
    assert heatmap.shape == (1, 3, 2, 2)


def test_heatmap_upscales_with_nearest_pixels_and_handles_non_positive_maxima() -> None:
    weights = -torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)  # all negative: scale by |max| = 4
    heatmap = connection_heatmap(weights, 0, 0, size=4)
    base = opt.weights_to_heatmap_2d(weights[0, 0] / 4)
    torch.testing.assert_close(
        heatmap[0], base.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
    )
    zeros = connection_heatmap(torch.zeros(1, 1, 2, 2), 0, 0)
    torch.testing.assert_close(zeros, opt.weights_to_heatmap_2d(torch.zeros(2, 2))[None])
    with pytest.raises(ValueError, match=r"in_channel 1 is out of range: use 0\.\.0"):
        connection_heatmap(weights, 0, 1)
