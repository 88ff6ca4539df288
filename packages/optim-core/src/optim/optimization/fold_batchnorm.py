"""Batch normalisation folded into the convolution before it, while a render runs.

A render never trains the model, so an eval-mode ``BatchNorm2d`` right after a ``Conv2d`` is a
fixed per-channel affine map, and ``bn(conv(x))`` is one convolution with weights
``w * s`` and bias ``(b - mean) * s + beta`` (``s = gamma / sqrt(var + eps)``): exact up to
float rounding, one layer less per block on the forward and the backward pass.

Pairs are found by running the model once: a batch norm whose input is the very tensor a
convolution returned. Pairs are left alone when either module is a target (its own output
must stay what it is), ran more than once, or the batch norm is in training mode. After
folding, the targets' outputs on the same input are compared with the unfolded model's; if
they differ by more than float rounding allows (a convolution output also used elsewhere),
everything is restored and the run goes on unfolded. Every change is undone on exit,
whatever the exit.

Example:
    >>> import torch, torch.nn as nn
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    >>> x = torch.rand(1, 3, 8, 8)
    >>> before = model(x)
    >>> with folded_batchnorm(model, x, targets=[model[2]]) as folded:
    ...     len(folded), type(model[1]).__name__, torch.allclose(model(x), before, atol=1e-6)
    (1, 'Identity', True)
    >>> type(model[1]).__name__
    'BatchNorm2d'
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["conv_batchnorm_pairs", "fold_tolerance", "folded_batchnorm"]

logger = logging.getLogger(__name__)

Pair = tuple[nn.Conv2d, nn.BatchNorm2d]


def conv_batchnorm_pairs(
    model: nn.Module, probe: torch.Tensor, targets: Iterable[nn.Module] = ()
) -> list[Pair]:
    """The ``(conv, batch norm)`` pairs of ``model`` that :func:`folded_batchnorm` folds, found
    by running ``model`` once on ``probe`` (no gradients), up to the last of ``targets`` (the
    modules whose outputs are read: they are not folded).

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).eval()
        >>> len(conv_batchnorm_pairs(model, torch.rand(1, 3, 4, 4)))
        1
    """
    return _probe(model, probe, list(targets))[0]


def _probe(model: nn.Module, probe: torch.Tensor, targets: list[nn.Module]) -> tuple[list, list]:
    """The foldable pairs and the targets' outputs, from one pass up to the last target."""
    if not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        return [], []  # nothing to fold: no probe run
    excluded = {id(m) for m in targets}
    produced: dict[int, nn.Conv2d] = {}  # id(output tensor) -> the conv that returned it
    calls: dict[int, int] = {}
    found: list[Pair] = []

    def on_conv(module: nn.Module, _inputs: object, output: object) -> None:
        calls[id(module)] = calls.get(id(module), 0) + 1
        if isinstance(output, torch.Tensor) and isinstance(module, nn.Conv2d):
            produced[id(output)] = module

    def on_bn(module: nn.Module, inputs: tuple[object, ...]) -> None:
        calls[id(module)] = calls.get(id(module), 0) + 1
        conv = produced.get(id(inputs[0])) if inputs else None
        if conv is not None and isinstance(module, nn.BatchNorm2d):
            found.append((conv, module))

    handles = []
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            handles.append(module.register_forward_pre_hook(on_bn))
        elif isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(on_conv))
    try:
        outputs = _outputs(model, targets, probe)  # stops after the last target
    finally:
        for handle in handles:
            handle.remove()
    pairs = [
        (conv, bn)
        for conv, bn in found
        if not bn.training
        and bn.track_running_stats
        and bn.running_mean is not None
        and calls[id(conv)] == 1
        and calls[id(bn)] == 1
        and not {id(conv), id(bn)} & excluded
    ]
    return pairs, outputs


def fold_tolerance(dtype: torch.dtype = torch.float32) -> float:
    """The relative difference folding may make: the dtype's eps times 1024 (the rounding of
    a deep stack of folded layers, each a product and a sum more or less).

    Example:
        >>> fold_tolerance() < 1.3e-4
        True
    """
    return torch.finfo(dtype).eps * 1024


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The folded weight and bias (computed in float64, stored in the conv's dtype)."""
    if bn.running_mean is None or bn.running_var is None:  # _probe keeps only such pairs
        raise ValueError(f"{bn} has no running statistics to fold.")
    variance = bn.running_var.double()
    scale = bn.weight.double() if bn.affine else torch.ones_like(variance)
    shift = bn.bias.double() if bn.affine else torch.zeros_like(scale)
    scale = scale / torch.sqrt(variance + bn.eps)
    weight = conv.weight.double() * scale.view(-1, *([1] * (conv.weight.dim() - 1)))
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    bias = (bias - bn.running_mean.double()) * scale + shift
    return weight.to(conv.weight.dtype), bias.to(conv.weight.dtype)


def _parents(model: nn.Module) -> dict[int, tuple[nn.Module, str]]:
    return {
        id(child): (parent, name)
        for parent in model.modules()
        for name, child in parent.named_children()
    }


def _outputs(model: nn.Module, targets: list[nn.Module], probe: torch.Tensor) -> list:
    from optim.hooks import collect_activations

    with torch.no_grad():
        if not targets:
            return [model(probe)]
        found = collect_activations(model, targets, probe)
        return [found[t] for t in targets]


def _agree(before: list, after: list, tolerance: float) -> bool:
    for old, new in zip(before, after, strict=True):
        if isinstance(old, tuple | list) and old:
            old, new = old[0], new[0]
        if not isinstance(old, torch.Tensor) or not isinstance(new, torch.Tensor):
            continue
        scale = old.abs().max().clamp_min(torch.finfo(old.dtype).tiny)
        if not torch.isfinite(new).all() or (new - old).abs().max() > tolerance * scale:
            return False
    return True


@contextmanager
def folded_batchnorm(
    model: nn.Module, probe: torch.Tensor, targets: Iterable[nn.Module] = ()
) -> Iterator[list[Pair]]:
    """Fold ``model``'s conv + batch-norm pairs for a while; yields the folded pairs.

    Args:
        model: the model (its batch norms in eval mode; others are left alone).
        probe: an input the model runs on: once to find the pairs, twice to check the
            ``targets``' outputs agree within :func:`fold_tolerance` (else nothing is folded).
        targets: modules whose outputs the run reads (never folded into or away).
    """
    targets = list(targets)
    if probe.is_meta:  # no values to check the folded model against
        yield []
        return
    pairs, before = _probe(model, probe, targets)
    if not pairs:
        yield []
        return
    parents = _parents(model)
    saved: list[tuple[nn.Conv2d, torch.Tensor, nn.Parameter | None, nn.Module, str, nn.Module]] = []
    try:
        with torch.no_grad():
            for conv, bn in pairs:
                parent, name = parents[id(bn)]
                weight, bias = _fold(conv, bn)
                saved.append((conv, conv.weight.data, conv.bias, parent, name, bn))
                conv.weight.data = weight
                conv.bias = nn.Parameter(bias, requires_grad=False)
                setattr(parent, name, nn.Identity())
        if _agree(before, _outputs(model, targets, probe), fold_tolerance(probe.dtype)):
            yield pairs
        else:
            logger.info("Folding batch norms changed the targets' outputs; running unfolded.")
            _restore(saved)
            saved = []
            yield []
    finally:
        _restore(saved)


def _restore(saved: list) -> None:
    for conv, weight, bias, parent, name, bn in reversed(saved):
        conv.weight.data = weight
        conv.bias = bias
        setattr(parent, name, bn)
