"""Composable arithmetic, batch_index forms and sum_loss_list, on hand-computed values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import optim as opt
from optim.loss import (
    ChannelActivation,
    CompositeLoss,
    LayerActivation,
    default_loss_summarize,
    sum_loss_list,
)

LAYER_A = nn.ReLU()
LAYER_B = nn.Tanh()
# Two samples, two channels, 1x2 spatial: a[b, c] = [[1, 2], [3, 4]] + 10 * b.
ACT_A = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]], [[[11.0, 12.0]], [[13.0, 14.0]]]])
ACT_B = torch.tensor([[2.0, -4.0]])
VALUES = {LAYER_A: ACT_A, LAYER_B: ACT_B}


def test_number_ops_are_elementwise_and_keep_name_and_target():
    loss = LayerActivation(LAYER_B)
    for composite, expected in [
        (loss + 1, [[3.0, -3.0]]),
        (1 + loss, [[3.0, -3.0]]),
        (loss - 1, [[1.0, -5.0]]),
        (1 - loss, [[-1.0, 5.0]]),
        (loss * 3, [[6.0, -12.0]]),
        (3 * loss, [[6.0, -12.0]]),
        (loss / 2, [[1.0, -2.0]]),
        (8 / loss, [[4.0, -2.0]]),
        (loss**2, [[4.0, 16.0]]),
        (2**loss, [[4.0, 0.0625]]),
        (-loss, [[-2.0, 4.0]]),
        (+loss, [[2.0, -4.0]]),
        (abs(loss), [[2.0, 4.0]]),
    ]:
        assert isinstance(composite, CompositeLoss)
        assert torch.equal(composite(VALUES), torch.tensor(expected)), composite
        assert repr(composite) == "LayerActivation"
        assert composite.target is LAYER_B


def test_round_uses_decimals():
    loss = LayerActivation(LAYER_B) / 3
    assert torch.allclose(round(loss, 2)(VALUES), torch.tensor([[0.67, -1.33]]))
    assert torch.equal(round(loss)(VALUES), torch.tensor([[1.0, -1.0]]))


def test_loss_with_loss_combines_means_and_merges_targets():
    a = ChannelActivation(LAYER_A, 1)  # mean over both samples of channel 1 = (3+4+13+14)/4 = 8.5
    b = LayerActivation(LAYER_B)  # mean = -1
    assert (a + b)(VALUES).item() == pytest.approx(7.5)
    assert (a - b)(VALUES).item() == pytest.approx(9.5)
    assert (a * b)(VALUES).item() == pytest.approx(-8.5)
    assert (a / b)(VALUES).item() == pytest.approx(-8.5)
    assert (a ** (b * -0.5))(VALUES).item() == pytest.approx(8.5**0.5)
    combined = a + b - a
    assert (
        repr(combined) == "Compose(Compose(ChannelActivation, LayerActivation), ChannelActivation)"
    )
    assert combined.target == [LAYER_A, LAYER_B]
    assert sum([a, b])(VALUES).item() == pytest.approx(7.5)


def test_unsupported_operand_fails_with_hint():
    loss = LayerActivation(LAYER_A)
    with pytest.raises(TypeError, match="int, float or another Loss"):
        _ = loss + torch.ones(1)
    with pytest.raises(TypeError, match="int or a float"):
        _ = "x" / loss


@pytest.mark.parametrize(
    ("batch_index", "expected_samples"),
    [(None, [0, 1]), (0, [0]), (1, [1]), (-1, [1]), (-2, [0]), ([0, 1], [0]), ([1, 2], [1])],
)
def test_batch_index_forms(batch_index, expected_samples):
    loss = LayerActivation(LAYER_A, batch_index=batch_index)
    assert torch.equal(loss(VALUES), ACT_A[expected_samples])


def test_batch_index_minus_one_is_the_last_sample_not_empty():
    assert LayerActivation(LAYER_A, batch_index=-1).batch_index == (-1, None)
    value = ChannelActivation(LAYER_A, 0, batch_index=-1)(VALUES)
    assert torch.equal(value, torch.tensor([[[11.0, 12.0]]]))


def test_batch_index_errors():
    with pytest.raises(IndexError, match=r"selects no sample of a batch of 2; use indices in 0..1"):
        LayerActivation(LAYER_A, batch_index=5)(VALUES)
    with pytest.raises(TypeError, match=r"\[start, end\]"):
        LayerActivation(LAYER_A, batch_index=[0, 1, 2])
    with pytest.raises(TypeError, match="batch_index"):
        LayerActivation(LAYER_A, batch_index=1.5)


def test_sum_loss_list_over_500_losses():
    layers = [nn.Identity() for _ in range(5)]
    values = {layer: torch.full((2, 3), float(i)) for i, layer in enumerate(layers)}
    losses = [LayerActivation(layers[i % 5]) * (i % 7) for i in range(500)]
    total = sum_loss_list(losses)
    expected = sum(float(i % 5) * (i % 7) for i in range(500))
    assert total(values).item() == pytest.approx(expected)
    assert total.target == layers
    assert repr(total).startswith("Sum(LayerActivation, LayerActivation")
    summed = sum_loss_list([LayerActivation(layers[1])] * 3, to_scalar_fn=torch.sum)
    assert summed(values).item() == pytest.approx(18.0)


def test_sum_loss_list_validates():
    with pytest.raises(ValueError, match="empty"):
        sum_loss_list([])
    with pytest.raises(TypeError, match="item 1"):
        sum_loss_list([LayerActivation(LAYER_A), 3])


def test_default_loss_summarize_is_minus_mean():
    assert default_loss_summarize(torch.tensor([[1.0, 2.0], [3.0, 6.0]])).item() == -3.0


def test_name_targets_are_kept_and_looked_up_by_name():
    loss = opt.loss.ChannelActivation("features.10", 1) + opt.loss.L2("features.10")
    assert loss.target == ["features.10"]
    value = opt.loss.ChannelActivation("features.10", 1)({"features.10": ACT_A})
    assert torch.equal(value, ACT_A[:, 1])


def test_missing_target_value_explains():
    with pytest.raises(KeyError, match="found no output for its target"):
        LayerActivation(LAYER_A)({LAYER_B: ACT_B})


def test_bad_target_type():
    with pytest.raises(TypeError, match=r"nn\.Module, a dotted module name"):
        LayerActivation(3)
