"""Batch norms folded into the convolution before them for a render, and undone after."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import optim as opt
from optim.optimization import FastPath, n_steps
from optim.optimization.fold_batchnorm import (
    conv_batchnorm_pairs,
    fold_tolerance,
    folded_batchnorm,
)


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Conv2d(6, 4, 1), nn.BatchNorm2d(4),
    )  # fmt: skip
    for bn in (model[1], model[4], model[7]):  # trained-looking statistics
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def _by_hand(conv: nn.Conv2d, bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """bn(conv(x)) written out in float64: (conv(x) - mean) / sqrt(var + eps) * gamma + beta."""
    y = nn.functional.conv2d(
        x.double(), conv.weight.double(), None if conv.bias is None else conv.bias.double(),
        conv.stride, conv.padding,
    )  # fmt: skip
    shape = (1, -1, 1, 1)
    normed = (y - bn.running_mean.double().view(shape)) / torch.sqrt(
        bn.running_var.double().view(shape) + bn.eps
    )
    return normed * bn.weight.double().view(shape) + bn.bias.double().view(shape)


def test_folded_conv_computes_the_pair_and_everything_is_restored():
    model = _model()
    x = torch.rand(2, 3, 10, 10)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    expected = _by_hand(model[0], model[1], x)
    with folded_batchnorm(model, x, targets=[model[7]]) as pairs:
        assert [conv for conv, _ in pairs] == [model[0], model[3]]
        assert isinstance(model[1], nn.Identity) and isinstance(model[4], nn.Identity)
        assert isinstance(model[7], nn.BatchNorm2d)  # the target's own batch norm stays
        folded = model[0](x).double()
        # float32 conv over 27 products per output: eps * 27 * magnitude of the terms
        torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)
    assert isinstance(model[1], nn.BatchNorm2d) and model[0].bias is None
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_a_target_conv_keeps_its_own_output():
    model = _model()
    pairs = conv_batchnorm_pairs(model, torch.rand(1, 3, 8, 8), targets=[model[3]])
    assert [conv for conv, _ in pairs] == [model[0]]  # model[3] is read: not folded into
    assert conv_batchnorm_pairs(model, torch.rand(1, 3, 8, 8), targets=[model[1]]) == []


def test_a_conv_output_used_elsewhere_is_not_folded():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)
            self.bn.running_mean.fill_(3.0)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y  # y itself is used again: folding would change it

    model = Shared().eval()
    x = torch.rand(1, 3, 4, 4)
    before = model(x)
    assert len(conv_batchnorm_pairs(model, x)) == 1  # structurally a pair
    with folded_batchnorm(model, x) as pairs:
        assert pairs == [] and isinstance(model.bn, nn.BatchNorm2d)  # the check refused it
        torch.testing.assert_close(model(x), before, rtol=0, atol=0)


def test_training_mode_batch_norms_are_left_alone():
    model = _model().train()
    assert conv_batchnorm_pairs(model, torch.rand(2, 3, 8, 8)) == []


def test_restored_after_an_error_inside():
    model = _model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="boom"), folded_batchnorm(model, torch.rand(1, 3, 8, 8)):
        raise RuntimeError("boom")
    assert isinstance(model[1], nn.BatchNorm2d)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_a_render_folds_reports_and_matches_the_unfolded_render():
    def render(fold: bool):
        model = _model()
        torch.manual_seed(3)
        image = opt.images.NaturalImage((16, 16))
        run = opt.InputOptimization(
            model, opt.loss.ChannelActivation(model[5], 2), image, nn.Identity()
        )
        history = run.optimize(
            n_steps(6, show_progress=False), lr=0.05, fast_path=FastPath(fold_batchnorm=fold)
        )
        return history, image().detach(), run.last_run

    history, image, report = render(True)
    plain_history, plain_image, plain_report = render(False)
    assert (report.folded_batchnorms, plain_report.folded_batchnorms) == (2, 0)
    # rounding differences only: float32 eps times the depth of two folded 3x3 convolutions
    tol = fold_tolerance()
    torch.testing.assert_close(history, plain_history, rtol=tol, atol=tol)
    torch.testing.assert_close(image, plain_image, rtol=tol, atol=tol)
    again, again_image, _ = render(True)
    assert torch.equal(again, history) and torch.equal(again_image, image)  # same seed
