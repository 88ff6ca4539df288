"""optim.circuits (optim-circuits): expanded weights between non-adjacent layers.

Example:
    >>> import torch, torch.nn as nn
    >>> import optim as opt
    >>> _ = torch.manual_seed(0)  # the layers' random weights decide the counts below
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 5, 3))
    >>> weights = opt.circuits.extract_expanded_weights(
    ...     model, model[0], model[1], model_input=torch.zeros(1, 3, 9, 9))
    >>> opt.circuits.strongest_connections(weights, channel=0, k=2).positive.shape
    torch.Size([2])
"""

from __future__ import annotations

from optim.circuits.connections import (
    ChannelConnections,
    connections_by_norm,
    strongest_connections,
)
from optim.circuits.expanded_weights import extract_expanded_weights
from optim.circuits.heatmap import connection_heatmap
from optim.circuits.linearity import LinearityReport, NonlinearPathWarning, probe_linearity

__all__ = [
    "ChannelConnections",
    "LinearityReport",
    "NonlinearPathWarning",
    "connection_heatmap",
    "connections_by_norm",
    "extract_expanded_weights",
    "probe_linearity",
    "strongest_connections",
]
