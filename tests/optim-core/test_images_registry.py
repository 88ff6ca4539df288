"""Every parameterization and transform is registered under a snake_case name."""

from __future__ import annotations

import re

import pytest
import torch

import optim as opt
from optim import images, transforms

EXPECTED_PARAMETERIZATIONS = {
    "natural_image": images.NaturalImage,
    "fft_image": images.FFTImage,
    "pixel_image": images.PixelImage,
    "laplacian_image": images.LaplacianImage,
    "simple_tensor": images.SimpleTensorParameterization,
    "shared_image": images.SharedImage,
    "stack_image": images.StackImage,
}


@pytest.mark.parametrize(("name", "cls"), sorted(EXPECTED_PARAMETERIZATIONS.items()))
def test_parameterizations_registered(name, cls):
    assert opt.plugins.get("parameterizations", name) is cls


TRANSFORM_MODULES = sorted(
    name
    for name in transforms.__all__
    if isinstance(getattr(transforms, name), type)
    and issubclass(getattr(transforms, name), torch.nn.Module)
)


def test_transform_modules_found():
    assert len(TRANSFORM_MODULES) == 15


@pytest.mark.parametrize("name", TRANSFORM_MODULES)
def test_every_transform_module_is_registered(name):
    obj = getattr(transforms, name)
    registered = {opt.plugins.get("transforms", n) for n in opt.plugins.names("transforms")}
    assert obj in registered


def test_registered_names_are_snake_case_with_descriptions():
    for kind in ("parameterizations", "transforms"):
        for entry in opt.plugins.entries(kind):
            assert re.fullmatch(r"[a-z][a-z0-9_]*", entry.name)
            assert entry.description
