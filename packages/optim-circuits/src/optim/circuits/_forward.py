"""One forward pass that makes target1's output a gradient leaf and stops after target2."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from optim.hooks import ModuleOutputsHook, run_until_targets


def describe_module(model: nn.Module, module: nn.Module) -> str:
    """``"name (Type)"`` for a submodule of ``model``, ``"Type"`` for any other module."""
    for name, candidate in model.named_modules():
        if candidate is module and name:
            return f"{name} ({type(module).__name__})"
    return type(module).__name__


@dataclass
class LinkedActivations:
    """The outputs of both targets, with ``activ1`` a leaf that ``activ2`` is a function of.

    Attributes:
        activ1: target1's output, detached from what precedes it and requiring grad.
        activ2: target2's output, computed from ``activ1``.
        between: Leaf modules that ran after target1 and before target2 (only recorded
            when asked for).
    """

    activ1: torch.Tensor
    activ2: torch.Tensor
    between: list[nn.Module] = field(default_factory=list)


def forward_between(
    model: nn.Module,
    module1: nn.Module,
    module2: nn.Module,
    model_input: torch.Tensor,
    replacement: torch.Tensor | None = None,
    record_between: bool = False,
    copies: int = 1,
) -> LinkedActivations:
    """Run ``model`` on ``model_input`` and return target1's and target2's outputs.

    target1's output is replaced by a fresh leaf tensor (its own value, or ``replacement``)
    so that target2's output can be differentiated with respect to it whatever the
    ``requires_grad`` state of the parameters. With ``copies > 1`` the leaf holds that many
    copies of a batch-1 output along the batch dim, so the layers between the targets run
    on a real batch while the layers before target1 run once. The pass stops once target2
    has run. Every hook is removed before returning, on every path.

    Raises:
        ValueError: If target2 runs before target1 (or target1 does not run at all), or if
            either output is not a tensor.
    """
    state: dict[str, Any] = {"between": []}

    def make_leaf(_module: nn.Module, _inputs: Any, output: Any) -> torch.Tensor | None:
        if "activ1" in state:  # a reused module: only its first call is target1
            return None
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"target1 {describe_module(model, module1)} returned "
                f"{type(output).__name__}; expanded weights need a module returning a tensor."
            )
        source = output if replacement is None else replacement.to(output)
        if source.shape != output.shape:
            raise ValueError(
                f"replacement has shape {tuple(source.shape)}, target1 outputs "
                f"{tuple(output.shape)}."
            )
        source = source.detach()
        if copies > 1:
            source = source.expand(copies, *source.shape[1:]).contiguous()
        leaf = source.requires_grad_(True)
        state["activ1"] = leaf
        # A clone keeps in-place operations downstream (ReLU(inplace=True)) off the leaf.
        return leaf.clone()

    def record(module: nn.Module) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: Any, _output: Any) -> None:
            if "activ1" in state:
                state["between"].append(module)

        return hook

    handles = [module1.register_forward_hook(make_leaf)]
    try:
        if record_between:
            handles += [
                leaf.register_forward_hook(record(leaf))
                for leaf in model.modules()
                if next(leaf.children(), None) is None
                and leaf is not module1
                and leaf is not module2
            ]
        with torch.enable_grad(), ModuleOutputsHook([module2], stop_when_ready=True) as hook:
            outputs = run_until_targets(lambda: model(model_input), hook)
    finally:
        for handle in handles:
            handle.remove()

    if "activ1" not in state:
        raise ValueError(
            f"target2 {describe_module(model, module2)} ran before target1 "
            f"{describe_module(model, module1)} (or target1 never ran). target1 must be the "
            "earlier layer: swap the two targets."
        )
    activ2 = outputs[module2]
    if not isinstance(activ2, torch.Tensor):
        raise ValueError(
            f"target2 {describe_module(model, module2)} returned {type(activ2).__name__}; "
            "expanded weights need a module returning a tensor."
        )
    return LinkedActivations(state["activ1"], activ2, state["between"])
