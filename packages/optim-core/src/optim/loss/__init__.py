"""Composable objectives for feature visualization.

Every objective maps ``{target: activation}`` to an unreduced tensor and combines with
numbers and other objectives through ``+ - * / **``, ``-``, ``abs`` and ``round``. Targets
are modules or dotted names from ``model.named_modules()``.

Example:
    >>> import optim as opt
    >>> loss = opt.loss.ChannelActivation("features.10", 3) - 0.1 * opt.loss.L2("features.10")
    >>> loss.target
    ['features.10']
"""

from __future__ import annotations

from optim.loss.activation import (
    ChannelActivation,
    DeepDream,
    LayerActivation,
    NeuronActivation,
)
from optim.loss.base import BaseLoss, CompositeLoss, Loss, module_op, rmodule_op
from optim.loss.clip import FacetLoss, L2Mean, VectorLoss
from optim.loss.direction import (
    AngledNeuronDirection,
    Direction,
    NeuronDirection,
    TensorDirection,
)
from optim.loss.diversity import ActivationInterpolation, Alignment, Diversity
from optim.loss.layout import ActivationLayout, LayoutView
from optim.loss.regularizers import L1, L2, TotalVariation
from optim.loss.summing import default_loss_summarize, sum_loss_list
from optim.loss.weights import ActivationWeights

__all__ = [
    "ActivationInterpolation",
    "ActivationLayout",
    "ActivationWeights",
    "Alignment",
    "AngledNeuronDirection",
    "BaseLoss",
    "ChannelActivation",
    "CompositeLoss",
    "DeepDream",
    "Direction",
    "Diversity",
    "FacetLoss",
    "L1",
    "L2",
    "L2Mean",
    "LayerActivation",
    "LayoutView",
    "Loss",
    "NeuronActivation",
    "NeuronDirection",
    "TensorDirection",
    "TotalVariation",
    "VectorLoss",
    "default_loss_summarize",
    "module_op",
    "rmodule_op",
    "sum_loss_list",
]
