"""Image transforms for transformation robustness and colour handling.

Example:
    >>> import torch
    >>> from optim import transforms
    >>> transforms.TransformationRobustness()(torch.rand(1, 3, 32, 32)).dim()
    4
"""

from __future__ import annotations

from optim.transforms.alpha import BlendAlpha, IgnoreAlpha
from optim.transforms.center_crop import CenterCrop, center_crop
from optim.transforms.defaults import default_transform
from optim.transforms.fused_transformation_robustness import (
    AffineParameters,
    FusedTransformationRobustness,
)
from optim.transforms.gaussian_smoothing import GaussianSmoothing
from optim.transforms.nchannels_to_rgb import NChannelsToRGB
from optim.transforms.random_crop import RandomCrop
from optim.transforms.random_rotation import RandomRotation
from optim.transforms.random_scale import RandomScale
from optim.transforms.random_scale_affine import RandomScaleAffine
from optim.transforms.random_spatial_jitter import RandomSpatialJitter
from optim.transforms.simple import RGBToBGR, ScaleInputRange
from optim.transforms.symmetric_padding import SymmetricPadding
from optim.transforms.to_rgb import ToRGB
from optim.transforms.transformation_robustness import TransformationRobustness

__all__ = [
    "AffineParameters",
    "BlendAlpha",
    "CenterCrop",
    "FusedTransformationRobustness",
    "GaussianSmoothing",
    "IgnoreAlpha",
    "NChannelsToRGB",
    "RGBToBGR",
    "RandomCrop",
    "RandomRotation",
    "RandomScale",
    "RandomScaleAffine",
    "RandomSpatialJitter",
    "ScaleInputRange",
    "SymmetricPadding",
    "ToRGB",
    "TransformationRobustness",
    "center_crop",
    "default_transform",
]
