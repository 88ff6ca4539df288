"""One optimisation run of a render: ``InputOptimization`` with a shared progress bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from optim.optimization import FastPath

__all__ = ["evaluate_objective", "optimize"]


def optimize(
    model: nn.Module,
    objective: Any,
    image: nn.Module,
    transforms: nn.Module,
    *,
    steps: int,
    lr: float,
    progress: tqdm | None = None,
    summarize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    fast_path: FastPath | None = None,
) -> torch.Tensor:
    """Optimise ``image`` for ``steps`` Adam steps; returns the summarised value per step.

    Hooks live only inside ``InputOptimization.optimize`` and are removed on every exit path.

    Example:
        >>> optimize(model, loss, image, transforms, steps=8, lr=0.05)  # doctest: +SKIP
    """
    from optim.optimization import InputOptimization, NSteps

    run = InputOptimization(model, objective, image, transforms)
    with torch.enable_grad():  # renders need gradients even inside a caller's no_grad()
        history = run.optimize(
            stop_criteria=NSteps(steps, show_progress=False, progress=progress),
            loss_summarize_fn=summarize,
            lr=lr,
            fast_path=fast_path,
        )
    return torch.as_tensor(history).detach().cpu().as_subclass(torch.Tensor)


def evaluate_objective(
    model: nn.Module, objective: Any, images: torch.Tensor
) -> torch.Tensor | None:
    """The objective's value on ``images`` fed straight to the model (no transforms).

    Returns ``None`` when the objective reads something other than the model's layers (an
    image parameterization, a transform), which this plain forward pass does not produce.

    Example:
        >>> evaluate_objective(model, loss, image())  # doctest: +SKIP
        tensor([[3.1, ...]])
    """
    from optim.hooks import collect_activations
    from optim.hooks.targets import flatten_targets

    targets = flatten_targets(objective.target)
    modules = set(model.modules())
    if not targets or any(isinstance(t, nn.Module) and t not in modules for t in targets):
        return None
    with torch.no_grad():
        activations = collect_activations(model, targets, images)
        return objective(activations).detach().cpu().as_subclass(torch.Tensor)
