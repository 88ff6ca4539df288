"""Batch-norm folding on EfficientNet-Lite0's real weights: the same activations, then restored."""

from __future__ import annotations

import torch

import optim as opt
from optim.hooks import collect_activations, resolve_target
from optim.optimization.fold_batchnorm import folded_batchnorm

REL = 1e-5  # the bound: activations within 1e-5 relative of the unfolded model


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_folding_keeps_lite0s_activations_and_logits():
    model = opt.models.efficientnet_lite0(pretrained=True).eval()
    target = resolve_target(model, "_blocks.10")
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        before, logits = collect_activations(model, [target], x)[target], model(x)
    with folded_batchnorm(model, x, targets=[target]) as pairs:
        with torch.no_grad():
            after = collect_activations(model, [target], x)[target]
            folded_logits = model(x)
        batchnorms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    # every conv + BN pair up to _blocks.10 (stem, blocks 0-10: 1 + 3 or 2 each) is folded
    assert len(pairs) == 33 and batchnorms == 49 - 33
    assert _rel(after, before) < REL
    assert _rel(folded_logits, logits) < REL  # the blocks after the target still run unfolded
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 49
