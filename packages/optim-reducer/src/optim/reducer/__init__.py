"""optim.reducer (optim-reducer): channel reducers and activation atlases.

Example:
    >>> import torch
    >>> import optim as opt
    >>> reducer = opt.reducer.ChannelReducer(2, "PCA")
    >>> reducer.fit_transform(torch.rand(1, 6, 5, 5)).shape
    torch.Size([1, 2, 5, 5])
"""

from __future__ import annotations

from optim.reducer import atlas
from optim.reducer.activation_atlas import ActivationAtlas, activation_atlas
from optim.reducer.algorithms import available_reduction_algorithms, resolve_reduction_algorithm
from optim.reducer.channel_reducer import ChannelReducer
from optim.reducer.posneg import posneg

__all__ = [
    "ActivationAtlas",
    "ChannelReducer",
    "activation_atlas",
    "atlas",
    "available_reduction_algorithms",
    "posneg",
    "resolve_reduction_algorithm",
]
