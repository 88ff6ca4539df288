"""Model preparation utilities: make any PyTorch model renderable and inspectable.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from optim.model_utils import RedirectedReluLayer, get_model_layers, replace_layers
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    >>> replace_layers(model, nn.ReLU, RedirectedReluLayer)
    >>> get_model_layers(model)
    ['0', '1']
"""

from __future__ import annotations

from optim.model_utils.conv2d_same import Conv2dSame, same_padding
from optim.model_utils.layers import get_model_layer_shapes, get_model_layers
from optim.model_utils.maxpool_relaxed import MaxPool2dRelaxed
from optim.model_utils.redirected_relu import RedirectedReLU, RedirectedReluLayer
from optim.model_utils.replace_layers import replace_layers
from optim.model_utils.skip_layers import SkipLayer, skip_layers

__all__ = [
    "Conv2dSame",
    "MaxPool2dRelaxed",
    "RedirectedReLU",
    "RedirectedReluLayer",
    "SkipLayer",
    "get_model_layer_shapes",
    "get_model_layers",
    "replace_layers",
    "same_padding",
    "skip_layers",
]
