"""Forward hooks, target resolution and activation collection.

Example:
    >>> import torch, torch.nn as nn
    >>> from optim.hooks import collect_activations
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
    >>> collect_activations(model, "1", torch.zeros(1, 3, 8, 8))["1"].shape
    torch.Size([1, 4, 8, 8])
"""

from __future__ import annotations

from optim.hooks.activations import collect_activations, model_device
from optim.hooks.output_hook import (
    ActivationFetcher,
    ModuleOutputMapping,
    ModuleOutputsHook,
    TargetsReached,
    run_until_targets,
)
from optim.hooks.targets import Target, flatten_targets, resolve_target, resolve_targets
from optim.hooks.validation import check_channel_index, check_dims

__all__ = [
    "ActivationFetcher",
    "ModuleOutputMapping",
    "ModuleOutputsHook",
    "Target",
    "TargetsReached",
    "check_channel_index",
    "check_dims",
    "collect_activations",
    "flatten_targets",
    "model_device",
    "resolve_target",
    "resolve_targets",
    "run_until_targets",
]
