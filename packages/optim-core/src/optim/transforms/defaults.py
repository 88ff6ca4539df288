"""default_transform: the augmentation ``InputOptimization`` applies when given none.

Example:
    >>> [type(m).__name__ for m in default_transform()]
    ['RandomScale', 'RandomSpatialJitter']
"""

from __future__ import annotations

from torch import nn

from optim.transforms.random_scale import RandomScale
from optim.transforms.random_spatial_jitter import RandomSpatialJitter

__all__ = ["default_transform"]


def default_transform() -> nn.Sequential:
    """A fresh ``RandomScale`` (0.95..1.05) followed by ``RandomSpatialJitter(16)``.

    Example:
        >>> default_transform()[1].translate
        16
    """
    return nn.Sequential(RandomScale(scale=(1, 0.975, 1.025, 0.95, 1.05)), RandomSpatialJitter(16))
